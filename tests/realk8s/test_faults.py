"""A hung or killed kube-apiserver in the middle of a rollback, on the real control plane (its own, since the fault
is sent to its API server by pid): the `hotfix` process gives up within the cluster deadline with exit 3 and says
the cluster is unreachable or not answering, never that it rolled back. After a hang the server comes back
(SIGCONT) and a second run finishes the rollback: the first run's Lease, which it could not release, has run out.
The sandbox's version of these faults (a proxy that goes silent) is tests/kube/test_unanswering.py."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clusters import RealCluster
from tests.kube.kubefix import GOOD, GOOD2
from tests.realk8s.controlplane import ControlPlane
from tests.rollback.truth import edit_template, hotfix_env, live_image, run_hotfix, slow, spawned, start, tool

DEADLINE = 15.0  # cluster.api_deadline's default
SLACK = 5.0  # interpreter start-up and the last short try, on a busy 2-core machine
CONFIG = "version: 1\ncluster: {poll_interval: 0.1}\n"  # the deadline and the lock settings are the defaults
CLAIMS = re.compile(r"rolled back|successfully rolled out|last-known-good: pass", re.IGNORECASE)


@pytest.fixture
def own(tmp_path: Path) -> Iterator[RealCluster]:
    """A control plane of this test's own (the fault stops or kills its API server), with one namespace."""
    with ControlPlane.start(tmp_path / "cp") as cp:
        cluster = RealCluster(cp, "faults", tmp_path)
        try:
            yield cluster
        finally:
            with contextlib.suppress(ProcessLookupError):  # a stopped server would wait for SIGKILL to end
                os.kill(cp.pids()["kube-apiserver"], signal.SIGCONT)


@pytest.mark.parametrize("fault", ["hung", "killed"])
def test_the_api_server_hung_or_killed_mid_rollback_ends_it_within_the_deadline(
    own: RealCluster, tmp_path: Path, fault: str
) -> None:
    start(own, GOOD2)
    with tool(own) as cluster:  # the live template's pods take 10 s to turn Ready: the rollback waits on them
        edit_template(own, cluster, annotations=slow(10), image="registry.example/web:2.1")
    env = hotfix_env(own, tmp_path, CONFIG)
    server = own.cp.pids()["kube-apiserver"]
    args = ["rollback", "-d", "web", "--to-image", GOOD, "--fail-fast-after", "300", "--timeout", "300"]
    with spawned(args, env) as run:
        own.wait_for(lambda: live_image(own) == GOOD or run.poll() is not None, timeout=30)
        assert run.poll() is None, run.communicate()
        time.sleep(1.0)  # waiting on the slow pods
        os.kill(server, signal.SIGSTOP if fault == "hung" else signal.SIGKILL)
        faulted = time.monotonic()
        out, err = run.communicate(timeout=90)
        took = time.monotonic() - faulted
    said = out + err
    assert run.returncode == 3, said
    assert "cluster unreachable or not answering" in said, said
    assert took <= DEADLINE + SLACK, f"{took:.1f}s after the API server was {fault}\n{said}"
    verdicts = [line for line in said.splitlines() if CLAIMS.search(line)]
    assert not verdicts, f"a claim it could not check: {verdicts}"
    if fault == "killed":
        return
    os.kill(server, signal.SIGCONT)
    own.wait_for(own.cp.answers, timeout=30, interval=0.2)
    again = run_hotfix(["rollback", "-d", "web", "--to-image", GOOD, "--fail-fast-after", "300"], env)
    said = again.stdout + again.stderr
    assert again.returncode == 0, said
    assert live_image(own) == GOOD and own.rollout_complete(own.namespace, "web")
    lease = own.get("coordination.k8s.io/v1", "leases", own.namespace, "hotfix-lock-web")
    assert lease is None or not (lease.get("spec") or {}).get("holderIdentity"), lease
