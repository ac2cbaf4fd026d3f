"""`hotfix canary`: deploy the canary, judge it against the baseline every interval, roll it back on FAIL.

Flow: check inputs -> Prometheus answers ``vector(1)`` (before anything is deployed) -> set the image on
``<name>-canary`` or create it from the primary's template -> wait until Ready -> wait for the previous version's
pods to go (canary_settle) -> poll both arms every interval
(starting point first), fold each poll into the judge (decide.canary), one line per interval -> on FAIL undo the
canary (scale to zero or the primary's image) and exit 1; ERROR or INCONCLUSIVE leave it and exit 3; PASS exit 0.
``judge_only`` runs the same judge over recorded polls or a past time range without touching the cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from hotfix_actions.decide.canary import summary
from hotfix_actions.decide.canary.observe import Poll
from hotfix_actions.decide.canary.templates import ArmLabels
from hotfix_actions.decide.names import dns1123_subdomain_problem, image_problem
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import ClusterError, UsageError
from hotfix_actions.ports import Cluster, Metrics
from hotfix_actions.report import Outcome, Reporter, Row
from hotfix_actions.services.canary_loop import (
    Analysis,
    Clock,
    LiveSource,
    Settings,
    SystemClock,
    analyze,
    arm_labels,
    recording,
)
from hotfix_actions.services.canary_settle import settle_previous_pods

__all__ = ["CanaryRequest", "judge_only", "run"]


@dataclass(frozen=True)
class CanaryRequest:
    namespace: str
    deployment: str  # the primary
    image: str | None = None
    container: str | None = None
    canary: str | None = None  # default: deployment + canary.suffix
    baseline: str | None = None  # default: canary.baseline, else the primary
    replicas: int | None = None
    rollback: str | None = None  # scale-to-zero | primary-image
    dry_run: bool = False
    record: Path | None = None
    run_id: str = "local"


def _check(req: CanaryRequest, canary: str, baseline: str) -> None:
    for option, value in (("--deployment", req.deployment), ("--canary", canary), ("--baseline", baseline)):
        if problem := dns1123_subdomain_problem(value):
            raise UsageError(f"{value!r} {problem}", input_name=option)
    if req.image and (problem := image_problem(req.image)):
        raise UsageError(f"{req.image!r} {problem}", input_name="--image", fix="pass registry/name:tag or name@digest")
    if canary in (req.deployment, baseline):
        raise UsageError(f"the canary {canary} must differ from the primary and the baseline", input_name="--canary")


def run(
    req: CanaryRequest,
    settings: Settings,
    *,
    cluster: Cluster,
    metrics: Metrics,
    reporter: Reporter,
    clock: Clock | None = None,
) -> Outcome:
    from hotfix_actions.kube import canary_ops

    cfg = settings.cfg
    canary = req.canary or f"{req.deployment}{cfg.suffix}"
    baseline = req.baseline or cfg.baseline or req.deployment
    _check(req, canary, baseline)
    rows: list[Row] = []

    def add(check: str, status: Status, reason: str) -> None:
        rows.append(Row(check, status, reason))
        reporter.step(f"{check}: {status.value} - {reason}")

    labels = arm_labels(settings, req.namespace, canary, baseline)
    metrics.query("vector(1)", at=(clock or SystemClock()).time())
    add("prometheus", Status.PASS, f"{metrics.describe()} answers")
    if req.dry_run:
        add("deploy", Status.SKIP, f"dry run: would set {req.image or 'the current image'} on {req.namespace}/{canary}")
        return Outcome("canary", Verdict.PASS, ["dry run: nothing deployed or judged"], {"canary": canary}, rows)
    target = canary_ops.ensure_canary(
        cluster,
        req.namespace,
        req.deployment,
        canary,
        image=req.image,
        container=req.container,
        replicas=req.replicas or cfg.replicas,
        track_label=cfg.track_label,
        change_cause=f"hotfix canary {req.image or ''} ({req.run_id})".strip(),
    )
    verb = "created" if target.created else f"updated (was {target.previous_image})"
    add("deploy", Status.PASS, f"{req.namespace}/{canary} {verb}: {target.container}={target.image}")
    rollout = cluster.wait_for_rollout(req.namespace, canary, timeout=settings.ready_timeout, on_progress=reporter.info)
    mode = req.rollback or cfg.rollback
    outputs = {"canary": canary, "baseline": baseline, "image": target.image, "rolled-back": "false"}
    if not rollout.ok:
        add("ready", Status.FAIL, f"canary not Ready: {rollout.describe()}")
        done = canary_ops.undo_canary(cluster, req.namespace, target, mode, f"hotfix canary rollback ({req.run_id})")
        add("rollback", Status.PASS, done)
        outputs["rolled-back"] = "true"
        reasons = [f"canary {canary} did not become Ready: {rollout.describe()}", f"rolled back: {done}"]
        return Outcome("canary", Verdict.FAIL, reasons, outputs, rows, title="canary-gate")
    add("ready", Status.PASS, rollout.describe())
    clock = clock or SystemClock()
    settled = settle_previous_pods(
        cluster,
        req.namespace,
        canary,
        lag=settings.canary_lag,
        limit=settings.ready_timeout,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        say=reporter.info,
    )
    if settled is not None:
        add("previous pods", *settled)
    source = LiveSource(metrics, settings, labels, cluster=cluster, namespace=req.namespace, say=reporter.info)
    with recording(req.record) as record:
        arms = {"canary": canary, "baseline": baseline}
        analysis = analyze(settings, source, arms, reporter, clock=clock, record=record)
    decision = analysis.decision
    assert decision is not None
    status = {Verdict.PASS: Status.PASS, Verdict.FAIL: Status.FAIL}.get(decision.verdict, Status.ERROR)
    add("analysis", status, f"{decision.verdict.value} by {decision.rule}: {'; '.join(decision.reasons)}")
    reasons = list(decision.reasons)
    if decision.verdict is Verdict.FAIL:
        try:
            done = canary_ops.undo_canary(
                cluster, req.namespace, target, mode, f"hotfix canary rollback ({req.run_id})"
            )
            add("rollback", Status.PASS, done)
            outputs["rolled-back"] = "true"
            reasons.append(f"rolled back: {done}")
        except ClusterError as exc:
            add("rollback", Status.ERROR, f"could not roll the canary back: {exc}")
            reasons.append(f"ROLLBACK FAILED: {exc}")
    elif decision.verdict is not Verdict.PASS:
        reasons.append(f"canary {canary} left as it is: the gate could not decide ({decision.rule})")
    outputs.update(analysis.outputs())
    return _outcome(settings, analysis, reasons, outputs, rows)


def _outcome(
    settings: Settings, analysis: Analysis, reasons: list[str], outputs: dict[str, str], rows: list[Row]
) -> Outcome:
    decision = analysis.decision
    assert decision is not None
    markdown = summary.markdown(
        settings.policy, analysis.intervals, decision, "Canary analysis", detectable=analysis.detectable()
    )
    return Outcome("canary", decision.verdict, reasons, outputs, rows, "canary-gate", markdown)


def judge_only(
    settings: Settings,
    reporter: Reporter,
    *,
    polls: Iterable[Poll] | None = None,
    metrics: Metrics | None = None,
    labels: Mapping[str, ArmLabels] | None = None,
    window: tuple[float, float] | None = None,
    clock: Clock | None = None,
) -> Outcome:
    """The judge alone, over recorded polls (``polls``) or Prometheus between two past times (``window``)."""
    arms = {role: lb.deployment for role, lb in (labels or {}).items()} or {"canary": "canary", "baseline": "baseline"}
    if polls is not None:
        analysis = analyze(settings, _NoSource(), arms, reporter, polls=polls)
    else:
        assert metrics is not None and labels is not None and window is not None
        begin, end = window
        if end <= begin:
            raise UsageError("--to must be after --from", input_name="--to")
        count = int((end - begin) // settings.interval)
        schedule = [(k * settings.interval, begin + k * settings.interval) for k in range(count + 1)]
        source = LiveSource(metrics, settings, labels)
        analysis = analyze(settings, source, arms, reporter, schedule=schedule, clock=clock)
    decision = analysis.decision
    assert decision is not None
    outputs = {"rolled-back": "false", **analysis.outputs()}
    status = {Verdict.PASS: Status.PASS, Verdict.FAIL: Status.FAIL}.get(decision.verdict, Status.ERROR)
    row = Row("analysis", status, f"{decision.verdict.value} by {decision.rule}: {'; '.join(decision.reasons)}")
    return _outcome(settings, analysis, list(decision.reasons), outputs, [row])


class _NoSource:
    def poll(self, elapsed: float, at: float) -> Poll:
        raise AssertionError("replay needs no source")
