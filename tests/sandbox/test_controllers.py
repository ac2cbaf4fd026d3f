"""The Deployment, ReplicaSet and pod controllers, on a cluster whose clock the test drives (no threads)."""

from __future__ import annotations

import copy

import pytest

from hotfix_actions.sandbox.resources import resource
from hotfix_actions.sandbox.settings import Settings
from tests.sandbox.helpers import DEPLOYMENTS, EVENTS, PODS, REPLICASETS, Sim, deployment, images, revision

QUOTAS = resource("", "v1", "resourcequotas")

REV = "deployment.kubernetes.io/revision"


def _ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def test_first_rollout_creates_one_replicaset_with_hash_labels_and_owner() -> None:
    sim = Sim(ready_delay=1.0)
    sim.apply(deployment(replicas=3))
    sim.settle()
    (rs,) = sim.replicasets()
    d = sim.deployment()
    h = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{h}" and len(h) == 10
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert rs["metadata"]["ownerReferences"] == [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                                 "uid": d["metadata"]["uid"], "controller": True,
                                                 "blockOwnerDeletion": True}]  # fmt: skip
    assert revision(rs) == 1 and d["metadata"]["annotations"][REV] == "1"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"
    pods = sim.pods()
    assert len(pods) == 3 and not any(_ready(p) for p in pods)
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in pods)
    assert d["status"]["observedGeneration"] == 1 and "availableReplicas" not in d["status"]
    sim.advance(1.1)
    d = sim.deployment()
    assert all(_ready(p) for p in sim.pods())
    assert d["status"]["availableReplicas"] == 3 and d["status"]["updatedReplicas"] == 3
    assert sim.condition("Progressing")["reason"] == "NewReplicaSetAvailable"
    assert sim.condition("Available")["status"] == "True"


@pytest.mark.parametrize(("replicas", "surge", "unavailable"), [(4, 1, 0), (4, 0, 1), (5, 2, 1), (4, "25%", "25%")])
def test_rolling_update_respects_max_surge_and_max_unavailable(
    replicas: int, surge: object, unavailable: object
) -> None:
    sim = Sim(ready_delay=0.5)
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    sim.apply(deployment(replicas=replicas, strategy=strategy))
    sim.advance(1.0)
    max_surge = 1 if surge == "25%" else int(str(surge))
    max_unavail = 1 if unavailable == "25%" else int(str(unavailable))
    seen: list[tuple[int, int]] = []

    def check(s: Sim) -> None:
        pods = s.live_pods()  # Terminating pods count toward neither surge nor availability (kube's rule)
        ready = sum(1 for p in pods if _ready(p))
        seen.append((len(pods), ready))
        assert len(pods) <= replicas + max_surge, seen
        assert ready >= replicas - max_unavail, seen

    sim.set_image("nginx:1.26")
    sim.settle()
    check(sim)
    sim.advance(8.0, step=0.1, observe=check)
    rss = sorted(sim.replicasets(), key=revision)
    assert [r["spec"]["replicas"] for r in rss] == [0, replicas]
    assert images(rss[1]) == ["nginx:1.26"] and revision(rss[1]) == 2
    assert sim.deployment()["metadata"]["annotations"][REV] == "2"
    assert sim.condition("Progressing")["reason"] == "NewReplicaSetAvailable"
    assert any(n > replicas for n, _ in seen) or max_surge == 0  # it did surge when allowed


def test_recreate_removes_every_old_pod_before_creating_new_ones() -> None:
    sim = Sim(ready_delay=0.3)
    sim.apply(deployment(replicas=3, strategy={"type": "Recreate"}))
    sim.advance(0.5)
    old_rs = sim.replicasets()[0]["metadata"]["name"]

    def check(s: Sim) -> None:
        owners = {p["metadata"]["ownerReferences"][0]["name"] for p in s.pods()}
        assert len(owners) <= 1, owners

    sim.set_image("nginx:1.26")
    sim.settle()
    check(sim)
    sim.advance(2.0, observe=check)
    assert {p["metadata"]["ownerReferences"][0]["name"] for p in sim.pods()} != {old_rs}
    assert sim.deployment()["status"]["availableReplicas"] == 3


def test_revision_history_limit_prunes_the_oldest_revisions() -> None:
    sim = Sim(ready_delay=0.1)
    sim.apply(deployment(replicas=1, revisionHistoryLimit=2))
    sim.advance(0.3)
    for n in range(2, 7):
        sim.set_image(f"nginx:1.{n}")
        sim.advance(0.5)
    rss = sorted(sim.replicasets(), key=revision)
    assert [revision(r) for r in rss] == [4, 5, 6]
    assert [images(r)[0] for r in rss] == ["nginx:1.4", "nginx:1.5", "nginx:1.6"]


