from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotfix_actions.cli import cli
from hotfix_actions.config import load, schema
from hotfix_actions.config.validate import ValidateConfig
from hotfix_actions.errors import ConfigError


def test_absent_default_file_means_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path / ".hotfix.yml")
    assert cfg.path is None
    v = cfg.section(ValidateConfig)
    assert (v.size.max_files, v.size.max_lines) == (20, 400)
    assert "**/migrations/**" in v.risky_paths


def test_values_override_defaults_and_are_frozen(tmp_path: Path) -> None:
    f = tmp_path / ".hotfix.yml"
    f.write_text("version: 1\nvalidate:\n  size:\n    max_files: 5\n  risky_paths: ['infra/**']\n")
    v = load(f).section(ValidateConfig)
    assert v.size.max_files == 5 and v.size.max_lines == 400
    assert v.risky_paths == ("infra/**",)
    with pytest.raises(AttributeError):
        v.size.max_files = 7  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "line", "key", "fix"),
    [
        ("validate:\n  size:\n    max_files: [1\n", 4, None, "fix the YAML syntax"),
        ("validate:\n  size:\n    max_file: 5\n", 3, "validate.size.max_file", "remove it or use one of"),
        ("validate:\n  size:\n    max_files: many\n", 3, "validate.size.max_files", "e.g. max_files: 20"),
        ("valdate:\n  x: 1\n", 1, "valdate", "remove it or use one of"),
        ("validate:\n  commits:\n    types: []\n", 3, "validate.commits.types", "e.g. types: [fix]"),
        ("repository:\n  remote: 'a b'\n", 2, "repository.remote", "e.g. remote: origin"),
        ("- a\n- b\n", 1, None, "start with"),
    ],
)
def test_bad_config_names_file_line_key_and_fix(
    tmp_path: Path, text: str, line: int, key: str | None, fix: str
) -> None:
    f = tmp_path / "conf.yml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(f, required=True)
    err = info.value
    assert err.file == str(f)
    assert err.line == line
    assert err.key == key
    assert fix in (err.fix or "")
    assert str(f) in str(err) and f":{line}" in str(err)


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "nope.yml", required=True)


def test_schema_command_prints_the_composed_schema() -> None:
    result = CliRunner().invoke(cli, ["config", "schema"])
    assert result.exit_code == 0
    doc = json.loads(result.output)
    assert doc == schema()
    assert doc["additionalProperties"] is False
    assert {"validate", "repository"} <= set(doc["properties"])


def test_show_prints_effective_config_and_config_errors_exit_2(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".hotfix.yml").write_text("validate:\n  max_top_level_dirs: 9\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["config", "show", "--repo", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    effective = json.loads(json.loads(result.stdout)["outputs"]["config"])
    assert effective["validate"]["max_top_level_dirs"] == 9
    assert effective["repository"]["production_branch"] == "main"
    bad = tmp_path / "bad.yml"
    bad.write_text("validate:\n  max_top_level_dirs: -1\n")
    result = runner.invoke(cli, ["config", "show", "--repo", str(tmp_path)], env={"HOTFIX_CONFIG": str(bad)})
    assert result.exit_code == 2
    assert f"{bad}:2: key 'validate.max_top_level_dirs'" in result.output
