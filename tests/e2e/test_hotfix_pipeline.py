"""The reusable hotfix.yml, called by examples/workflows/hotfix.yml, run by act end to end.

Asserts on cluster state, git refs and the GitHub emulator's records, not on log text alone.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotfix_actions.sandbox.prometheus_runner import find_binary
from hotfix_actions.sandbox.stack import Behaviour, LocalStack, StackSettings
from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.clusters import RealCluster
from tests.e2e.pipeline import REPOSITORY, TOKEN, ActResult, Project, make_project, run_workflow
from tests.gitrepos import contains, git

pytestmark = [pytest.mark.act, pytest.mark.prometheus]
IMAGE = "ghcr.io/acme/shop"


def _promote(stack: LocalStack, version: str) -> None:
    """What a previous pipeline left behind: `version` promoted and recorded as the last-known-good."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "hotfix_actions",
            "promote",
            "-d",
            "shop",
            "--image",
            f"{IMAGE}:{version}",
            "--version",
            version,
        ],
        env={**os.environ, **stack.env()},
        check=True,
        capture_output=True,
    )


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalStack]:
    """The stack on the sandbox, or (``indirect`` param "real") on the real control plane: namespace ``shop`` (the
    example workflows name it) with the tool's least-privilege service account, deleted and waited for after."""
    find_binary()
    if getattr(request, "param", "sandbox") == "sandbox":
        with LocalStack.start(tmp_path / "stack") as running:
            _promote(running, "1.4.2")
            yield running
        return
    real = RealCluster(request.getfixturevalue("real_control_plane"), "shop", tmp_path)
    try:
        with LocalStack.start(tmp_path / "stack", StackSettings(namespace="shop"), cluster=real) as running:
            _promote(running, "1.4.2")
            yield running
    finally:
        real.cleanup(wait=90)


def _statuses(gh: GitHubEmulator) -> list[str]:
    state = gh.repo(REPOSITORY)
    return [s["state"] for statuses in state.statuses.values() for s in statuses]


@dataclasses.dataclass
class Rig:
    """Everything an act run of the example workflows needs, in one place."""

    tmp_path: Path
    stack: LocalStack
    emulator: GitHubEmulator
    action_tree: Path
    tool_cache: Path

    def run(
        self,
        project: Project,
        workflow: str,
        *,
        event: str = "push",
        artifacts: str = "artifacts",
        inputs: dict[str, str] | None = None,
    ) -> ActResult:
        result = run_workflow(
            project,
            workflow=workflow,
            event=event,
            action_tree=self.action_tree,
            tool_cache=self.tool_cache,
            artifacts=self.tmp_path / artifacts,
            stack=self.stack,
            emulator=self.emulator,
            inputs=inputs,
        )
        (self.tmp_path / f"act-{artifacts}.log").write_text(result.output)
        print("job wall times:", result.jobs)
        return result

    def failure(self, result: ActResult, artifacts: str = "artifacts") -> str:
        return f"see {self.tmp_path / f'act-{artifacts}.log'}: " + result.output[-3000:]


@pytest.fixture
def rig(tmp_path: Path, stack: LocalStack, emulator: GitHubEmulator, action_tree: Path, tool_cache: Path) -> Rig:
    return Rig(tmp_path, stack, emulator, action_tree, tool_cache)


