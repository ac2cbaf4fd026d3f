"""Helpers for the tests that hold rollback and promote to the truth on both clusters (the ``kube`` fixture of
tests/clusters.py: the sandbox and the real control plane): the tool's own client with the tool's credentials, a
Deployment to start from, the ``hotfix`` command as a real process, and what a racing writer does."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import LockConfig, RollbackConfig
from hotfix_actions.decide.lkg import LkgRecord
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.kube import ConnectOptions, RetryPolicy, connect
from hotfix_actions.kube.cluster import KubeCluster
from hotfix_actions.services import promote
from tests.clusters import KubeUnderTest
from tests.kube.kubefix import GOOD, context, deployment

ROOT = Path(__file__).resolve().parents[2]
HOTFIX = [sys.executable, "-m", "hotfix_actions"]
POLICY = RetryPolicy(connect_timeout=2.0, request_timeout=5.0, retries=5, backoff_initial=0.05, backoff_max=0.5,
                     deadline=10.0)  # fmt: skip
LOCK = LockConfig(ttl_seconds=15, timeout_seconds=5)
ROLLBACK = RollbackConfig(wait_timeout=60, lock=LOCK)
CRASH_REASONS = ("CrashLoopBackOff", "Restarted", "Error", "RunContainerError")


@contextmanager
def tool(kube: KubeUnderTest) -> Iterator[KubeCluster]:
    """The tool's client with the tool's credentials (on the real cluster: the least-privilege Role)."""
    options = ConnectOptions(kubeconfig=str(kube.kubeconfig_path), namespace=kube.namespace)
    with connect(options, POLICY, poll_interval=0.05) as cluster:
        cluster.waiter.pod_check = 0.3
        yield cluster


def slow(seconds: float) -> dict[str, str]:
    """Pod annotations both clusters honour: this template's pods turn Ready ``seconds`` after they start."""
    return {"hotfix.test/ready-delay": f"{int(seconds * 1000)}ms"}


def start(kube: KubeUnderTest, image: str = GOOD, *, replicas: int = 2, pod_annotations: dict[str, str] | None = None,
          **spec: Any) -> None:  # fmt: skip
    manifest = deployment(image=image, replicas=replicas, namespace=kube.namespace, **spec)
    if pod_annotations:
        manifest["spec"]["template"]["metadata"]["annotations"] = dict(pod_annotations)
    kube.apply(manifest)
    kube.wait_rollout(kube.namespace, "web", timeout=60)


def edit_template(
    kube: KubeUnderTest, cluster: KubeCluster, *, annotations: dict[str, str] | None = None, image: str | None = None
) -> None:
    """Change the live pod template as another deploy would (re-read on a 409: controllers write the status)."""
    from hotfix_actions.errors import ConflictError

    for _ in range(20):
        dep = cluster.get("deployments", kube.namespace, "web")
        template = dep["spec"]["template"]
        if annotations is not None:
            template.setdefault("metadata", {})["annotations"] = dict(annotations)
        if image is not None:
            template["spec"]["containers"][0]["image"] = image
        try:
            cluster.replace("deployments", kube.namespace, dep)
            return
        except ConflictError:
            time.sleep(0.05)
    raise AssertionError("the deployment changed under us 20 times")


def promote_lkg(kube: KubeUnderTest, cluster: KubeCluster, image: str = GOOD) -> None:
    """Record ``image`` as the last-known-good through `hotfix promote` (no settle: a known-good image)."""
    outcome = promote.run(
        promote.PromoteRequest(namespace=kube.namespace, deployment="web", image=image, run_id="seed-run"),
        PromoteConfig(wait_timeout=60, settle_seconds=0),
        LOCK,
        context(cluster),
    )
    assert outcome.verdict is Verdict.PASS, outcome.reasons


def live_image(kube: KubeUnderTest) -> str:
    dep = kube.get("apps/v1", "deployments", kube.namespace, "web")
    assert dep is not None
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


def lkg_of(kube: KubeUnderTest) -> LkgRecord | None:
    dep = kube.get("apps/v1", "deployments", kube.namespace, "web")
    assert dep is not None
    return LkgRecord.from_annotations(dep["metadata"].get("annotations"))


def after(predicate: Callable[[], bool], action: Callable[[], None], timeout: float = 30.0) -> threading.Thread:
    """Run ``action`` in a thread as soon as ``predicate`` holds (e.g. another writer, right after our write)."""

    def body() -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                return
            time.sleep(0.02)
        action()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


def hotfix_env(kube: KubeUnderTest, tmp_path: Path, config: str = "version: 1\n", **extra: str) -> dict[str, str]:
    """The environment of a `hotfix` process: the tool's kubeconfig, a config file, a private temp folder."""
    (tmp_path / ".hotfix.yml").write_text(config)
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTFIX_", "GITHUB_", "KUBECONFIG"))}
    env.update(
        HOTFIX_KUBECONFIG=str(kube.kubeconfig_path),
        HOTFIX_NAMESPACE=kube.namespace,
        HOTFIX_CONFIG=str(tmp_path / ".hotfix.yml"),
        TMPDIR=str(temp),
        PYTHONPATH=str(ROOT / "src"),
        **extra,
    )
    return env


def spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HOTFIX, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=env["TMPDIR"]
    )


@contextmanager
def spawned(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """A `hotfix` process for the block; killed and reaped at the end if it is still running (a failed test
    leaves no process behind)."""
    proc = spawn(args, env)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def run_hotfix(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HOTFIX, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False,
                          cwd=env["TMPDIR"])  # fmt: skip