def test_undo_reuses_the_old_replicaset_with_a_new_revision_and_history() -> None:
    sim = Sim(ready_delay=0.1)
    sim.apply(deployment(image="app:a", replicas=1))
    sim.advance(0.3)
    sim.set_image("app:b")
    sim.advance(0.5)
    template_a = copy.deepcopy(next(r for r in sim.replicasets() if images(r) == ["app:a"])["spec"]["template"])
    names_before = {r["metadata"]["name"] for r in sim.replicasets()}
    sim.set_image("app:a")  # back to revision 1's template
    sim.advance(0.5)
    rs_a = next(r for r in sim.replicasets() if images(r) == ["app:a"])
    assert {r["metadata"]["name"] for r in sim.replicasets()} == names_before  # no new ReplicaSet
    assert revision(rs_a) == 3
    assert rs_a["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert rs_a["spec"]["template"] == template_a
    sim.set_image("app:b")
    sim.advance(0.5)
    sim.set_image("app:a")
    sim.advance(0.5)
    rs_a = next(r for r in sim.replicasets() if images(r) == ["app:a"])
    assert sim.deployment()["metadata"]["annotations"][REV] == str(revision(rs_a))
    assert revision(rs_a) == 5 and rs_a["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1,3"


def test_progress_deadline_exceeded_with_an_image_that_never_starts() -> None:
    sim = Sim(ready_delay=0.2, crash_period=1.0)
    sim.apply(deployment(replicas=2, progressDeadlineSeconds=5))
    sim.advance(0.5)
    sim.set_image("nginx:nopull")
    sim.advance(4.0)
    assert sim.condition("Progressing")["status"] == "True"
    sim.advance(2.0)
    cond = sim.condition("Progressing")
    new_rs = next(r for r in sim.replicasets() if images(r) == ["nginx:nopull"])
    assert cond["status"] == "False" and cond["reason"] == "ProgressDeadlineExceeded"
    assert cond["message"] == f'ReplicaSet "{new_rs["metadata"]["name"]}" has timed out progressing.'
    d = sim.deployment()
    assert d["status"]["availableReplicas"] == 2 and d["status"]["updatedReplicas"] == 1  # old pods kept serving
    sim.advance(3.0)
    assert sim.condition("Progressing")["reason"] == "ProgressDeadlineExceeded"  # kept
    sim.set_image("nginx:1.26")  # a new template resets it
    sim.settle()
    assert sim.condition("Progressing")["status"] == "True"
    assert sim.condition("Progressing")["reason"] in {"NewReplicaSetCreated", "ReplicaSetUpdated"}


def test_crash_images_are_ready_first_then_crash_loop_with_restarts_climbing() -> None:
    """A container with no readiness probe is Ready while it runs (a real kubelet): the crash comes after."""
    sim = Sim(ready_delay=0.2, crash_after=1.0, crash_period=0.5)
    sim.apply(deployment(image="nginx:crash", replicas=1))
    sim.advance(0.5)
    (pod,) = sim.pods()
    (status,) = pod["status"]["containerStatuses"]
    assert _ready(pod) and status["ready"] is True and status["restartCount"] == 0
    assert "running" in status["state"]
    assert sim.deployment()["status"]["availableReplicas"] == 1  # the rollout "completes" on a crashing image
    sim.advance(0.8)  # 1.3 s: crashed at 1.2 s
    (pod,) = sim.pods()
    (status,) = pod["status"]["containerStatuses"]
    assert pod["status"]["phase"] == "Running" and not _ready(pod)
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["ready"] is False and status["restartCount"] == 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    sim.advance(0.5)  # 1.8 s: running again after the back-off
    (pod,) = sim.pods()
    assert _ready(pod) and pod["status"]["containerStatuses"][0]["restartCount"] == 1
    sim.advance(3.0)  # 4.8 s: crashes at 1.2, 2.7, 4.2
    (pod,) = sim.pods()
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 3
    backoff = [e for e in sim.store.list(EVENTS, "default")[0] if e["reason"] == "BackOff"]
    assert backoff and backoff[0]["type"] == "Warning" and backoff[0]["count"] >= 3


def test_per_pod_timings_by_annotation_like_the_kwok_stages() -> None:
    sim = Sim(ready_delay=0.2)
    slow = deployment(replicas=1)
    slow["spec"]["template"]["metadata"]["annotations"] = {"hotfix.test/ready-delay": "1500ms"}
    sim.apply(slow)
    sim.advance(1.0)
    assert not any(_ready(p) for p in sim.pods())
    sim.advance(0.6)
    assert all(_ready(p) for p in sim.pods())


def test_deleted_pods_stay_terminating_for_the_grace_and_do_not_count() -> None:
    sim = Sim(ready_delay=0.1, terminate_delay=1.0)
    sim.apply(deployment(replicas=2))
    sim.advance(0.3)
    victim = sim.pods()[0]["metadata"]["name"]
    sim.api.delete(PODS, "default", victim)
    gone = sim.store.get(PODS, "default", victim)
    assert gone is not None and gone["metadata"]["deletionTimestamp"]
    assert gone["metadata"]["deletionGracePeriodSeconds"] == 30
    sim.advance(0.5)
    assert sim.store.get(PODS, "default", victim) is not None  # still Terminating
    assert len(sim.live_pods()) == 2  # the ReplicaSet replaced it at once
    rs = sim.replicasets()[0]
    assert rs["status"]["terminatingReplicas"] == 1 and rs["status"]["replicas"] == 2
    assert sim.deployment()["status"]["terminatingReplicas"] == 1
    sim.advance(0.6)
    assert sim.store.get(PODS, "default", victim) is None
    assert sim.deployment()["status"]["terminatingReplicas"] == 0
    now = sim.pods()[0]["metadata"]["name"]
    sim.api.delete(PODS, "default", now, {"gracePeriodSeconds": 0})  # --grace-period=0: at once
    assert sim.store.get(PODS, "default", now) is None


def test_quota_and_admission_denials_become_replica_failure_conditions() -> None:
    sim = Sim(ready_delay=0.1, deny_images=Settings.pattern(r"evil\.example/"))
    sim.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "pods", "namespace": "default"},
               "spec": {"hard": {"pods": "2"}}})  # fmt: skip
    sim.apply(deployment(replicas=3))
    sim.advance(0.5)
    assert len(sim.pods()) == 2
    cond = sim.condition("ReplicaFailure")
    assert cond is not None and cond["status"] == "True" and cond["reason"] == "FailedCreate"
    assert "exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2" in cond["message"]
    failed = [e for e in sim.store.list(EVENTS, "default")[0] if e["reason"] == "FailedCreate"]
    assert failed and failed[0]["type"] == "Warning" and failed[0]["message"].startswith("Error creating: pods ")
    quota = sim.store.get(QUOTAS, "default", "pods")
    assert quota is not None and quota["status"] == {"hard": {"pods": "2"}, "used": {"pods": "2"}}
    d = sim.deployment()
    d["spec"]["replicas"] = 2
    sim.api.update(DEPLOYMENTS, "default", "web", d)
    sim.advance(0.3)
    assert sim.condition("ReplicaFailure") is None  # cleared once creating succeeds again
    sim.apply(deployment(name="api", image="evil.example/api:1", replicas=1))
    sim.store.remove(QUOTAS, "default", "pods")
    sim.advance(0.5)
    denied = sim.condition("ReplicaFailure", name="api")
    assert denied is not None and "ValidatingAdmissionPolicy" in denied["message"]
    assert "denied request: images from this registry are not allowed" in denied["message"]


