"""`hotfix config fetch`: the configuration comes from the trusted ref, not from the hotfix branch under test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotfix_actions.cli import cli
from hotfix_actions.config import load
from hotfix_actions.config.validate import ValidateConfig
from tests.conftest import read_outputs
from tests.gitrepos import Repo, git, hotfix_branch, make_project

TRUSTED = "validate:\n  max_top_level_dirs: 7\n  risky_paths: ['**/.hotfix.yml', 'db/**']\n"
BRANCH_COPY = "validate:\n  max_top_level_dirs: 99\n  risky_paths: []\n"


def checkout_like_actions(origin: Path, dest: Path, branch: str) -> Repo:
    """What actions/checkout gives: one branch, one commit, no other refs."""
    git(
        dest.parent, "clone", "-q", "--depth", "1", "--single-branch", "--branch", branch, f"file://{origin}", str(dest)
    )
    return Repo(dest)


def project(tmp_path: Path, trusted: str | None = TRUSTED) -> tuple[Path, Repo, str]:
    origin, work = make_project(tmp_path)
    if trusted is not None:
        work.commit({".hotfix.yml": trusted}, "chore: configuration")
        work.git("push", "-q", "origin", "main")
    branch = hotfix_branch(work, files={".hotfix.yml": BRANCH_COPY, "src/app.py": "y\n"})
    return origin, checkout_like_actions(origin, tmp_path / "ci", branch), branch


def fetch(repo: Repo, *args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(cli, ["config", "fetch", "--json", "--repo", str(repo.path), *args])
    lines = result.stdout.strip().splitlines()
    return result.exit_code, json.loads(lines[-1]) if lines else {}, result.output


def test_the_default_branchs_copy_wins_over_the_branch_under_test(tmp_path: Path) -> None:
    _, ci, _ = project(tmp_path)
    assert "99" in (ci.path / ".hotfix.yml").read_text()  # the checkout holds the branch's own copy
    out = tmp_path / "trusted.yml"
    code, doc, output = fetch(ci, "--output", str(out))
    assert code == 0, output
    assert load(out).section(ValidateConfig).max_top_level_dirs == 7
    assert doc["outputs"]["config"] == str(out) and doc["outputs"]["config-ref"] == "main"  # type: ignore[index]
    assert len(doc["outputs"]["config-sha"]) == 40  # type: ignore[index,arg-type]


@pytest.mark.parametrize("ref", ["main", "sha"])
def test_a_named_ref_or_sha(tmp_path: Path, ref: str) -> None:
    origin, ci, branch = project(tmp_path)
    chosen = git(origin, "rev-parse", "main") if ref == "sha" else ref
    code, _, output = fetch(ci, "--ref", chosen, "--output", str(tmp_path / "t.yml"))
    assert code == 0, output
    assert load(tmp_path / "t.yml").section(ValidateConfig).max_top_level_dirs == 7


def test_no_file_on_the_trusted_ref_means_the_defaults_not_the_branchs(tmp_path: Path) -> None:
    _, ci, _ = project(tmp_path, trusted=None)
    code, doc, output = fetch(ci, "--output", str(tmp_path / "t.yml"))
    assert code == 0, output
    assert "the defaults apply" in doc["reasons"][0]  # type: ignore[index]
    assert load(tmp_path / "t.yml").section(ValidateConfig) == ValidateConfig()


def test_a_broken_trusted_configuration_stops_the_job(tmp_path: Path) -> None:
    _, ci, _ = project(tmp_path, trusted="validate:\n  max_top_level_dirs: many\n")
    code, doc, _ = fetch(ci, "--output", str(tmp_path / "t.yml"))
    assert code == 2 and "max_top_level_dirs" in doc["reasons"][0]  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--ref", "--upload-pack=touch /tmp/x"], "config-ref"),
        (["--ref", "main..x"], "config-ref"),
        (["--path", "../secrets.yml"], "'..'"),
        (["--path", "/etc/passwd"], "relative path"),
    ],
)
def test_bad_refs_and_paths_are_refused_before_git_runs(tmp_path: Path, args: list[str], words: str) -> None:
    _, ci, _ = project(tmp_path)
    code, doc, output = fetch(ci, *args)
    assert code == 2, output
    assert words in doc["reasons"][0]  # type: ignore[index]


def test_validate_with_the_trusted_configuration_flags_the_changed_config(tmp_path: Path, gha: dict[str, Path]) -> None:
    """End to end as the workflow runs it: fetch, then validate with the fetched file. The branch's copy would have
    emptied risky_paths; the trusted one flags the change to .hotfix.yml."""
    _, ci, branch = project(tmp_path)
    code, doc, output = fetch(ci, "--output", str(tmp_path / "t.yml"))
    assert code == 0, output
    result = CliRunner().invoke(
        cli, ["validate", "--repo", str(ci.path), "--branch", branch, "--config", str(tmp_path / "t.yml")]
    )
    assert read_outputs(gha["output"])["needs-approval"] == "true", result.output
