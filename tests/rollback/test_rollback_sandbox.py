"""`hotfix rollback` end to end against the sandbox through the real client: every strategy, idempotency, races,
pruned history, paused and crash-looping Deployments, flaky and dead API servers, locks, bad input."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import BlueGreenConfig, HealthCheck, LockConfig, RollbackConfig
from hotfix_actions.decide.lkg import LkgRecord
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ClusterError, ConflictError, ExitCode, LockHeldError, NotFoundError, UsageError
from hotfix_actions.kube import ConnectOptions, connect
from hotfix_actions.kube.cluster import KubeCluster
from hotfix_actions.sandbox import Sandbox
from hotfix_actions.services import promote
from hotfix_actions.services.rollback import RollbackRequest, run
from tests.kube.kubefix import (
    BAD,
    FAST,
    GOOD,
    GOOD2,
    NS,
    RecordingDeployments,
    RecordingNotifier,
    context,
    deployment,
    image_of,
    printed,
    rs_images,
    service,
)

CFG = RollbackConfig(wait_timeout=20, lock=LockConfig(ttl_seconds=30, timeout_seconds=2))


def req(**kwargs: Any) -> RollbackRequest:
    kwargs.setdefault("fail_fast_after", 1.0)
    return RollbackRequest(namespace=NS, deployment="web", run_id="run-1", **kwargs)


def promoted(sb: Sandbox, cluster: KubeCluster, *images: str, **spec: Any) -> None:
    """Deploy the first image and promote each image in turn (each becomes the last-known-good)."""
    sb.apply(deployment(image=images[0], **spec))
    sb.wait_rollout(NS, "web")
    for image in images:
        outcome = promote.run(
            promote.PromoteRequest(namespace=NS, deployment="web", image=image, run_id="promote-run"),
            PromoteConfig(wait_timeout=20, settle_seconds=0),
            CFG.lock,
            context(cluster),
        )
        assert outcome.verdict is Verdict.PASS, outcome.reasons


def bad_deploy(sb: Sandbox, cluster: KubeCluster, image: str = BAD) -> None:
    """Someone deploys outside the tool (a pipeline, kubectl set image), and the deployment controller has seen it
    (its ReplicaSet and revision exist): two deploys in a row that the controller sees as one make one revision,
    on a real cluster too."""
    cluster.set_images(NS, "web", {"web": image}, "kubectl set image")

    def observed() -> bool:
        dep = sb.get("apps/v1", "deployments", NS, "web") or {}
        seen = int((dep.get("status") or {}).get("observedGeneration") or 0)
        return image_of(sb) == image and seen >= int(dep["metadata"]["generation"])

    sb.wait_for(observed)


def test_undo_twice_second_is_noop_and_the_bad_image_never_returns(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    first = run(req(strategy="undo", reason="INC-1"), CFG, context(cluster))
    assert first.verdict is Verdict.PASS, first.reasons
    assert first.outputs["action"] == "update" and first.outputs["to-image"] == GOOD
    assert image_of(sandbox) == GOOD and sandbox.rollout_complete(NS, "web")
    dep = sandbox.get("apps/v1", "deployments", NS, "web")
    assert dep is not None and "INC-1" in dep["metadata"]["annotations"]["kubernetes.io/change-cause"]
    revisions_after_first = rs_images(sandbox)
    second = run(req(strategy="undo"), CFG, context(cluster))
    assert second.verdict is Verdict.PASS and second.code is ExitCode.OK
    assert second.outputs["action"] == "no-op" and second.outputs["changed"] == "false"
    assert any("already matches" in r.reason for r in second.rows)
    assert image_of(sandbox) == GOOD
    assert rs_images(sandbox) == revisions_after_first  # nothing was written: no new revision
    assert max(rs_images(sandbox)) == max(k for k, v in rs_images(sandbox).items() if v == GOOD)


def test_a_release_promote_verified_is_rolled_back_to_the_one_before(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD, GOOD2)  # GOOD2 passed its checks, then turned out bad in production
    plain = run(req(strategy="undo"), CFG, context(cluster))  # its LKG is itself: nothing to do, and it says so
    assert plain.outputs["action"] == "no-op" and image_of(sandbox) == GOOD2
    assert any("use --to previous-lkg" in r.reason for r in plain.rows)
    ctx = context(cluster)
    first = run(req(strategy="undo", to_previous=True), CFG, ctx)
    assert first.verdict is Verdict.PASS and image_of(sandbox) == GOOD
    assert "the release before web=" + GOOD2 in printed(ctx.reporter)
    for again in (req(strategy="undo", to_previous=True), req(strategy="undo")):
        outcome = run(again, CFG, context(cluster))
        assert outcome.outputs["action"] == "no-op" and image_of(sandbox) == GOOD


def test_to_revision_and_a_revision_that_does_not_exist(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    bad_deploy(sandbox, cluster, GOOD2)
    bad_deploy(sandbox, cluster)
    done = run(req(to_revision=1), CFG, context(cluster))
    assert done.verdict is Verdict.PASS and image_of(sandbox) == GOOD
    missing = run(req(to_revision=7), CFG, context(cluster))
    assert missing.verdict is Verdict.FAIL and missing.code is ExitCode.USAGE
    assert "unable to find revision 7" in missing.reasons[0] and "revisions that exist: 2, 3, 4" in missing.reasons[0]


def test_no_lkg_and_no_target_refuses_instead_of_guessing(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    bad_deploy(sandbox, cluster)
    outcome = run(req(), CFG, context(cluster))
    assert outcome.code is ExitCode.USAGE and "no last-known-good record" in outcome.reasons[0]
    assert image_of(sandbox) == BAD


def test_redeploy_sets_images_on_named_containers(sandbox: Sandbox, cluster: KubeCluster) -> None:
    two = [{"name": "web", "image": BAD}, {"name": "sidecar", "image": "registry.example/proxy:2"}]
    sandbox.apply(deployment(containers=two))
    ambiguous = run(req(strategy="redeploy", to_image=GOOD), CFG, context(cluster))
    assert ambiguous.code is ExitCode.USAGE and "2 containers (web, sidecar)" in ambiguous.reasons[0]
    missing = run(req(strategy="redeploy", to_image=GOOD, containers=("api",)), CFG, context(cluster))
    assert missing.code is ExitCode.USAGE and "no container named api (containers: web, sidecar)" in missing.reasons[0]
    done = run(req(strategy="redeploy", to_image=GOOD, containers=("web",)), CFG, context(cluster))
    assert done.verdict is Verdict.PASS, done.reasons
    dep = sandbox.get("apps/v1", "deployments", NS, "web")
    assert dep is not None
    assert [c["image"] for c in dep["spec"]["template"]["spec"]["containers"]] == [GOOD, "registry.example/proxy:2"]


def test_medium_severity_redeploys_the_previous_release(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    outcome = run(req(strategy="auto", severity="medium"), CFG, context(cluster))
    assert outcome.verdict is Verdict.PASS and outcome.outputs["strategy"] == "redeploy"
    assert any("matrix row [medium: redeploy]" in r.reason for r in outcome.rows)
    assert image_of(sandbox) == GOOD


def test_low_severity_does_not_roll_back_and_says_so(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    outcome = run(req(strategy="auto", severity="low"), CFG, context(cluster))
    assert outcome.verdict is Verdict.PASS and outcome.outputs["action"] == "none"
    assert "no rollback by policy" in outcome.reasons[0] and image_of(sandbox) == BAD


def test_a_409_from_the_server_means_reread_and_decide_again(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    armed = ConflictOnDeploymentWrite(cluster, sandbox)
    ctx = context(armed)  # type: ignore[arg-type]
    outcome = run(req(), CFG, ctx)
    assert armed.armed == 0 and sandbox.faults.state()["injected"] == 1
    assert outcome.verdict is Verdict.PASS and image_of(sandbox) == GOOD
    assert "changed after it was read: re-reading" in printed(ctx.reporter)


class ConflictOnDeploymentWrite:
    """The real adapter; the sandbox answers 409 to the first Deployment write (its conflict_next_write knob)."""

    def __init__(self, inner: KubeCluster, sb: Sandbox) -> None:
        self.inner, self.sb, self.armed = inner, sb, 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def replace(self, kind: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        if kind == "deployments" and self.armed:
            self.armed -= 1
            self.sb.faults.conflict_next_write(1)
        return self.inner.replace(kind, namespace, obj)


class RacingCluster:
    """The real adapter, plus another pipeline that deploys between our read and our write (once)."""

    def __init__(self, inner: KubeCluster, other: KubeCluster, image: str) -> None:
        self.inner, self.other, self.image, self.raced = inner, other, image, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def replace(self, kind: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        if kind == "deployments" and not self.raced:
            self.raced = True
            self.other.set_images(namespace, obj["metadata"]["name"], {"web": self.image}, "the other pipeline")
        return self.inner.replace(kind, namespace, obj)


def test_a_deploy_landing_between_read_and_write_is_not_lost(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    with connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path)), FAST) as other:
        racing = RacingCluster(cluster, other, "registry.example/web:racer")
        ctx = context(racing)  # type: ignore[arg-type]
        outcome = run(req(), CFG, ctx)
    assert racing.raced and outcome.verdict is Verdict.PASS
    text = printed(ctx.reporter)
    assert "conflict" in text and "re-reading" in text
    # the racer's deploy really landed (a revision of its own) and was seen before the rollback won
    assert "registry.example/web:racer" in rs_images(sandbox).values()
    assert "web=registry.example/web:racer -> " in text or "web registry.example/web:racer -> " in text
    assert image_of(sandbox) == GOOD


def test_pruned_lkg_replicaset_is_rebuilt_from_the_record(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD, revisionHistoryLimit=1)
    for n in range(3):
        bad_deploy(sandbox, cluster, f"registry.example/web:2.{n}")
        sandbox.wait_rollout(NS, "web")
    assert GOOD not in rs_images(sandbox).values()  # its ReplicaSet is gone
    ctx = context(cluster)
    outcome = run(req(), CFG, ctx)
    assert outcome.verdict is Verdict.PASS, outcome.reasons
    assert "stored pod template" in printed(ctx.reporter) and "revisions that exist" in printed(ctx.reporter)
    assert image_of(sandbox) == GOOD and sandbox.rollout_complete(NS, "web")


def test_paused_deployment_is_refused_unless_resume(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    for _ in range(10):  # the controller keeps writing the crash-looping deployment's status: re-read on a 409
        dep = cluster.get("deployments", NS, "web")
        dep["spec"]["paused"] = True
        try:
            cluster.replace("deployments", NS, dep)
            break
        except ConflictError:
            continue
    refused = run(req(), CFG, context(cluster))
    assert refused.code is ExitCode.USAGE and "is paused" in refused.reasons[0] and "--resume" in refused.reasons[0]
    assert image_of(sandbox) == BAD
    resumed = run(req(resume=True), CFG, context(cluster))
    assert resumed.verdict is Verdict.PASS, resumed.reasons
    live = sandbox.get("apps/v1", "deployments", NS, "web")
    assert live is not None and not live["spec"].get("paused") and image_of(sandbox) == GOOD


def test_crash_looping_target_fails_naming_the_reason(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    cluster.waiter.pod_check = 0.3
    request = req(to_image="registry.example/web:crash", fail_fast_after=None, settle_seconds=5)
    outcome = run(request, CFG, context(cluster))
    assert outcome.verdict is Verdict.FAIL and outcome.code is ExitCode.REJECTED
    reason = outcome.outputs["blocking-reason"]
    assert reason in ("CrashLoopBackOff", "Restarted", "Error", "RunContainerError")
    assert any("new pods crash" in r and reason in r for r in outcome.reasons)


def test_api_failing_three_times_then_recovering(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    sandbox.faults.fail_next(3, 503)
    outcome = run(req(), CFG, context(cluster))
    assert outcome.verdict is Verdict.PASS and image_of(sandbox) == GOOD
    assert sandbox.faults.state()["injected"] >= 3


def test_api_down_past_the_deadline_is_a_loud_failure(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    sandbox.faults.fail_next(100_000, 503)
    with pytest.raises(ClusterError, match="HTTP 503"):
        run(req(), CFG, context(cluster))
    sandbox.faults.clear()
    assert image_of(sandbox) == BAD


def test_lock_held_by_another_run(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    assert cluster.acquire_lease(NS, "hotfix-lock-web", "github-run-77-1", 60).acquired
    with pytest.raises(LockHeldError) as info:
        run(req(lock_timeout=0.3), CFG, context(cluster, sleep=time.sleep))
    text = str(info.value)
    assert re.search(
        r'deployment "web" is locked by github-run-77-1 since \d{4}-\d\d-\d\dT[\d:]+Z, renewed \d+ s ago', text
    )
    assert "lock timeout 0s" in text and info.value.exit_code is ExitCode.LOCKED
    assert image_of(sandbox) == BAD
    # the other run finishes within our lock timeout: we proceed
    threading.Timer(0.3, lambda: cluster.release_lease(NS, "hotfix-lock-web", "github-run-77-1")).start()
    outcome = run(req(lock_timeout=5), CFG, context(cluster, sleep=time.sleep))
    assert outcome.verdict is Verdict.PASS and image_of(sandbox) == GOOD
    lease = cluster.read_lease(NS, "hotfix-lock-web")
    assert lease is not None and lease.holder == ""  # released after use


@pytest.mark.parametrize(
    ("fields", "error", "text"),
    [
        ({"deployment": "Web_App"}, UsageError, "deployment: 'Web_App' is not a DNS-1123"),
        ({"namespace": "prod;rm"}, UsageError, "namespace: 'prod;rm' is not a DNS-1123"),
        ({"containers": ("-x",)}, UsageError, "container"),
        ({"to_image": "web:latest; curl x"}, UsageError, "to-image"),
        ({"to_revision": 0}, UsageError, "not a revision number"),
        ({"to_revision": 2, "to_image": GOOD}, UsageError, "choose one target"),
        (
            {"deployment": "ghost"},
            NotFoundError,
            'deployment "ghost" not found in namespace "default" (deployments there: web)',
        ),
        ({"namespace": "nowhere"}, NotFoundError, 'namespace "nowhere" does not exist'),
    ],
)
def test_bad_or_missing_names(sandbox: Sandbox, cluster: KubeCluster, fields: dict[str, Any], error: type[Exception],
                              text: str) -> None:  # fmt: skip
    sandbox.apply(deployment())
    before = sandbox.faults.state()
    request = RollbackRequest(**{"namespace": NS, "deployment": "web", "run_id": "r", "to_revision": 1, **fields})
    with pytest.raises(error) as info:
        run(request, CFG, context(cluster))
    assert text in str(info.value)
    assert sandbox.faults.state() == before


def test_dry_run_changes_nothing_and_snapshot_is_taken(sandbox: Sandbox, cluster: KubeCluster, tmp_path: Path) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster, GOOD2)
    sandbox.wait_rollout(NS, "web")
    before = sandbox.get("apps/v1", "deployments", NS, "web")
    lease_before = cluster.read_lease(NS, "hotfix-lock-web")  # left by the promote
    outcome = run(req(dry_run=True, snapshot_dir=str(tmp_path)), CFG, context(cluster))
    after = sandbox.get("apps/v1", "deployments", NS, "web")
    assert outcome.verdict is Verdict.PASS and outcome.outputs["dry-run"] == "true"
    assert before is not None and after is not None
    for key in ("generation", "annotations", "labels"):  # nothing written (status still moves: controllers)
        assert before["metadata"].get(key) == after["metadata"].get(key)
    assert before["spec"] == after["spec"]
    lease_after = cluster.read_lease(NS, "hotfix-lock-web")  # no lock taken either
    assert lease_before is not None and lease_after is not None and lease_after.renewed == lease_before.renewed
    doc = yaml.safe_load(Path(outcome.outputs["snapshot"]).read_text())
    kinds = [i["kind"] for i in doc["items"]]
    assert kinds.count("Deployment") == 1 and kinds.count("ReplicaSet") == 2
    assert doc["metadata"]["hotfix-actions"]["lkg"]["current"]["images"] == {"web": GOOD}


def blue_green(sb: Sandbox, live: str = "blue", green_replicas: int = 2, green_image: str = GOOD2) -> None:
    for color, image, replicas in (("blue", GOOD, 2), ("green", green_image, green_replicas)):
        manifest = deployment(f"web-{color}", image=image, replicas=replicas, labels={"color": color})
        for labels in (manifest["spec"]["selector"]["matchLabels"], manifest["spec"]["template"]["metadata"]["labels"]):
            labels["app"] = "web"  # both colors carry app=web; the Service picks one by color
        sb.apply(manifest)
    sb.apply(service("web", {"app": "web", "color": live}))
    sb.wait_rollout(NS, "web-blue")
    if green_image == GOOD2:
        sb.wait_rollout(NS, "web-green")


BG = RollbackConfig(blue_green=BlueGreenConfig(grace_seconds=0.2), lock=LockConfig(ttl_seconds=30, timeout_seconds=2))


def test_blue_green_switch_then_retire_then_noop(sandbox: Sandbox, cluster: KubeCluster, tmp_path: Path) -> None:
    blue_green(sandbox)
    waited: list[float] = []
    outcome = run(req(strategy="blue-green", snapshot_dir=str(tmp_path)), BG, context(cluster, sleep=waited.append))
    assert outcome.verdict is Verdict.PASS, outcome.reasons
    svc = sandbox.get("v1", "services", NS, "web")
    assert svc is not None and svc["spec"]["selector"]["color"] == "green"
    assert waited == [0.2]  # the grace period came before the scale-down
    blue = sandbox.get("apps/v1", "deployments", NS, "web-blue")
    assert blue is not None and blue["spec"]["replicas"] == 0
    assert outcome.outputs["from-color"] == "blue" and outcome.outputs["to-color"] == "green"
    assert "2 -> 0" in next(r.reason for r in outcome.rows if r.check == "scale-down")
    again = run(req(strategy="blue-green"), BG, context(cluster))
    assert again.outputs["action"] == "no-op" and again.verdict is Verdict.PASS
    svc = sandbox.get("v1", "services", NS, "web")
    assert svc is not None and svc["spec"]["selector"]["color"] == "green"


def test_blue_green_refuses_when_the_other_color_is_not_ready(sandbox: Sandbox, cluster: KubeCluster) -> None:
    blue_green(sandbox, green_image="registry.example/web:nopull")
    outcome = run(req(strategy="blue-green"), BG, context(cluster))
    assert outcome.verdict is Verdict.FAIL and outcome.code is ExitCode.REJECTED
    assert "the green color is not ready: 0 of 2 pods" in outcome.reasons[0]
    svc = sandbox.get("v1", "services", NS, "web")
    assert svc is not None and svc["spec"]["selector"]["color"] == "blue"


def test_blue_green_keep_failed_and_critical_auto(sandbox: Sandbox, cluster: KubeCluster) -> None:
    blue_green(sandbox)
    outcome = run(req(strategy="auto", severity="critical", keep_failed=True), BG, context(cluster))
    assert outcome.outputs["strategy"] == "blue-green" and outcome.verdict is Verdict.PASS
    assert any("matrix row [critical: blue-green | undo]" in r.reason for r in outcome.rows)
    blue = sandbox.get("apps/v1", "deployments", NS, "web-blue")
    assert blue is not None and blue["spec"]["replicas"] == 2


def test_critical_without_colors_falls_back_to_undo(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    sandbox.apply(service("web", {"app": "web"}))
    bad_deploy(sandbox, cluster)
    outcome = run(req(strategy="auto", severity="critical"), CFG, context(cluster))
    assert outcome.outputs["strategy"] == "undo" and image_of(sandbox) == GOOD
    assert any("skipped blue-green (the Service has no colors)" in r.reason for r in outcome.rows)


def test_last_successful_github_deployment_and_records(sandbox: Sandbox, cluster: KubeCluster) -> None:
    sandbox.apply(deployment(image=BAD))
    github = RecordingDeployments(last={"image": GOOD, "deployment": "web"})
    notifier = RecordingNotifier(fail=True)
    ctx = context(cluster, deployments=github, notifier=notifier)
    outcome = run(req(to_last_successful=True, environment="production", ref="abc123"), CFG, ctx)
    assert outcome.verdict is Verdict.PASS and image_of(sandbox) == GOOD
    assert github.calls[0] == ("last_successful", "production")
    assert github.calls[1][0:3] == ("start", "production", "abc123") and github.calls[1][3]["image"] == GOOD
    assert github.calls[2] == ("finish", 2, "success")
    assert [e.kind for e in notifier.events] == ["rolled_back"]  # once per event
    assert "notification not delivered" in printed(ctx.reporter)  # a warning, not a failure
    other = RecordingDeployments(last={"image": GOOD, "deployment": "api"})
    with pytest.raises(UsageError, match="is of deployment 'api', not 'web'"):
        run(req(to_last_successful=True, environment="production"), CFG, context(cluster, deployments=other))
    empty = RecordingDeployments(last=None)
    with pytest.raises(UsageError, match="no successful GitHub deployment"):
        run(req(to_last_successful=True, environment="production"), CFG, context(cluster, deployments=empty))


def test_health_checks_after_the_rollout(
    sandbox: Sandbox, cluster: KubeCluster, http_app: tuple[str, list[int]]
) -> None:
    url, statuses = http_app
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    cfg = RollbackConfig(health_checks=(HealthCheck(url=url, retries=3, interval=0),), lock=CFG.lock)
    statuses[:] = [503, 200]
    outcome = run(req(), cfg, context(cluster))
    assert outcome.verdict is Verdict.PASS
    assert any(r.check == f"health: {url}" and "HTTP 200 after 2 tries" in r.reason for r in outcome.rows)
    bad_deploy(sandbox, cluster)
    statuses[:] = [500]
    failed = run(req(to_image=GOOD2), cfg, context(cluster))
    assert failed.verdict is Verdict.FAIL and any("HTTP 500" in r for r in failed.reasons)


def test_rollback_record_is_readable(sandbox: Sandbox, cluster: KubeCluster) -> None:
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    run(req(), CFG, context(cluster))
    dep = cluster.get("deployments", NS, "web")
    record = LkgRecord.from_annotations(dep["metadata"]["annotations"])
    assert record is not None and record.source == "rollback" and record.run_id == "run-1" and record.image == GOOD


@pytest.mark.kubectl
def test_kubectl_sees_the_rollback(sandbox: Sandbox, cluster: KubeCluster, tmp_path: Path) -> None:
    """What the tool wrote is what kubectl reads: history with our change cause, a finished rollout status."""
    import subprocess

    from hotfix_actions.testing import kubectl as kubectl_bin

    kubectl = str(kubectl_bin.path())  # the pinned kubectl from PyPI, never the machine's
    promoted(sandbox, cluster, GOOD)
    bad_deploy(sandbox, cluster)
    assert run(req(reason="INC-77"), CFG, context(cluster)).verdict is Verdict.PASS
    base = [kubectl, "--kubeconfig", str(sandbox.kubeconfig_path), "-n", NS]
    env = {**__import__("os").environ, "KUBECACHEDIR": str(tmp_path / "kubecache"), "HOME": str(tmp_path)}
    history = subprocess.run([*base, "rollout", "history", "deployment/web"], env=env, capture_output=True, text=True,
                             check=True, timeout=60).stdout  # fmt: skip
    assert "hotfix rollback (undo) to the last-known-good release by run run-1: INC-77" in history
    status = subprocess.run([*base, "rollout", "status", "deployment/web", "--timeout=20s"], env=env,
                            capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert status.returncode == 0 and "successfully rolled out" in status.stdout
    image = subprocess.run([*base, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}"],
                           env=env, capture_output=True, text=True, check=True, timeout=60).stdout  # fmt: skip
    assert image == GOOD


def test_settle_catches_a_rollout_that_does_not_hold(tmp_path: Path) -> None:
    from tests.kube.kubefix import start_sandbox

    with start_sandbox(ready_delay=0.6) as sb, connect(ConnectOptions(kubeconfig=str(sb.kubeconfig_path)), FAST) as kc:
        sb.apply(deployment(image=GOOD))
        sb.wait_rollout(NS, "web", timeout=10)
        bad_deploy(sb, kc, "registry.example/web:1.5")  # healthy pods, a bad release
        sb.wait_rollout(NS, "web", timeout=10)
        held = run(req(to_revision=1, settle_seconds=1.0), CFG, context(kc))
        assert held.verdict is Verdict.PASS
        assert any(r.check == "settle" and "still complete after 1s" in r.reason for r in held.rows)

        def kill_a_pod_once_rolled_out() -> None:
            sb.wait_for(lambda: sb.rollout_complete(NS, "web") and image_of(sb) == GOOD2, timeout=10)
            pod = sb.list("v1", "pods", NS, label_selector="app=web")[0]
            sb.delete("v1", "pods", NS, pod["metadata"]["name"])

        killer = threading.Thread(target=kill_a_pod_once_rolled_out)
        killer.start()
        failed = run(req(to_image=GOOD2, settle_seconds=2.0), CFG, context(kc))
        killer.join()
        assert failed.verdict is Verdict.FAIL
        assert any("did not hold for 2s" in r and "updated replicas are available" in r for r in failed.reasons)