def test_good_hotfix_is_promoted_tagged_and_merged_back(rig: Rig) -> None:
    tmp_path, stack, emulator = rig.tmp_path, rig.stack, rig.emulator
    project = make_project(tmp_path, emulator, stack)
    sha = project.checkout.head()
    run = rig.run(project, ".github/workflows/hotfix.yml")
    assert run.returncode == 0, rig.failure(run)
    # the cluster runs the hotfix everywhere, recorded as last-known-good; the canary is gone
    assert stack.image_of("shop") == f"{IMAGE}:{sha}"
    assert stack.ready_replicas_of("shop-canary") == 0
    # git: tagged on main, merged into develop, hotfix branch deleted
    origin = project.origin
    assert git(origin, "rev-parse", "v1.4.3^{commit}") == git(origin, "rev-parse", "main")
    assert contains(origin, sha, "develop")
    assert git(origin, "branch", "--list", "hotfix/*") == ""
    # GitHub: a release and a successful deployment
    state = emulator.repo(REPOSITORY)
    assert [r["tag_name"] for r in state.releases.values()] == ["v1.4.3"]
    assert "success" in _statuses(emulator)
    # artifacts: the cluster snapshot taken before production was touched
    assert (tmp_path / "artifacts").is_dir()
    assert any(p.name == "cluster-before.yaml" for p in (tmp_path / "artifacts").rglob("*"))
    assert TOKEN not in run.output


@pytest.mark.parametrize("stack", ["sandbox", "real"], indirect=True)
def test_bad_canary_is_rolled_back_and_reported(rig: Rig) -> None:
    tmp_path, stack, emulator = rig.tmp_path, rig.stack, rig.emulator
    project = make_project(tmp_path, emulator, stack)
    sha = project.checkout.head()
    stack.settings = dataclasses.replace(
        stack.settings, behaviours=(Behaviour(sha, error_rate=0.2), *stack.settings.behaviours)
    )
    run = rig.run(project, ".github/workflows/hotfix.yml")
    assert run.returncode != 0
    # production keeps the last-known-good; the bad image never reached it; the canary was scaled away
    assert stack.image_of("shop") == f"{IMAGE}:1.4.2"
    assert stack.ready_replicas_of("shop-canary") == 0
    assert "rollback production" in run.jobs, run.output[-6000:]
    # no release, no tag
    assert git(project.origin, "tag", "--list", "v1.4.3") == ""
    assert not emulator.repo(REPOSITORY).releases
    # a post-mortem issue was opened
    issues = list(emulator.repo(REPOSITORY).issues.values())
    assert any(
        "post-mortem" in [lbl if isinstance(lbl, str) else lbl.get("name") for lbl in i.get("labels", [])]
        for i in issues
    ), issues
    assert TOKEN not in run.output


@pytest.mark.parametrize("stack", ["sandbox", "real"], indirect=True)
def test_manual_rollback_from_run_workflow(rig: Rig) -> None:
    """1.4.3 passed its canary and was promoted, then went bad in production: someone presses "Run workflow"."""
    stack, emulator = rig.stack, rig.emulator
    project = make_project(rig.tmp_path, emulator, stack)
    _promote(stack, "1.4.3")
    assert stack.image_of("shop") == f"{IMAGE}:1.4.3"
    press = {"environment": "production", "strategy": "undo", "to": "previous-lkg", "reason": "INC-77"}
    run = rig.run(project, ".github/workflows/rollback.yml", event="workflow_dispatch", inputs=press)
    assert run.returncode == 0, rig.failure(run)
    assert stack.image_of("shop") == f"{IMAGE}:1.4.2"
    assert stack.cluster is not None
    deployment = stack.cluster.get("apps/v1", "deployments", "shop", "shop")
    assert deployment is not None
    assert "INC-77" in deployment["metadata"]["annotations"].get("kubernetes.io/change-cause", "")
    # recorded where GitHub users look: a deployment of the rolled-back image, marked success
    state = emulator.repo(REPOSITORY)
    payloads = [d.get("payload") or {} for d in state.deployments.values()]
    assert any(f"{IMAGE}:1.4.2" in str(p) for p in payloads), payloads
    assert "success" in _statuses(emulator)
    # a second press changes nothing: the bad image never comes back
    again = rig.run(
        project, ".github/workflows/rollback.yml", event="workflow_dispatch", artifacts="artifacts2", inputs=press
    )
    assert again.returncode == 0, rig.failure(again, "artifacts2")
    assert stack.image_of("shop") == f"{IMAGE}:1.4.2"
