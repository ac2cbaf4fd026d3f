"""The rollback's core promises on both clusters (house rule 13): undo to the LKG and a second run that changes
nothing, --to previous-lkg, --to-revision in kubectl's numbering, a pruned LKG ReplicaSet rebuilt from the record, a
paused Deployment refused unless --resume, and the blue-green switch. The fault-injection cases (409s, 503s) stay
on the sandbox, the only cluster that can inject them (test_rollback_sandbox.py)."""

from __future__ import annotations

import time
from typing import Any

from hotfix_actions.config.rollback import BlueGreenConfig, RollbackConfig
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ConflictError, ExitCode
from hotfix_actions.kube.cluster import KubeCluster
from hotfix_actions.services.rollback import RollbackRequest, run
from tests.clusters import KubeUnderTest
from tests.kube.kubefix import GOOD, GOOD2, context, deployment, printed, service
from tests.rollback.truth import LOCK, ROLLBACK, live_image, promote_lkg, start, tool

BAD = "registry.example/web:2.0"  # healthy pods, a bad release


def req(kube: KubeUnderTest, **kwargs: Any) -> RollbackRequest:
    return RollbackRequest(namespace=kube.namespace, deployment="web", run_id="run-1", **kwargs)


def revisions(kube: KubeUnderTest, name: str = "web") -> dict[int, str]:
    found = {}
    for rs in kube.list("apps/v1", "replicasets", kube.namespace):
        if rs["metadata"]["name"].startswith(f"{name}-"):
            found[int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])] = rs["spec"]["template"][
                "spec"
            ]["containers"][0]["image"]
    return found


def deploy(kube: KubeUnderTest, cluster: KubeCluster, image: str) -> None:
    cluster.set_images(kube.namespace, "web", {"web": image}, f"deploy {image}")
    kube.wait_for(lambda: live_image(kube) == image and kube.rollout_complete(kube.namespace, "web"), timeout=60)


def test_undo_twice_the_second_changes_nothing(kube: KubeUnderTest) -> None:
    start(kube, GOOD)
    with tool(kube) as cluster:
        promote_lkg(kube, cluster)
        deploy(kube, cluster, BAD)
        first = run(req(kube, strategy="undo", reason="INC-1"), ROLLBACK, context(cluster))
        assert first.verdict is Verdict.PASS and first.outputs["to-image"] == GOOD, first.reasons
        before = revisions(kube)
        second = run(req(kube, strategy="undo"), ROLLBACK, context(cluster))
    assert second.verdict is Verdict.PASS and second.outputs["changed"] == "false"
    assert any("already matches" in r.reason for r in second.rows)
    assert revisions(kube) == before and live_image(kube) == GOOD  # nothing written: no new revision


def test_previous_lkg_and_to_revision_in_kubectls_numbering(kube: KubeUnderTest) -> None:
    start(kube, GOOD)
    with tool(kube) as cluster:
        promote_lkg(kube, cluster, GOOD)
        promote_lkg(kube, cluster, GOOD2)  # verified, then bad in production
        ctx = context(cluster)
        back = run(req(kube, strategy="undo", to_previous=True), ROLLBACK, ctx)
        assert back.verdict is Verdict.PASS and live_image(kube) == GOOD, back.reasons
        assert "the release before web=" + GOOD2 in printed(ctx.reporter)
        numbers = revisions(kube)
        assert numbers[max(numbers)] == GOOD  # revision 1 came back as the newest number
        to_two = run(
            req(kube, to_revision=max(k for k, v in numbers.items() if v == GOOD2)), ROLLBACK, context(cluster)
        )
        assert to_two.verdict is Verdict.PASS and live_image(kube) == GOOD2
        missing = run(req(kube, to_revision=99), ROLLBACK, context(cluster))
    assert missing.code is ExitCode.USAGE and "unable to find revision 99" in missing.reasons[0]


def test_a_pruned_lkg_is_rebuilt_from_the_record(kube: KubeUnderTest) -> None:
    start(kube, GOOD, revisionHistoryLimit=1)
    with tool(kube) as cluster:
        promote_lkg(kube, cluster)
        for n in range(3):
            deploy(kube, cluster, f"registry.example/web:2.{n}")
        kube.wait_for(lambda: GOOD not in revisions(kube).values(), timeout=30)  # its ReplicaSet is gone
        ctx = context(cluster)
        outcome = run(req(kube), ROLLBACK, ctx)
    assert outcome.verdict is Verdict.PASS, outcome.reasons
    assert "stored pod template" in printed(ctx.reporter)
    assert live_image(kube) == GOOD and kube.rollout_complete(kube.namespace, "web")


