"""README.md stays in step with the code: the actions' inputs and outputs, the two commands, the commands list."""

from __future__ import annotations

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


def test_every_command_is_described() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in COMMANDS:
        if name in {"config", "start", "status", "snapshot", "sandbox", "monitor", "drill"}:
            continue
        assert f"hotfix {name}" in readme or f"`{name}`" in readme, name
