"""actions/validate-hotfix run by act on a sample repository, its outputs read back by a later step."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.actkit import run_act
from tests.gitrepos import clone, hotfix_branch, make_project

pytestmark = pytest.mark.act

WORKFLOW = """\
name: validate
on: push
permissions: {}
jobs:
  validate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - uses: hotfix-actions/hotfix-actions/actions/validate-hotfix@v1
        id: check
        continue-on-error: true
      - name: Record outputs
        shell: bash
        env:
          VALID: ${{ steps.check.outputs.valid }}
          VERSION: ${{ steps.check.outputs.version }}
          TAG: ${{ steps.check.outputs.tag }}
          SEVERITY: ${{ steps.check.outputs.severity }}
          APPROVAL: ${{ steps.check.outputs.needs-approval }}
          REASONS: ${{ steps.check.outputs.reasons }}
          OUTCOME: ${{ steps.check.outcome }}
          RESULT_FILE: ${{ env.RESULT_FILE }}
        run: |
          printf 'valid=%s\\nversion=%s\\ntag=%s\\nseverity=%s\\napproval=%s\\noutcome=%s\\nreasons=%s\\n' \\
            "$VALID" "$VERSION" "$TAG" "$SEVERITY" "$APPROVAL" "$OUTCOME" "$REASONS" > "$RESULT_FILE"
"""


def _results(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_validate_hotfix_action_under_act(tmp_path: Path, action_tree: Path, tool_cache: Path) -> None:
    origin, work = make_project(tmp_path)
    work.git("switch", "-q", "main")
    (work.path / ".github" / "workflows").mkdir(parents=True)
    (work.path / ".github" / "workflows" / "validate.yml").write_text(WORKFLOW)
    work.commit({}, "ci: validate hotfix branches")
    work.git("tag", "-f", "-a", "v1.0.0", "-m", "release")
    work.git("push", "-q", "-f", "origin", "main", "v1.0.0")
    branch = hotfix_branch(work, files={"src/app.py": "fixed\n", "db/migrations/0002.sql": "alter table t;\n"})
    checkout = clone(origin, tmp_path / "checkout", branch=branch)

    results = tmp_path / "results.txt"
    run = run_act(
        checkout.path,
        workflow=".github/workflows/validate.yml",
        action_tree=action_tree,
        tool_cache=tool_cache,
        env={"RESULT_FILE": str(results)},
    )
    assert run.returncode == 0, run.output[-4000:]
    got = _results(results)
    assert got["valid"] == "true", run.output[-4000:]
    assert (got["version"], got["tag"], got["severity"]) == ("1.0.1", "v1.0.1", "high")
    assert got["approval"] == "true"
    assert "db/migrations/0002.sql" in got["reasons"]
    assert "hotfix-actions 1.0.0 (" in run.output

    # A bad branch: the same action rejects it, exit 1, and says why.
    bad = hotfix_branch(work, version="1.0.3", slug="skip")
    checkout_bad = clone(origin, tmp_path / "checkout-bad", branch=bad)
    run = run_act(
        checkout_bad.path,
        workflow=".github/workflows/validate.yml",
        action_tree=action_tree,
        tool_cache=tool_cache,
        env={"RESULT_FILE": str(results)},
    )
    got = _results(results)
    assert got["valid"] == "false" and got["outcome"] == "failure"
    assert "1.0.3 skips 2 version(s): a hotfix of v1.0.0 must be 1.0.1" in got["reasons"]
    # a later job gets a fresh environment from the wheels the first kept (never the first job's environment)
    assert "(warm," in run.output
