"""The reusable fleet.yml, called by examples/workflows/fleet.yml as it is, run once by act end to end.

Three targets (three namespaces of one sandbox, each its own wave), one fake Prometheus, the repository served by
the GitHub emulator, a webhook receiver. The hotfix regresses only in wave 2, once promoted: wave 1's job promotes
and bakes a, wave 2's job promotes b and its bake fails, wave 3's job never runs, the rollback jobs bring a and b
back and leave c alone, and the report job sends ONE message and opens ONE post-mortem issue naming every target.
Asserted on the clusters, the receiver and the emulator's issues, not on log text alone.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hotfix_actions.decide.fleet import Phase
from hotfix_actions.sandbox import Sandbox
from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.clusters import SandboxCluster
from tests.e2e.actkit import ROOT, act_argv, act_process
from tests.e2e.conftest import action_tree, tool_cache  # noqa: F401 - session fixtures
from tests.e2e.pipeline import STANDINS, _parse, git_auth
from tests.fleet.fakeprom import FakePrometheus
from tests.fleet.rig import BASE, GOOD, NEW, VERSION, Member, image_reader, seed
from tests.github_emulator.fixtures import REPOSITORY, TOKEN, emulator  # noqa: F401
from tests.gitrepos import Repo, git
from tests.kube.kubefix import start_sandbox
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.act


class _Ns(SandboxCluster):
    """One namespace of the shared sandbox, as a target."""

    def __init__(self, sandbox: Sandbox, namespace: str) -> None:
        super().__init__(sandbox, namespace)
        sandbox.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[tuple[Sandbox, dict[str, Member], FakePrometheus]]:
    with start_sandbox() as sb:
        prom = FakePrometheus(image_reader(SandboxCluster(sb))).start()
        try:
            members = {}
            for name in ("a", "b", "c"):
                kube = _Ns(sb, f"fleet-{name}")
                members[name] = Member(name, kube, prom, sb.kubeconfig_path)
                seed(members[name], tmp_path)
            b_errors = members["b"]
            prom.health = lambda ns, d, image: 0.3 if (ns, d, image) == ("fleet-b", "web", NEW) else 0.0
            assert b_errors.image() == GOOD
            yield sb, members, prom
        finally:
            prom.close()


def _project(tmp: Path, gh: GitHubEmulator, prom: FakePrometheus) -> Repo:
    fleet = {
        "deployment": "web",
        "targets": {
            n: {"namespace": f"fleet-{n}", "prometheus_url": prom.url, "environment": f"prod-{n}"}
            for n in ("a", "b", "c")
        },
        "waves": [{"name": f"w{i}", "targets": [n], "bake": "2s"} for i, n in enumerate(("a", "b", "c"), start=1)],
    }
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(origin))
    work = Repo(tmp / "work")
    git(tmp, "clone", "-q", str(origin), str(work.path))
    work.write(
        {
            ".hotfix.yml": BASE + yaml.safe_dump({"fleet": fleet}, sort_keys=False),
            ".github/workflows/fleet.yml": (ROOT / "examples" / "workflows" / "fleet.yml").read_text(),
        }
    )
    work.git("add", "-A")
    work.git("commit", "-qm", "fleet of three")
    work.git("push", "-q", "origin", "main")
    gh.add_repo(REPOSITORY, git_dir=origin)
    checkout = Repo(tmp / "checkout")
    subprocess.run(
        ["git", "clone", "-q", "--branch", "main", gh.git_url(REPOSITORY), str(checkout.path)],
        env={**os.environ, **git_auth(gh)},
        check=True,
        capture_output=True,
    )
    return checkout


def test_the_fleet_workflow_runs_waves_as_jobs_and_rolls_back_once(
    tmp_path: Path,
    targets: tuple[Sandbox, dict[str, Member], FakePrometheus],
    emulator: GitHubEmulator,  # noqa: F811
    action_tree: Path,  # noqa: F811
    tool_cache: Path,  # noqa: F811
) -> None:
    sandbox, members, prom = targets
    checkout = _project(tmp_path, emulator, prom)
    receiver = Receiver().start()
    event = tmp_path / "dispatch.json"
    event.write_text(json.dumps({"inputs": {"version": VERSION, "image": NEW}, "ref": "refs/heads/main"}))
    argv = act_argv(
        event="workflow_dispatch",
        workflow=".github/workflows/fleet.yml",
        action_tree=action_tree,
        tool_cache=tool_cache,
        json_log=True,
        env={
            "HOTFIX_E2E_ARTIFACTS": str(tmp_path / "artifacts"),
            "GITHUB_SERVER_URL": emulator.url,
            "GITHUB_API_URL": emulator.api_url,
            "GITHUB_REPOSITORY": REPOSITORY,
            "HOTFIX_GITHUB_WRITE_INTERVAL": "0",
        },
        variables={"HOTFIX_GITHUB_API_URL": emulator.api_url},
        secrets={
            "GITHUB_TOKEN": TOKEN,
            "FLEET_SHARED_KUBECONFIG_B64": base64.b64encode(Path(sandbox.kubeconfig_path).read_bytes()).decode(),
            "FLEET_WEBHOOK_URL": receiver.url(),
        },
        event_path=event,
        local_repositories=STANDINS,
    )
    try:
        code, raw = act_process(argv, checkout.path)
    finally:
        receiver.stop()
    run = _parse(code, raw)
    (tmp_path / "act.log").write_text(run.output)
    where = f"see {tmp_path / 'act.log'}: {run.output[-3000:]}"
    print("job wall times:", run.jobs)
    assert run.returncode != 0, where  # the run failed: wave 2 did
    # clusters: a and b back on GOOD (rolled back, recorded), c never touched
    for name in ("a", "b"):
        assert members[name].image() == GOOD, where
        assert members[name].record().phase is Phase.ROLLED_BACK, where  # type: ignore[union-attr]
    assert members["c"].record() is None and members["c"].image() == GOOD, where
    # jobs: wave 3 never ran; each target's rollback ran in its own job
    jobs = set(run.jobs)
    assert not any(j.startswith("wave 3") for j in jobs), jobs
    for name in ("a", "b", "c"):  # act names matrix jobs "<name>-<n>"
        assert any(j.startswith(f"rollback ({name})") for j in jobs), jobs
    assert any(j.startswith("wave 1 (a)") for j in jobs) and any(j.startswith("wave 2 (b)") for j in jobs), jobs
    # ONE message for the run, naming every target
    assert len(receiver.received) == 1, [r.json for r in receiver.received]
    message = receiver.received[0].json
    assert message["event"] == "failed"
    reasons = message["reasons"]
    assert any(r.startswith("a (wave w1): PASS") and "rolled back" in r for r in reasons), reasons
    assert any(r.startswith("b (wave w2): FAIL") for r in reasons), reasons
    assert any(r.startswith("b (wave w2): FAIL") and "rolled back" in r for r in reasons), reasons
    assert any(r.startswith("c (wave w3)") and "left alone" in r for r in reasons), reasons
    assert reasons[0] == "promoted: a, b; rolled back: a, b", reasons
    # ONE post-mortem issue whose timeline names the targets' steps
    issues = list(emulator.repo(REPOSITORY).issues.values())
    assert len(issues) == 1, issues
    body = issues[0]["body"]
    assert "b (wave w2): bake FAIL" in body and "a (wave w1): rollback PASS" in body
