"""`hotfix promote` against the sandbox: LKG recorded, canary follows or scales to zero, failed promotes roll back."""

from __future__ import annotations

from typing import Any

from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import HealthCheck, LockConfig
from hotfix_actions.decide.lkg import LkgRecord, history
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ExitCode
from hotfix_actions.kube.cluster import KubeCluster
from hotfix_actions.sandbox import Sandbox
from hotfix_actions.services.promote import PromoteRequest, run
from tests.kube.kubefix import (
    BAD,
    GOOD,
    GOOD2,
    NS,
    RecordingDeployments,
    RecordingNotifier,
    context,
    deployment,
    image_of,
)

LOCK = LockConfig(ttl_seconds=30, timeout_seconds=2)
CFG = PromoteConfig(wait_timeout=20, settle_seconds=0)
SETTLE = PromoteConfig(wait_timeout=20)  # the default settle window: crashes after Ready are caught
CRASH = ("CrashLoopBackOff", "Restarted", "Error", "RunContainerError")


def req(image: str, **kwargs: Any) -> PromoteRequest:
    kwargs.setdefault("fail_fast_after", 0.5)
    return PromoteRequest(
        namespace=NS, deployment="web", image=image, run_id="run-5", run_url="https://ci/run/5", **kwargs
    )


def lkg(cluster: KubeCluster) -> LkgRecord | None:
    return LkgRecord.from_annotations(cluster.get("deployments", NS, "web")["metadata"].get("annotations"))


def test_promote_records_the_lkg_and_the_change_cause(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    github, notifier = RecordingDeployments(), RecordingNotifier()
    ctx = context(cluster, deployments=github, notifier=notifier)
    outcome = run(req(GOOD2, version="1.1.0", environment="production", ref="deadbeef"), CFG, LOCK, ctx)
    assert outcome.verdict is Verdict.PASS, outcome.reasons
    assert image_of(sandbox) == GOOD2 and sandbox.rollout_complete(NS, "web")
    record = lkg(cluster)
    assert record is not None and record.images == (("web", GOOD2),) and record.source == "promote"
    assert record.run_url == "https://ci/run/5" and record.revision == 2 and record.template_hash
    rs = [
        r
        for r in sandbox.list("apps/v1", "replicasets", NS)
        if r["metadata"]["labels"]["pod-template-hash"] == record.template_hash
    ]
    assert rs and "hotfix promote 1.1.0 by run run-5" in rs[0]["metadata"]["annotations"]["kubernetes.io/change-cause"]
    assert outcome.outputs["revision"] == "2"
    assert [c[0] for c in github.calls] == ["start", "finish"] and github.calls[-1][2] == "success"
    assert [e.kind for e in notifier.events] == ["promoted"]
    # promoting the same image again changes nothing but re-verifies and keeps one history entry
    again = run(req(GOOD2), CFG, LOCK, context(cluster))
    assert again.verdict is Verdict.PASS and "already live" in again.rows[2].reason
    dep = cluster.get("deployments", NS, "web")
    assert [r.images for r in history(dep["metadata"]["annotations"])] == [(("web", GOOD2),)]


def test_failed_promote_rolls_back_to_the_lkg(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    assert run(req(GOOD), CFG, LOCK, context(cluster)).verdict is Verdict.PASS
    cluster.waiter.pod_check = 0.3
    github = RecordingDeployments()
    ctx = context(cluster, deployments=github)
    outcome = run(req(BAD, environment="production", ref="abc"), SETTLE, LOCK, ctx)
    assert outcome.verdict is Verdict.FAIL and outcome.code is ExitCode.REJECTED
    assert outcome.outputs["rolled-back"] == "true" and outcome.outputs["blocking-reason"] in CRASH
    assert any("new pods crash" in r and outcome.outputs["blocking-reason"] in r for r in outcome.reasons)
    assert any(r.check == "rollback" and GOOD in r.reason for r in outcome.rows)
    assert image_of(sandbox) == GOOD and sandbox.rollout_complete(NS, "web")
    assert github.calls[-1][2] == "inactive"
    record = lkg(cluster)
    assert record is not None and record.image == GOOD  # the bad image never became the LKG


def test_no_rollback_on_failure_keeps_the_failed_release(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    cluster.waiter.pod_check = 0.3
    outcome = run(req(BAD, rollback_on_failure=False), SETTLE, LOCK, context(cluster))
    assert outcome.verdict is Verdict.FAIL and outcome.outputs["rolled-back"] == "false"
    assert any(r.check == "rollback" and "--no-rollback-on-failure" in r.reason for r in outcome.rows)
    assert image_of(sandbox) == BAD


def test_smoke_check_failure_rolls_back_to_the_revision_before(sandbox: Sandbox, cluster: KubeCluster,
                                                              http_app: tuple[str, list[int]]) -> None:  # fmt: skip
    url, statuses = http_app
    statuses[:] = [500]
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    cfg = PromoteConfig(wait_timeout=20, settle_seconds=0, smoke_checks=(HealthCheck(url=url, retries=1, interval=0),))
    outcome = run(req(GOOD2), cfg, LOCK, context(cluster))
    assert outcome.verdict is Verdict.FAIL
    assert any(r.check == f"smoke: {url}" and "HTTP 500" in r.reason for r in outcome.rows)
    assert image_of(sandbox) == GOOD  # no LKG yet: back to the revision that was live before the promote
    assert lkg(cluster) is not None and lkg(cluster).image == GOOD  # type: ignore[union-attr]


def test_canary_follows_or_scales_to_zero(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.apply(deployment("web-canary", image=GOOD2, replicas=1))
    sandbox.wait_rollout(NS, "web")
    follow = run(req(GOOD2, canary="follow"), CFG, LOCK, context(cluster))
    assert follow.verdict is Verdict.PASS
    assert image_of(sandbox, "web-canary") == GOOD2
    zero = run(req("registry.example/web:1.2"), CFG, LOCK, context(cluster))
    assert zero.verdict is Verdict.PASS
    canary = sandbox.get("apps/v1", "deployments", NS, "web-canary")
    assert canary is not None and canary["spec"]["replicas"] == 0
    assert any(r.check == "canary" and "scaled to zero" in r.reason for r in zero.rows)


def test_dry_run_promote_writes_nothing(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    before = sandbox.get("apps/v1", "deployments", NS, "web")
    outcome = run(req(GOOD2, dry_run=True), CFG, LOCK, context(cluster))
    after = sandbox.get("apps/v1", "deployments", NS, "web")
    assert outcome.verdict is Verdict.PASS and outcome.outputs["dry-run"] == "true"
    assert before is not None and after is not None
    assert before["metadata"]["resourceVersion"] == after["metadata"]["resourceVersion"]
