"""README.md stays in step with the code: the actions' inputs and outputs, the two commands, the commands list."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from hotfix_actions.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[1]


def test_action_reference_matches_every_action_yml() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "action_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    readme = (ROOT / "README.md").read_text()
    for path in [ROOT / "action.yml", *ROOT.glob("actions/*/action.yml")]:
        doc = yaml.safe_load(path.read_text())
        for name in [*(doc.get("inputs") or {}), *(doc.get("outputs") or {})]:
            assert f"| `{name}` |" in readme, f"{path}: {name} missing from README.md"


def test_readme_gives_the_two_commands_and_they_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "scripts/demo" in readme and "scripts/test" in readme
    for script in ("demo", "test"):
        assert (ROOT / "scripts" / script).stat().st_mode & 0o111
    assert "exec scripts/test" in (ROOT / ".ci" / "run").read_text()
    assert "hotfix demo" in (ROOT / "scripts" / "demo").read_text()


def parts_table(readme: str) -> str:
    start = readme.index("| command (action) | what it does |")
    return readme[start : readme.index("\n\n", start)]


def test_every_command_and_action_is_in_the_table() -> None:
    """The table of parts names every command (drill and monitor were missing) and every action."""
    table = parts_table((ROOT / "README.md").read_text())
    rows = [line for line in table.splitlines() if line.startswith("| `hotfix")]
    for name in COMMANDS:
        assert any(f"`hotfix {name}`" in row or f", `{name}`" in row for row in rows), f"{name} missing"
    for action in sorted(p.parent.name for p in ROOT.glob("actions/*/action.yml")):
        assert f"`{action}`" in table, f"action {action} missing"
    assert "the root action" in table


def test_the_table_says_what_rollback_really_does_about_snapshots() -> None:
    """The "snapshot first" claim holds: without --snapshot-dir it snapshots into the folder the table names."""
    from hotfix_actions.commands.rollback import default_snapshot_dir

    row = next(
        line
        for line in parts_table((ROOT / "README.md").read_text()).splitlines()
        if line.startswith("| `hotfix rollback`")
    )
    assert "snapshot first" in row
    assert default_snapshot_dir({"RUNNER_TEMP": "/runner/tmp", "HOME": "/h"}) == "/runner/tmp/hotfix-snapshots"
    assert "`$RUNNER_TEMP/hotfix-snapshots`" in row
    assert default_snapshot_dir({"HOME": "/h"}) == "/h/.local/state/hotfix-actions/snapshots"
    assert "`~/.local/state/hotfix-actions/snapshots`" in row


def test_the_config_error_example_is_what_the_tool_prints(tmp_path: Path) -> None:
    from hotfix_actions.config import load
    from hotfix_actions.errors import ConfigError

    readme = (ROOT / "README.md").read_text()
    shown = next(line for line in readme.splitlines() if line.startswith(".hotfix.yml:3: key 'validate.size.max_file'"))
    (tmp_path / ".hotfix.yml").write_text("validate:\n  size:\n    max_file: 5\n")
    cwd = Path.cwd()
    try:
        os.chdir(tmp_path)
        load(".hotfix.yml", required=True)
    except ConfigError as exc:
        assert str(exc) == shown
    else:
        raise AssertionError("the example is not refused")
    finally:
        os.chdir(cwd)


def test_the_demo_time_is_stated_with_its_measurement() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "about a minute" not in readme
    assert "75.5 s and 75.9 s" in readme and "2.3 minutes" in readme
