"""The real control plane itself: built at the pinned versions, up on 127.0.0.1, and its kwok stages give the pod
lifecycle the tests rely on (the same image conventions as the sandbox)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.clusters import KubeUnderTest, RealCluster
from tests.kube.kubefix import deployment
from tests.realk8s import binaries
from tests.realk8s.controlplane import ControlPlane, StartError
from tests.realk8s.rest import ApiError

ROOT = Path(__file__).resolve().parents[2]


def test_pins_agree_between_versions_file_and_go_mod() -> None:
    pins = binaries.versions()
    mod = (binaries.BUILD / "go.mod").read_text(encoding="utf-8")
    assert re.search(rf"^\s*k8s\.io/kubernetes {re.escape(pins['KUBERNETES_VERSION'])}\b", mod, re.M)
    assert re.search(rf"^\s*(require )?go\.etcd\.io/etcd/server/v3 {re.escape(pins['ETCD_VERSION'])}\b", mod, re.M)
    minor = pins["KUBERNETES_VERSION"].split(".")[1]
    # every staging module is replaced by its published v0.<minor>.<patch> (the k8s.io/kubernetes way)
    staging = re.findall(r"^replace (k8s\.io/\S+) => (k8s\.io/\S+) (v\S+)$", mod, re.M)
    assert len(staging) > 25
    for source, target, version in staging:
        assert source == target and version.startswith(f"v0.{minor}."), (source, version)


def test_install_script_reuses_the_cache_and_the_binaries_report_the_pinned_versions() -> None:
    script = ROOT / "scripts" / "install-kubernetes"
    proc = subprocess.run([str(script)], capture_output=True, text=True, check=True, timeout=3600)
    assert "cached in" in proc.stdout or "built in" in proc.stdout
    again = subprocess.run([str(script)], capture_output=True, text=True, check=True, timeout=120)
    assert "cached in" in again.stdout, again.stdout + again.stderr
    printed = subprocess.run([str(script), "--print"], capture_output=True, text=True, check=True).stdout.strip()
    assert Path(printed) == binaries.cache_dir()
    bins = binaries.find(build=False)
    pins = binaries.versions()
    version = subprocess.run([bins["kube-apiserver"], "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"Kubernetes {pins['KUBERNETES_VERSION']}"
    etcd = subprocess.run([bins["etcd"], "--version"], capture_output=True, text=True, check=True)
    assert f"etcd Version: {pins['ETCD_VERSION'].lstrip('v')}" in etcd.stdout
    kwok = subprocess.run([bins["kwok"], "--version"], capture_output=True, text=True, check=True)
    assert pins["KWOK_VERSION"] in kwok.stdout


def test_a_tampered_cache_is_not_trusted(tmp_path: Path) -> None:
    """The cache is checked against its manifest: a changed binary makes the cache incomplete (so the script
    builds again instead of running it), and --check names the file."""
    env = {**os.environ, "HOTFIX_K8S_CACHE": str(tmp_path / "cache")}
    script = str(ROOT / "scripts" / "install-kubernetes")
    folder = Path(
        subprocess.run([script, "--print"], capture_output=True, text=True, env=env, check=True).stdout.strip()
    )
    real = binaries.find(build=False).folder
    (folder / "bin").mkdir(parents=True)
    for name in binaries.NAMES:
        os.symlink(real / name, folder / "bin" / name)
    (folder / "manifest.sha256").write_text((real.parent / "manifest.sha256").read_text())
    good = subprocess.run([script, "--check"], capture_output=True, text=True, env=env, check=False)
    assert good.returncode == 0, good.stderr
    (folder / "bin" / "kwok").unlink()
    (folder / "bin" / "kwok").write_text("#!/bin/sh\necho planted\n")
    bad = subprocess.run([script, "--check"], capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 1
    assert "bin/kwok: FAILED" in bad.stderr


def test_server_version_node_and_rbac(real_control_plane: ControlPlane, tmp_path: Path) -> None:
    cp = real_control_plane
    version = cp.rest.request("GET", "/version")
    assert version["gitVersion"] == binaries.versions()["KUBERNETES_VERSION"]
    assert version["minor"] == binaries.versions()["KUBERNETES_VERSION"].split(".")[1]
    nodes = cp.rest.list("v1", "nodes")
    assert [n["metadata"]["name"] for n in nodes] == cp.nodes
    cluster = RealCluster(cp, "t-rbac", tmp_path)
    try:
        from tests.realk8s.rest import Rest

        tool = Rest("127.0.0.1", cp.port, cluster.token_for("hotfix-actions"), str(cp.ca_file))
        assert tool.list("apps/v1", "deployments", cluster.namespace) == []
        with pytest.raises(ApiError) as denied:  # the tool's Role is namespaced: nothing outside it
            tool.list("apps/v1", "deployments", "default")
        assert denied.value.code == 403
        with pytest.raises(ApiError) as secrets_denied:  # and no secrets even inside it
            tool.list("v1", "secrets", cluster.namespace)
        assert secrets_denied.value.code == 403
    finally:
        cluster.cleanup()


def _pod_states(kube: KubeUnderTest, app: str) -> list[dict[str, Any]]:
    out = []
    for pod in kube.list("v1", "pods", kube.namespace, label_selector=f"app={app}"):
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            out.append(
                {
                    "ready": bool(cs.get("ready")),
                    "restarts": int(cs.get("restartCount") or 0),
                    "waiting": ((cs.get("state") or {}).get("waiting") or {}).get("reason"),
                    "terminating": bool(pod["metadata"].get("deletionTimestamp")),
                }
            )
    return out


def test_crash_image_is_ready_then_crash_loops_with_restarts_climbing(kube: KubeUnderTest) -> None:
    """Like a real kubelet with no readiness probe: Ready first, then CrashLoopBackOff, restartCount climbing."""
    kube.apply(deployment("crashy", image="registry.example/web:crash", replicas=1, namespace=kube.namespace))
    seen_ready = kube.wait_for(lambda: any(s["ready"] for s in _pod_states(kube, "crashy")), timeout=20)
    assert seen_ready
    kube.wait_for(lambda: any(s["waiting"] == "CrashLoopBackOff" for s in _pod_states(kube, "crashy")), timeout=20)
    kube.wait_for(lambda: any(s["restarts"] >= 2 for s in _pod_states(kube, "crashy")), timeout=30)


def test_nopull_image_waits_in_image_pull_backoff(kube: KubeUnderTest) -> None:
    kube.apply(deployment("nopull", image="registry.example/web:nopull", replicas=1, namespace=kube.namespace))
    kube.wait_for(lambda: any(s["waiting"] == "ImagePullBackOff" for s in _pod_states(kube, "nopull")), timeout=20)
    time.sleep(1.0)
    assert not any(s["ready"] for s in _pod_states(kube, "nopull"))


def test_good_image_rolls_out(kube: KubeUnderTest) -> None:
    kube.apply(deployment("good", image="registry.example/web:1.0", replicas=2, namespace=kube.namespace))
    done = kube.wait_rollout(kube.namespace, "good", timeout=30)
    assert done["status"]["availableReplicas"] == 2


def test_deleted_pods_stay_terminating_for_their_grace_period(real_control_plane: ControlPlane, tmp_path: Path) -> None:
    cluster = RealCluster(real_control_plane, "t-terminating", tmp_path)
    try:
        dep = deployment("slow", image="registry.example/web:1.0", replicas=1, namespace=cluster.namespace)
        dep["spec"]["template"]["metadata"]["annotations"] = {"hotfix.test/terminate-delay": "2s"}
        cluster.apply(dep)
        cluster.wait_rollout(cluster.namespace, "slow", timeout=30)
        pod = cluster.list("v1", "pods", cluster.namespace, label_selector="app=slow")[0]
        cluster.delete("v1", "pods", cluster.namespace, pod["metadata"]["name"])
        started = time.monotonic()
        still = cluster.get("v1", "pods", cluster.namespace, pod["metadata"]["name"])
        assert still is not None and still["metadata"].get("deletionTimestamp")
        cluster.wait_for(lambda: cluster.get("v1", "pods", cluster.namespace, pod["metadata"]["name"]) is None, 20)
        assert time.monotonic() - started >= 1.5
    finally:
        cluster.cleanup()


def test_a_killed_component_is_reported_and_everything_is_stopped_by_pid(tmp_path: Path) -> None:
    """A second, private control plane: kill its etcd by pid, and the start-up check names it; stop() leaves no
    process of it behind."""
    cp = ControlPlane.start(tmp_path / "cp")
    pids = cp.pids()
    try:
        os.kill(pids["etcd"], signal.SIGKILL)
        with pytest.raises(StartError, match="etcd exited with status -9"):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # until the kill is seen (the process reaped)
                cp._check_alive()
                time.sleep(0.05)
    finally:
        cp.stop()
    for name, pid in pids.items():
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # reaped: no such process
        assert name


def test_start_refuses_a_used_folder(tmp_path: Path) -> None:
    (tmp_path / "leftover").write_text("x")
    with pytest.raises(StartError, match="not empty"):
        ControlPlane.start(tmp_path)


def test_a_port_taken_between_choosing_and_binding_starts_again_with_new_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The apiserver's port is chosen free and bound a moment later; when another process holds it by then (the
    CI failure: "bind: address already in use" with four workers), start() begins again from an empty folder with
    new ports instead of failing the session."""
    import socket

    from hotfix_actions.sandbox.prometheus_runner import free_port as real_free_port
    from tests.realk8s import controlplane

    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    held.listen()
    taken = held.getsockname()[1]
    chosen: list[int] = []

    def first_one_taken() -> int:
        port = taken if not chosen else real_free_port()
        chosen.append(port)
        return port

    monkeypatch.setattr(controlplane, "free_port", first_one_taken)
    try:
        cp = ControlPlane.start(tmp_path / "cp")
    finally:
        held.close()
    try:
        assert chosen[0] == taken
        assert cp.port != taken
        assert cp.answers()
        assert "address already in use" not in (cp.folder / "kube-apiserver.log").read_text()
    finally:
        cp.stop()
