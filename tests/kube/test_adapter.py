"""The Cluster adapter against the sandbox API server, through the official client: reads, conditional writes,
retries and deadlines, leases, rollout waits (watch and polling), pod reasons."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

import pytest

from hotfix_actions.decide.rollout import RolloutPhase
from hotfix_actions.errors import ClusterError, ConflictError, NotFoundError, UnreachableError, UsageError
from hotfix_actions.kube import ConnectOptions, RetryPolicy, connect
from hotfix_actions.kube.cluster import KubeCluster
from hotfix_actions.kube.probe import HttpProbe
from hotfix_actions.sandbox import Sandbox
from tests.kube.kubefix import BAD, FAST, GOOD, GOOD2, NS, deployment, service


def test_reads_are_api_json_and_replicasets_are_filtered_by_owner(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment())
    sandbox.wait_rollout(NS, "web")
    stray = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-stray", "namespace": NS,
             "labels": {"app": "web"}, "annotations": {"deployment.kubernetes.io/revision": "9"}},
             "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                      "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "x:1"}]}}}}  # fmt: skip
    sandbox.apply(stray)
    dep = cluster.get("deployments", NS, "web")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == GOOD
    assert dep["metadata"]["resourceVersion"]
    owned = cluster.owned_replicasets(dep)
    assert [rs["metadata"]["name"] for rs in owned] != [] and all(r["metadata"]["name"] != "web-stray" for r in owned)
    pods = cluster.list_objects("pods", NS, labels={"app": "web"})
    assert len(pods) == 2 and all(p["kind"] == "Pod" for p in pods)
    assert cluster.namespace_exists(NS) and not cluster.namespace_exists("nope")
    assert any(e.get("involvedObject", {}).get("name") == "web" for e in cluster.events(NS, "web"))


def test_missing_objects_and_bad_names(cluster: KubeCluster) -> None:
    with pytest.raises(NotFoundError, match='deployment "ghost" in namespace "default" not found'):
        cluster.get("deployments", NS, "ghost")
    with pytest.raises(UsageError, match="DNS-1123"):
        cluster.get("deployments", NS, "Web;rm -rf")
    with pytest.raises(UsageError, match="namespace"):
        cluster.get("deployments", "Bad_NS", "web")
    cluster.delete("deployments", NS, "ghost")  # absent: not an error


def test_writes_are_conditional(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment())
    read = cluster.get("deployments", NS, "web")
    cluster.set_images(NS, "web", {"web": GOOD2}, "by test")  # someone else writes after our read
    read["spec"]["template"]["spec"]["containers"][0]["image"] = BAD
    with pytest.raises(ConflictError, match="conflict"):
        cluster.replace("deployments", NS, read)
    with pytest.raises(ValueError, match="resourceVersion"):
        cluster.replace("deployments", NS, {"metadata": {"name": "web"}})
    with pytest.raises(UsageError, match=r"no container named side \(containers: web\)"):
        cluster.set_images(NS, "web", {"side": GOOD})
    with pytest.raises(ConflictError):
        cluster.create("deployments", NS, deployment())
    live = sandbox.get("apps/v1", "deployments", NS, "web")
    assert live is not None
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == GOOD2
    assert live["metadata"]["annotations"]["kubernetes.io/change-cause"] == "by test"


def test_service_selector_switch_checks_the_version(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(service("web", {"app": "web", "color": "blue"}))
    svc = cluster.get("services", NS, "web")
    cluster.set_service_selector(NS, svc, {"app": "web", "color": "green"}, annotations={"a/b": "c"})
    stored = sandbox.get("v1", "services", NS, "web")
    assert stored is not None and stored["spec"]["selector"]["color"] == "green"
    assert stored["metadata"]["annotations"]["a/b"] == "c"
    with pytest.raises(ConflictError, match="conflict"):
        cluster.set_service_selector(NS, svc, {"app": "web", "color": "blue"})  # stale: read before the switch


def test_scale_and_delete(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment())
    scale = cluster.scale(NS, "web", 0)
    assert scale["spec"]["replicas"] == 0
    sandbox.wait_for(lambda: not sandbox.list("v1", "pods", NS, label_selector="app=web"), timeout=5)
    cluster.delete("deployments", NS, "web")
    assert sandbox.get("apps/v1", "deployments", NS, "web") is None


def test_three_503s_then_recovery_are_retried(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment())
    retries: list[str] = []
    cluster.transport.on_retry = retries.append
    sandbox.faults.fail_next(3, 503)
    assert cluster.get("deployments", NS, "web")["metadata"]["name"] == "web"
    assert len(retries) == 3 and "HTTP 503" in retries[0] and "retry 1/5" in retries[0]


def test_api_down_past_the_deadline_fails_loudly(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.faults.fail_next(1000, 500)
    started = time.monotonic()
    with pytest.raises(ClusterError, match=r"failed after 6 attempt\(s\).*HTTP 500") as info:
        cluster.get("deployments", NS, "web")
    assert time.monotonic() - started < FAST.deadline + 1
    assert info.value.fix and "safe to repeat" in info.value.fix


def test_deadline_bounds_retries_before_the_retry_count(sandbox: Sandbox) -> None:
    policy = RetryPolicy(retries=50, backoff_initial=0.2, backoff_max=0.2, deadline=1.0, request_timeout=1.0)
    sandbox.faults.fail_next(1000, 503)
    with connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path)), policy) as kc:
        started = time.monotonic()
        with pytest.raises(ClusterError, match="limits: 50 retries, 1s"):
            kc.get("deployments", NS, "web")
        assert time.monotonic() - started < 1.5


def test_slow_answers_time_out_and_are_retried(sandbox: Sandbox) -> None:
    sandbox.apply(deployment())
    policy = RetryPolicy(request_timeout=0.3, retries=3, backoff_initial=0.01, deadline=5.0)
    sandbox.faults.delay(1.0, n=1)
    with connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path)), policy) as kc:
        assert kc.get("deployments", NS, "web")["metadata"]["name"] == "web"
        assert kc.transport.requests == 2


def test_nothing_listening_is_a_cluster_error(tmp_path: object, sandbox: Sandbox) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    text = sandbox.kubeconfig_path.read_text().replace(sandbox.url, f"http://127.0.0.1:{port}")
    path = sandbox.kubeconfig_path.with_name("dead")
    path.write_text(text)
    policy = RetryPolicy(retries=2, backoff_initial=0.01, deadline=2.0)
    with connect(ConnectOptions(kubeconfig=str(path)), policy) as kc, pytest.raises(UnreachableError) as info:
        kc.get("deployments", NS, "web")
    assert "cluster unreachable or not answering" in str(info.value) and "3 attempt(s)" in str(info.value)


def test_lease_acquire_hold_expire_release(sandbox: Sandbox) -> None:
    clock = [datetime(2026, 1, 1, tzinfo=UTC)]
    opts = ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path))
    with connect(opts, FAST) as a, connect(opts, FAST) as b:
        a.leases.now = b.leases.now = lambda: clock[0]
        first = a.acquire_lease(NS, "hotfix-lock-web", "run-a", 30)
        assert first.acquired and first.reason == "created the lease"
        held = b.acquire_lease(NS, "hotfix-lock-web", "run-b", 30)
        assert not held.acquired and held.holder == "run-a" and "30s more" in held.reason
        assert a.acquire_lease(NS, "hotfix-lock-web", "run-a", 30).acquired  # renew
        clock[0] += timedelta(seconds=31)
        taken = b.acquire_lease(NS, "hotfix-lock-web", "run-b", 30)
        assert taken.acquired and "expired" in taken.reason
        a.release_lease(NS, "hotfix-lock-web", "run-a")  # not ours any more: left alone
        lease = b.read_lease(NS, "hotfix-lock-web")
        assert lease is not None and lease.holder == "run-b"
        b.release_lease(NS, "hotfix-lock-web", "run-b")
        lease = b.read_lease(NS, "hotfix-lock-web")
        assert lease is not None and lease.holder == ""
        assert a.acquire_lease(NS, "hotfix-lock-web", "run-a", 30).acquired
        stored = sandbox.get("coordination.k8s.io/v1", "leases", NS, "hotfix-lock-web")
        assert stored is not None and stored["spec"]["leaseTransitions"] == 2


def test_wait_completes_by_kubectl_rules(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(replicas=3))
    messages: list[str] = []
    result = cluster.wait_for_rollout(NS, "web", timeout=10, on_progress=messages.append)
    assert result.phase is RolloutPhase.COMPLETE and result.ok
    assert messages[-1] == 'deployment "web" successfully rolled out'
    assert cluster.waiter.watch_works


def test_wait_names_a_crash_loop_within_the_settle_window(sandbox: Sandbox, cluster: KubeCluster) -> None:
    """A crashing image: on a real kubelet (and the sandbox) its pods turn Ready, then crash; a wait with a settle
    window fails naming the restart or CrashLoopBackOff, in about one look, never reporting it rolled out."""
    sandbox.apply(deployment(image=BAD))
    cluster.waiter.pod_check = 0.3
    result = cluster.wait_for_rollout(NS, "web", timeout=15, fail_fast_after=None, settle=5)
    assert result.phase is RolloutPhase.FAILED, result
    assert result.problem is not None and result.problem.immediate
    assert result.problem.reason in ("CrashLoopBackOff", "Restarted", "Error", "RunContainerError")
    assert "new pods crash" in result.message and result.waited < 5


def test_image_pull_backoff_fails_at_once_unless_told_to_wait(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image="registry.example/web:nopull"))
    cluster.waiter.pod_check = 0.3
    result = cluster.wait_for_rollout(NS, "web", timeout=15, fail_fast_after=None)
    assert result.phase is RolloutPhase.FAILED and result.waited < 5
    assert result.problem is not None and result.problem.reason == "ImagePullBackOff"
    waited = cluster.wait_for_rollout(NS, "web", timeout=1.5, fail_fast_after=None, immediate_reasons=())
    assert waited.phase is RolloutPhase.TIMEOUT
    assert "timed out waiting for the condition (2s)" in waited.message
    assert waited.problem is not None and waited.problem.reason == "ImagePullBackOff"


def test_wait_reports_progress_deadline(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image="registry.example/web:nopull", progressDeadlineSeconds=1))
    result = cluster.wait_for_rollout(NS, "web", timeout=15, fail_fast_after=None, immediate_reasons=())
    assert result.phase is RolloutPhase.FAILED
    assert "exceeded its progress deadline (1s)" in result.message


def test_wait_polls_when_watches_are_refused(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment())
    sandbox.wait_rollout(NS, "web")
    sandbox.faults.drop_watches(refuse=True)
    cluster.set_images(NS, "web", {"web": GOOD2})
    result = cluster.wait_for_rollout(NS, "web", timeout=10)
    assert result.ok
    assert not cluster.waiter.watch_works  # fell back to polling


def test_probe_retries_until_the_expected_status(http_app: tuple[str, list[int]]) -> None:
    url, statuses = http_app
    statuses[:] = [503, 503, 200]
    result = HttpProbe(sleep=lambda _s: None).check(url, retries=5, interval=0)
    assert result.ok and result.attempts == 3 and result.status == 200
    statuses[:] = [500]
    failed = HttpProbe(sleep=lambda _s: None).check(url, retries=2, interval=0)
    assert not failed.ok and failed.attempts == 3 and "HTTP 500, expected 200" in failed.detail
    down = HttpProbe(sleep=lambda _s: None).check("http://127.0.0.1:9/x", retries=1, interval=0, timeout=0.5)
    assert not down.ok and down.status is None and "ConnectError" in down.detail


def test_scaler_for_database_restores(sandbox: Sandbox, cluster: KubeCluster) -> None:
    from hotfix_actions.kube.scaler import KubeScaler

    sandbox.apply(deployment(replicas=2))
    sandbox.wait_rollout(NS, "web")
    scaler = KubeScaler(cluster, NS, "web", timeout=10)
    assert scaler.current_replicas() == 2 and scaler.describe() == "deployment default/web"
    scaler.scale(0)
    assert sandbox.wait_for(lambda: not sandbox.list("v1", "pods", NS, label_selector="app=web"))
    scaler.scale(2)
    assert sandbox.rollout_complete(NS, "web") and scaler.current_replicas() == 2
    cluster.set_images(NS, "web", {"web": "registry.example/web:nopull"})
    with pytest.raises(ClusterError, match="did not reach 3 replicas"):
        KubeScaler(cluster, NS, "web", timeout=1).scale(3)
