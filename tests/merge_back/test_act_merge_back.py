"""actions/merge-back run by act: git over HTTP with the token in a header, the API through the emulator."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

import pytest

from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.e2e.actkit import export_tree, run_act
from tests.github_emulator.fixtures import REPOSITORY, TOKEN
from tests.gitrepos import Repo, git
from tests.merge_back.helpers import project

pytestmark = pytest.mark.act

WORKFLOW = """\
name: merge-back
on: push
permissions: {}
jobs:
  merge-back:
    runs-on: ubuntu-latest
    permissions:
      contents: write
      pull-requests: write
      issues: write
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          fetch-depth: 0
          persist-credentials: false
      - uses: hotfix-actions/hotfix-actions/actions/merge-back@v1
        id: merge
        continue-on-error: true
        with:
          github-token: ${{ secrets.HOTFIX_TOKEN }}
      - name: Record outputs
        shell: bash
        env:
          COMPLETE: ${{ steps.merge.outputs.complete }}
          TAG: ${{ steps.merge.outputs.tag }}
          PENDING: ${{ steps.merge.outputs.pending }}
          OUTCOME: ${{ steps.merge.outcome }}
          RESULT_FILE: ${{ env.RESULT_FILE }}
        run: printf 'complete=%s\\ntag=%s\\noutcome=%s\\npending=%s\\n' "$COMPLETE" "$TAG" "$OUTCOME" "$PENDING" > "$RESULT_FILE"
"""


def test_merge_back_action_under_act(tmp_path: Path, emulator: GitHubEmulator) -> None:
    origin, work, branch = project(tmp_path, develop_change={"src/app.py": "def handler():\n    return 'develop'\n"})
    work.git("switch", "-q", "main")
    (work.path / ".github" / "workflows").mkdir(parents=True)
    (work.path / ".github" / "workflows" / "merge-back.yml").write_text(WORKFLOW)
    work.commit({}, "ci: merge-back workflow")
    work.git("push", "-q", "origin", "main")
    work.git("switch", "-q", branch)
    work.git("merge", "-q", "main", "-m", "chore: take the workflow")
    work.git("push", "-q", "origin", branch)
    emulator.add_repo(REPOSITORY, git_dir=origin)
    header = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    auth = {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{emulator.url}/.extraheader",
        "GIT_CONFIG_VALUE_0": header,
    }
    checkout = tmp_path / "checkout"
    subprocess.run(
        ["git", "clone", "-q", "--branch", branch, emulator.git_url(REPOSITORY), str(checkout)],
        env={**os.environ, **auth},
        check=True,
    )
    results = tmp_path / "results.txt"
    run = run_act(
        Repo(checkout).path,
        workflow=".github/workflows/merge-back.yml",
        action_tree=export_tree(tmp_path / "action-tree"),
        tool_cache=Path(os.environ["HOTFIX_TEST_TOOL_CACHE"]),
        env={
            "RESULT_FILE": str(results),
            "GITHUB_API_URL": emulator.api_url,
            "GITHUB_SERVER_URL": emulator.url,
            "GITHUB_REPOSITORY": REPOSITORY,
            "HOTFIX_GITHUB_WRITE_INTERVAL": "0",
        },
        secrets={"HOTFIX_TOKEN": TOKEN},
    )
    assert run.returncode == 0, run.output[-4000:]
    got = dict(line.split("=", 1) for line in results.read_text().splitlines() if "=" in line)
    assert (got["complete"], got["tag"], got["outcome"]) == ("false", "v1.0.1", "success"), run.output[-4000:]
    state = emulator.repo(REPOSITORY)
    ((number, pr),) = state.pulls.items()
    assert (pr["head"], pr["base"]) == ("merge-back/1.0.1-into-develop", "develop")
    assert f"/pull/{number}" in got["pending"]
    assert git(origin, "rev-parse", "v1.0.1^{commit}") == git(origin, "rev-parse", "main")
    assert TOKEN not in run.output
    assert base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode() not in run.output
