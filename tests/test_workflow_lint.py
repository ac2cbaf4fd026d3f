"""Every workflow and action: zizmor (pedantic) and actionlint report nothing, and the house rules hold."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTIONS = sorted(ROOT.glob("actions/*/action.yml")) + ([ROOT / "action.yml"] if (ROOT / "action.yml").exists() else [])
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml")) + sorted(
    (ROOT / "examples" / "workflows").glob("*.yml")
)
ALL = ACTIONS + WORKFLOWS
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
# Our reusable workflows use the actions of their own release by its major tag (see .github/zizmor.yml).
SAME_RELEASE = re.compile(r"^hotfix-actions/hotfix-actions(/actions/[a-z-]+|/\.github/workflows/[a-z]+\.yml)?@v1$")
EXAMPLES = ROOT / "examples"


def _tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found, f"{name} is not installed (scripts/test installs it)"
    return found


def test_zizmor_pedantic_reports_nothing() -> None:
    targets = [str(ROOT / "actions"), str(ROOT / ".github"), str(ROOT / "examples")] + (
        [str(ROOT / "action.yml")] if (ROOT / "action.yml").exists() else []
    )
    proc = subprocess.run(
        [_tool("zizmor"), "--pedantic", "--offline", *targets], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout


def test_actionlint_reports_nothing() -> None:
    proc = subprocess.run(
        [_tool("actionlint"), *map(str, WORKFLOWS)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _steps(doc: dict) -> list[dict]:  # type: ignore[type-arg]
    steps = list((doc.get("runs") or {}).get("steps") or [])
    for job in (doc.get("jobs") or {}).values():
        steps += job.get("steps") or []
    return steps


def _pinned(path: Path, uses: str) -> bool:
    if uses.startswith("./") or PINNED.match(uses):
        return True
    if path.is_relative_to(EXAMPLES):
        # caller templates (the e2e tests run them as they are): they must tell the user to pin by SHA
        return bool(SAME_RELEASE.match(uses)) and "Pin the reusable workflow by commit SHA" in path.read_text()
    return path in WORKFLOWS and bool(SAME_RELEASE.match(uses))


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_expression_inside_run_and_every_uses_pinned(path: Path) -> None:
    text = path.read_text()
    assert "zizmor: ignore" not in text, f"{path}: disable zizmor findings only in .github/zizmor.yml, with a reason"
    doc = yaml.safe_load(text)
    for step in _steps(doc):
        if "run" in step:
            assert "${{" not in step["run"], f"{path}: expression inside run: {step.get('name')}"
        uses = step.get("uses")
        if uses:
            assert _pinned(path, uses), f"{path}: {uses} is not pinned by a 40-hex SHA"
    for job in (doc.get("jobs") or {}).values():
        uses = job.get("uses")
        if uses:
            assert _pinned(path, uses), f"{path}: {uses} is not pinned by a 40-hex SHA"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_start_with_no_permissions(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    assert doc.get("permissions") == {}, f"{path.name}: set `permissions: {{}}` at the top, grant per job"


@pytest.mark.parametrize("path", ACTIONS, ids=lambda p: str(p.relative_to(ROOT)))
def test_actions_are_thin_faces_over_the_cli(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    steps = doc["runs"]["steps"]
    assert doc["runs"]["using"] == "composite"
    assert any("action-setup.sh" in (s.get("run") or "") for s in steps), f"{path}: set up the package first"
    assert any(re.search(r"\bhotfix\b|action-run\.sh", s.get("run") or "") for s in steps), (
        f"{path}: one `hotfix <verb>` call"
    )
