"""Under act: the configuration comes from the trusted ref, and `args` cannot move the token.

A hotfix branch that rewrites .hotfix.yml to clear its risky paths is still flagged, because the job reads the
default branch's configuration (`config fetch`, as .github/workflows/hotfix.yml does); a caller that interpolates
an input into the root action's `args` cannot have a newline in it send the token elsewhere (the "elsewhere" is a
local echo server, which must see no request).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.actkit import run_act
from tests.echo_server import EchoServer
from tests.gitrepos import clone, hotfix_branch, make_project

pytestmark = pytest.mark.act

WORKFLOW = """\
name: trust
on:
  workflow_dispatch:
    inputs:
      environment: {type: string, default: production}
permissions: {}
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          persist-credentials: false
      - name: Configuration from the trusted ref
        id: trusted
        uses: hotfix-actions/hotfix-actions@v1
        with:
          command: config fetch
      - uses: hotfix-actions/hotfix-actions/actions/validate-hotfix@v1
        id: check
        continue-on-error: true
        with:
          config: ${{ steps.trusted.outputs.config }}
      - name: A caller interpolating an input into args
        id: hostile
        continue-on-error: true
        uses: hotfix-actions/hotfix-actions@v1
        with:
          command: deployment last-successful
          args: --environment=${{ inputs.environment }}
          github-token: not-a-real-token-0123456789
      - name: Record outputs
        shell: bash
        env:
          APPROVAL: ${{ steps.check.outputs.needs-approval }}
          CONFIG: ${{ steps.trusted.outputs.config }}
          HOSTILE: ${{ steps.hostile.outcome }}
          RESULT_FILE: ${{ env.RESULT_FILE }}
        run: printf 'approval=%s\\nconfig=%s\\nhostile=%s\\n' "$APPROVAL" "$CONFIG" "$HOSTILE" > "$RESULT_FILE"
"""


def test_trusted_configuration_and_args_under_act(tmp_path: Path, action_tree: Path, tool_cache: Path) -> None:
    origin, work = make_project(tmp_path)  # main has no .hotfix.yml: the defaults (which flag .hotfix.yml)
    work.git("switch", "-q", "main")
    (work.path / ".github" / "workflows").mkdir(parents=True)
    (work.path / ".github" / "workflows" / "trust.yml").write_text(WORKFLOW)
    work.commit({}, "ci: trust checks")
    work.git("tag", "-f", "-a", "v1.0.0", "-m", "release")
    work.git("push", "-q", "-f", "origin", "main", "v1.0.0")
    branch = hotfix_branch(work, files={"src/app.py": "fixed\n", ".hotfix.yml": "validate:\n  risky_paths: []\n"})
    checkout = clone(origin, tmp_path / "checkout", branch=branch)
    server = EchoServer()
    try:
        event = tmp_path / "event.json"
        event.write_text(json.dumps({"inputs": {"environment": f"production\n--github-api-url={server.url}"}}))
        results = tmp_path / "results.txt"
        run = run_act(
            checkout.path,
            event="workflow_dispatch",
            workflow=".github/workflows/trust.yml",
            action_tree=action_tree,
            tool_cache=tool_cache,
            env={"RESULT_FILE": str(results), "GITHUB_REPOSITORY": "acme/shop"},
            event_path=event,
        )
        assert run.returncode == 0, run.output[-4000:]
        got = dict(line.split("=", 1) for line in results.read_text().splitlines())
        assert got["approval"] == "true", run.output[-4000:]  # the branch's own copy would have said false
        assert got["config"].endswith("trusted.hotfix.yml")
        assert got["hostile"] == "failure"
        assert "--github-api-url cannot be given through the action's args" in run.output
        assert server.requests == []
    finally:
        server.stop()
