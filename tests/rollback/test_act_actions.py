"""actions/promote and actions/emergency-rollback run by act against the sandbox: inputs through env, a base64
kubeconfig from a secret (masked), a bad deploy with the real kubectl in between, outputs read back by a later step."""

from __future__ import annotations

import base64
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.testing import kubectl as kubectl_bin
from tests.e2e.actkit import ACTION_REPO, act_binary, act_process, export_tree
from tests.gitrepos import git
from tests.kube.kubefix import BAD, GOOD, GOOD2, NS, deployment, image_of

pytestmark = pytest.mark.act

WORKFLOW = """\
name: release
on: push
permissions: {}
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - uses: hotfix-actions/hotfix-actions/actions/promote@v1
        id: promote
        with:
          deployment: web
          namespace: default
          image: registry.example/web:1.1
          version: 1.1.0
          kubeconfig: ${{ secrets.KUBECONFIG_B64 }}
          upload-snapshot: "false"
      - name: A bad deploy from elsewhere
        shell: bash
        env:
          KUBECONFIG: ${{ env.SANDBOX_KUBECONFIG }}
        run: $KUBECTL set image deployment/web web=registry.example/web:bad
      - uses: hotfix-actions/hotfix-actions/actions/emergency-rollback@v1
        id: rollback
        with:
          deployment: web
          namespace: default
          strategy: auto
          severity: high
          reason: "INC-42 error rate"
          kubeconfig: ${{ secrets.KUBECONFIG_B64 }}
          snapshot-dir: ${{ env.SNAPSHOTS }}
          artifact-name: rollback-snapshot
      - uses: hotfix-actions/hotfix-actions/actions/emergency-rollback@v1
        id: again
        with:
          deployment: web
          kubeconfig: ${{ secrets.KUBECONFIG_B64 }}
          upload-snapshot: "false"
      - name: Record outputs
        shell: bash
        env:
          PROMOTED: ${{ steps.promote.outputs.revision }}
          VERDICT: ${{ steps.rollback.outputs.verdict }}
          STRATEGY: ${{ steps.rollback.outputs.strategy }}
          TO_IMAGE: ${{ steps.rollback.outputs.to-image }}
          FROM_IMAGE: ${{ steps.rollback.outputs.from-image }}
          SNAPSHOT: ${{ steps.rollback.outputs.snapshot }}
          AGAIN: ${{ steps.again.outputs.action }}
          RESULT_FILE: ${{ env.RESULT_FILE }}
        run: |
          printf 'promoted=%s\\nverdict=%s\\nstrategy=%s\\nto=%s\\nfrom=%s\\nsnapshot=%s\\nagain=%s\\n' \\
            "$PROMOTED" "$VERDICT" "$STRATEGY" "$TO_IMAGE" "$FROM_IMAGE" "$SNAPSHOT" "$AGAIN" > "$RESULT_FILE"
"""


UPLOAD = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02"
# act cannot reach GitHub here: a stand-in for actions/upload-artifact copies the file into $ARTIFACTS/<name>/.
UPLOAD_STANDIN = """\
name: upload-artifact stand-in
inputs:
  name: {required: true}
  path: {required: true}
  if-no-files-found: {required: false, default: warn}
  retention-days: {required: false, default: ""}
runs:
  using: composite
  steps:
    - shell: bash
      env:
        NAME: ${{ inputs.name }}
        FILES: ${{ inputs.path }}
      run: mkdir -p "$ARTIFACTS/$NAME" && cp "$FILES" "$ARTIFACTS/$NAME/"
"""


@pytest.fixture(scope="module")
def action_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_tree(tmp_path_factory.mktemp("hotfix-actions"))


SETUP_PYTHON = "actions/setup-python@0b93645e9fea7318ecaed2b359559ac225c90a2b"
NOOP_STANDIN = """\
name: setup-python stand-in (the runner's python is used)
inputs:
  python-version: {required: false}
runs:
  using: composite
  steps:
    - shell: bash
      run: "true"
"""