def test_a_paused_deployment_is_refused_unless_resume(kube: KubeUnderTest) -> None:
    start(kube, GOOD)
    with tool(kube) as cluster:
        promote_lkg(kube, cluster)
        deploy(kube, cluster, BAD)
        for _ in range(10):
            dep = cluster.get("deployments", kube.namespace, "web")
            dep["spec"]["paused"] = True
            try:
                cluster.replace("deployments", kube.namespace, dep)
                break
            except ConflictError:
                continue
        refused = run(req(kube), ROLLBACK, context(cluster))
        assert refused.code is ExitCode.USAGE and "is paused" in refused.reasons[0] and live_image(kube) == BAD
        resumed = run(req(kube, resume=True), ROLLBACK, context(cluster))
    assert resumed.verdict is Verdict.PASS, resumed.reasons
    live = kube.get("apps/v1", "deployments", kube.namespace, "web")
    assert live is not None and not live["spec"].get("paused") and live_image(kube) == GOOD


def test_blue_green_switches_only_to_ready_pods(kube: KubeUnderTest) -> None:
    for color, image in (("blue", GOOD), ("green", GOOD2)):
        manifest = deployment(f"web-{color}", image=image, labels={"color": color}, namespace=kube.namespace)
        for labels in (manifest["spec"]["selector"]["matchLabels"], manifest["spec"]["template"]["metadata"]["labels"]):
            labels["app"] = "web"
        kube.apply(manifest)
        kube.wait_rollout(kube.namespace, f"web-{color}", timeout=60)
    kube.apply(service("web", {"app": "web", "color": "blue"}, namespace=kube.namespace))
    cfg = RollbackConfig(blue_green=BlueGreenConfig(grace_seconds=0), lock=LOCK)
    with tool(kube) as cluster:
        outcome = run(req(kube, strategy="blue-green"), cfg, context(cluster))
        assert outcome.verdict is Verdict.PASS, outcome.reasons
        svc = kube.get("v1", "services", kube.namespace, "web")
        assert svc is not None and svc["spec"]["selector"]["color"] == "green"
        blue = kube.get("apps/v1", "deployments", kube.namespace, "web-blue")
        assert blue is not None and blue["spec"]["replicas"] == 0
        again = run(req(kube, strategy="blue-green"), cfg, context(cluster))
    assert again.outputs["action"] == "no-op" and again.verdict is Verdict.PASS


def test_blue_green_never_switches_to_a_color_that_crashes_after_ready(kube: KubeUnderTest) -> None:
    """The green pods run an image that turns Ready and then crashes: Ready between two crashes is not enough."""
    for color, image in (("blue", GOOD), ("green", "registry.example/web:crash")):
        manifest = deployment(f"web-{color}", image=image, labels={"color": color}, namespace=kube.namespace)
        for labels in (manifest["spec"]["selector"]["matchLabels"], manifest["spec"]["template"]["metadata"]["labels"]):
            labels["app"] = "web"
        kube.apply(manifest)
    kube.wait_rollout(kube.namespace, "web-blue", timeout=60)

    def green_restarted() -> bool:
        pods = kube.list("v1", "pods", kube.namespace, label_selector="color=green")
        return bool(pods) and all(
            (p.get("status") or {}).get("containerStatuses", [{}])[0].get("restartCount", 0) >= 1 for p in pods
        )

    kube.wait_for(green_restarted, timeout=60)
    kube.apply(service("web", {"app": "web", "color": "blue"}, namespace=kube.namespace))
    cfg = RollbackConfig(blue_green=BlueGreenConfig(grace_seconds=0), lock=LOCK)
    reasons = []
    with tool(kube) as cluster:
        for _ in range(12):  # the green pods are Ready about half the time: ask again and again
            outcome = run(req(kube, strategy="blue-green"), cfg, context(cluster))
            assert outcome.verdict is Verdict.FAIL and outcome.code is ExitCode.REJECTED, outcome.reasons
            svc = kube.get("v1", "services", kube.namespace, "web")
            assert svc is not None and svc["spec"]["selector"]["color"] == "blue"
            reasons.append(outcome.reasons[0])
            time.sleep(0.25)
    assert any("the green color's pods crash: " in r and "the Service stays on blue" in r for r in reasons), reasons