def test_pull_failures_and_unschedulable_pods_stay_pending_with_a_reason() -> None:
    sim = Sim(ready_delay=0.2)
    sim.apply(deployment(image="nginx:nopull", replicas=1))
    unschedulable = deployment(name="api", replicas=1)
    unschedulable["spec"]["template"]["spec"]["nodeSelector"] = {"disktype": "ssd"}
    sim.apply(unschedulable)
    sim.advance(1.0)
    by_app = {p["metadata"]["labels"]["app"]: p for p in sim.pods()}
    web, api = by_app["web"], by_app["api"]
    assert web["status"]["phase"] == "Pending"
    assert web["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
    assert api["status"]["phase"] == "Pending"
    assert api["status"]["conditions"][0]["reason"] == "Unschedulable"


def test_pause_stops_new_replicasets_and_resume_rolls_out() -> None:
    sim = Sim(ready_delay=0.2)
    sim.apply(deployment(replicas=2))
    sim.advance(0.5)
    d = sim.deployment()
    d["spec"]["paused"] = True
    sim.api.update(DEPLOYMENTS, "default", "web", d)
    sim.set_image("nginx:1.26")
    sim.advance(1.0)
    assert len(sim.replicasets()) == 1
    assert sim.condition("Progressing")["reason"] == "DeploymentPaused"
    assert sim.condition("Progressing")["status"] == "Unknown"
    d = sim.deployment()
    assert d["status"]["observedGeneration"] == d["metadata"]["generation"]
    d["spec"]["replicas"] = 4  # scaling still applies while paused
    sim.api.update(DEPLOYMENTS, "default", "web", d)
    sim.advance(0.5)
    assert len(sim.pods()) == 4
    d = sim.deployment()
    del d["spec"]["paused"]
    sim.api.update(DEPLOYMENTS, "default", "web", d)
    sim.settle()
    assert len(sim.replicasets()) == 2
    sim.advance(3.0)
    assert sim.condition("Progressing")["reason"] == "NewReplicaSetAvailable"
    assert all(images(r) == ["nginx:1.26"] for r in sim.replicasets() if r["spec"]["replicas"])


def test_scaling_changes_generation_and_pod_count() -> None:
    sim = Sim(ready_delay=0.1)
    sim.apply(deployment(replicas=2))
    sim.advance(0.3)
    d = sim.deployment()
    d["spec"]["replicas"] = 5
    stored = sim.api.update(DEPLOYMENTS, "default", "web", d)
    assert stored["metadata"]["generation"] == 2
    sim.advance(0.3)
    assert len(sim.pods()) == 5 and sim.deployment()["status"]["observedGeneration"] == 2
    d = sim.deployment()
    d["spec"]["replicas"] = 1
    sim.api.update(DEPLOYMENTS, "default", "web", d)
    sim.advance(0.3)
    assert len(sim.live_pods()) == 1 and len(sim.replicasets()) == 1
    sim.advance(0.5)  # the Terminating ones are gone after their grace
    assert len(sim.pods()) == 1


def test_deleting_a_deployment_cascades_unless_orphaned() -> None:
    sim = Sim(ready_delay=0.1)
    sim.apply(deployment(replicas=2))
    sim.apply(deployment(name="api", replicas=1))
    sim.advance(0.3)
    sim.api.delete(DEPLOYMENTS, "default", "web")
    assert [r["metadata"]["name"].split("-")[0] for r in sim.replicasets()] == ["api"]
    assert {p["metadata"]["labels"]["app"] for p in sim.live_pods()} == {"api"}  # web's are Terminating
    sim.advance(0.5)
    assert {p["metadata"]["labels"]["app"] for p in sim.pods()} == {"api"}
    sim.api.delete(DEPLOYMENTS, "default", "api", {"propagationPolicy": "Orphan"})
    (rs,) = sim.replicasets()
    assert "ownerReferences" not in rs["metadata"]
    assert len(sim.pods()) == 1


def test_events_record_scaling_and_pod_creation() -> None:
    sim = Sim(ready_delay=0.1)
    sim.apply(deployment(replicas=2))
    sim.advance(0.3)
    events = sim.store.list(EVENTS, "default")[0]
    rs = sim.replicasets()[0]["metadata"]["name"]
    messages = {(e["involvedObject"]["kind"], e["reason"], e["message"]) for e in events}
    assert ("Deployment", "ScalingReplicaSet", f"Scaled up replica set {rs} from 0 to 2") in messages
    assert sum(1 for k, r, _ in messages if (k, r) == ("ReplicaSet", "SuccessfulCreate")) == 2


def test_pod_and_replicaset_status_counts() -> None:
    sim = Sim(ready_delay=0.5)
    sim.apply(deployment(replicas=3, minReadySeconds=1))
    sim.settle()
    sim.advance(0.7)
    rs = sim.replicasets()[0]
    assert rs["status"]["replicas"] == 3 and rs["status"]["readyReplicas"] == 3
    assert rs["status"].get("availableReplicas", 0) == 0  # minReadySeconds not yet passed
    sim.advance(1.0)
    rs = sim.replicasets()[0]
    assert rs["status"]["availableReplicas"] == 3 and rs["status"]["fullyLabeledReplicas"] == 3
    pod = sim.pods()[0]
    assert pod["spec"]["nodeName"] == "sandbox-node" and pod["status"]["podIP"].startswith("10.244.")
    assert sim.store.get(PODS, "default", pod["metadata"]["name"]) is not None
    assert sim.store.get(REPLICASETS, "default", rs["metadata"]["name"]) is not None