def run_act(
    workdir: Path,
    action_tree: Path,
    tmp: Path,
    env: dict[str, str],
    secrets: dict[str, str],
    *,
    event: str = "push",
    workflow: str = ".github/workflows/release.yml",
    inputs: dict[str, str] | None = None,
) -> tuple[int, str]:
    standins = {UPLOAD: UPLOAD_STANDIN, SETUP_PYTHON: NOOP_STANDIN}
    argv = [act_binary(), event, "-P", "ubuntu-latest=-self-hosted", "-W", workflow,
            "--local-repository", f"{ACTION_REPO}@v1={action_tree}",
            "--env", f"RUNNER_TOOL_CACHE={os.environ['HOTFIX_TEST_TOOL_CACHE']}", "--env", f"HOTFIX_PYTHON={sys.executable}"]  # fmt: skip
    for uses, text in standins.items():
        folder = tmp / uses.split("@")[0].replace("/", "-")
        folder.mkdir(exist_ok=True)
        (folder / "action.yml").write_text(text)
        argv += ["--local-repository", f"{uses}={folder}"]
    for key, value in env.items():
        argv += ["--env", f"{key}={value}"]
    for key, value in secrets.items():
        argv += ["-s", f"{key}={value}"]
    for key, value in (inputs or {}).items():
        argv += ["--input", f"{key}={value}"]
    return act_process(argv, workdir)


def test_promote_then_emergency_rollback_under_act(sandbox: Sandbox, tmp_path: Path, action_tree: Path) -> None:
    kubectl = kubectl_bin.path()  # the pinned kubectl (the workflow runs it as $KUBECTL), not the machine's
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    work = tmp_path / "repo"
    (work / ".github" / "workflows").mkdir(parents=True)
    (work / ".github" / "workflows" / "release.yml").write_text(WORKFLOW)
    doc = yaml.safe_load(sandbox.kubeconfig_path.read_text())
    doc["users"][0]["user"] = {"token": "act-secret-token-1234"}
    data = base64.b64encode(yaml.safe_dump(doc).encode()).decode()
    results = tmp_path / "results.txt"
    artifacts = tmp_path / "artifacts"
    env = {
        "RESULT_FILE": str(results),
        "SNAPSHOTS": str(tmp_path / "snapshots"),
        "SANDBOX_KUBECONFIG": str(sandbox.kubeconfig_path),
        "KUBECACHEDIR": str(tmp_path / "kubecache"),
        "KUBECTL": str(kubectl),
        "ARTIFACTS": str(artifacts),
    }
    code, output = run_act(work, action_tree, tmp_path, env, {"KUBECONFIG_B64": data})
    assert code == 0, output[-6000:]
    got = dict(line.split("=", 1) for line in results.read_text().splitlines() if "=" in line)
    assert got["promoted"] == "2"
    assert (got["verdict"], got["strategy"]) == ("PASS", "undo")
    assert (got["from"], got["to"]) == (BAD, GOOD2)
    assert got["again"] == "no-op"
    assert Path(got["snapshot"]).is_file()
    assert image_of(sandbox) == GOOD2
    assert "act-secret-token-1234" not in output
    assert "matrix row [high: undo]" in output
    uploaded = list((artifacts / "rollback-snapshot").glob("*.yaml"))
    assert [p.name for p in uploaded] == [Path(got["snapshot"]).name]  # the snapshot went to the artifact step


def test_rollback_workflow_dispatch_under_act(sandbox: Sandbox, tmp_path: Path, action_tree: Path) -> None:
    """.github/workflows/rollback.yml itself, dispatched by hand with a reason, a target choice and a secret."""
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    from hotfix_actions.kube import ConnectOptions, connect

    with connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path))) as kc:
        kc.set_images(NS, "web", {"web": BAD}, "a bad deploy")
    work = tmp_path / "repo"
    (work / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(
        Path(__file__).resolve().parents[2] / ".github" / "workflows" / "rollback.yml", work / ".github" / "workflows"
    )
    # a repository with an origin: the workflow reads .hotfix.yml from the default branch (hotfix config fetch)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(work, "init", "-q", "-b", "main")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "ci: rollback workflow")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "origin", "main")
    data = base64.b64encode(sandbox.kubeconfig_path.read_bytes()).decode()
    inputs = {"environment": "production", "deployment": "web", "namespace": NS, "strategy": "undo",
              "to-revision": "1", "reason": "INC-9 from the dispatch form", "to": "lkg", "severity": "high",
              "dry-run": "false"}  # fmt: skip
    code, output = run_act(work, action_tree, tmp_path, {}, {"KUBECONFIG_B64": data}, event="workflow_dispatch",
                           workflow=".github/workflows/rollback.yml", inputs=inputs)  # fmt: skip
    assert code == 0, output[-6000:]
    assert "emergency-rollback default/web: PASS" in output
    assert image_of(sandbox) == GOOD
    dep = sandbox.get("apps/v1", "deployments", NS, "web")
    assert (
        dep is not None
        and "INC-9 from the dispatch form" in dep["metadata"]["annotations"]["kubernetes.io/change-cause"]
    )
