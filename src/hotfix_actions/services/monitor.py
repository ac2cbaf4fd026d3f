"""`hotfix monitor`: watch a Deployment after promotion with the canary engine; on FAIL run the emergency rollback.

One arm (the Deployment itself): the guardrails, readiness and the fail-closed rules of the canary judge, with the
same thresholds from `.hotfix.yml`; there is no baseline, so the split tests and the early pass are off. PASS
after the watch duration; FAIL runs ``rollback`` (the emergency-rollback service, wired by the command) and
reports both; ERROR or INCONCLUSIVE leave the Deployment alone and say why. The watch starts once the pods of
the release before are gone (canary_settle): a hotfix that replaced a failing release is not judged by the errors
the old pods serve while they terminate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hotfix_actions.decide.canary import summary
from hotfix_actions.decide.canary.templates import ArmLabels, prom_duration
from hotfix_actions.decide.names import dns1123_subdomain_problem
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import HotfixError, UsageError
from hotfix_actions.ports import Cluster, Metrics
from hotfix_actions.report import Outcome, Reporter, Row
from hotfix_actions.services.canary_loop import Clock, LiveSource, Settings, SystemClock, analyze, recording
from hotfix_actions.services.canary_settle import settle_previous_pods

__all__ = ["MonitorRequest", "run"]


@dataclass(frozen=True)
class MonitorRequest:
    namespace: str
    deployment: str
    record: Path | None = None


def run(
    req: MonitorRequest,
    settings: Settings,
    *,
    cluster: Cluster,
    metrics: Metrics,
    reporter: Reporter,
    rollback: Callable[[str], Outcome],
    clock: Clock | None = None,
) -> Outcome:
    if settings.policy.compare:
        raise ValueError("monitor settings must be one-arm (compare=False)")
    if problem := dns1123_subdomain_problem(req.deployment):
        raise UsageError(f"{req.deployment!r} {problem}", input_name="--deployment")
    clock = clock or SystemClock()
    rows: list[Row] = []

    def add(check: str, status: Status, reason: str) -> None:
        rows.append(Row(check, status, reason))
        reporter.step(f"{check}: {status.value} - {reason}")

    metrics.query("vector(1)", at=clock.time())
    add("prometheus", Status.PASS, f"{metrics.describe()} answers")
    cluster.get("deployments", req.namespace, req.deployment)
    settled = settle_previous_pods(
        cluster,
        req.namespace,
        req.deployment,
        lag=settings.canary_lag,
        limit=settings.ready_timeout,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        say=reporter.info,
        judged="the new release",
    )
    if settled is not None:
        add("previous pods", *settled)
    labels = ArmLabels(req.namespace, req.deployment, "stable", prom_duration(settings.interval), settings.selector)
    source = LiveSource(
        metrics, settings, {"canary": labels}, cluster=cluster, namespace=req.namespace, say=reporter.info
    )
    with recording(req.record) as record:
        analysis = analyze(settings, source, {"canary": req.deployment}, reporter, clock=clock, record=record)
    decision = analysis.decision
    assert decision is not None
    reasons = list(decision.reasons)
    outputs = {"deployment": req.deployment, "rolled-back": "false", **analysis.outputs()}
    status = {Verdict.PASS: Status.PASS, Verdict.FAIL: Status.FAIL}.get(decision.verdict, Status.ERROR)
    add("watch", status, f"{decision.verdict.value} by {decision.rule}: {'; '.join(decision.reasons)}")
    if decision.verdict is Verdict.FAIL:
        why = f"hotfix monitor: {decision.rule}: {'; '.join(decision.reasons)}"
        try:
            result = rollback(why[:500])
        except HotfixError as exc:
            add("rollback", Status.ERROR, f"emergency rollback failed: {exc}")
            reasons.append(f"EMERGENCY ROLLBACK FAILED: {exc}")
        else:
            changed = result.verdict is Verdict.PASS and result.outputs.get("rolled-back") == "true"
            what = "; ".join(result.reasons) or result.verdict.value
            if result.verdict is Verdict.PASS and not changed:
                what = f"nothing was changed: {what}"
            add("rollback", Status.PASS if changed else Status.ERROR, what)
            outputs["rolled-back"] = "true" if changed else "false"
            outputs["rollback-verdict"] = result.verdict.value
            reasons.append(f"emergency rollback {result.verdict.value}: {what}")
    elif decision.verdict is not Verdict.PASS:
        reasons.append(f"{req.deployment} left as it is: the monitor could not decide ({decision.rule})")
    markdown = summary.markdown(settings.policy, analysis.intervals, decision, f"Monitor of {req.deployment}")
    return Outcome("monitor", decision.verdict, reasons, outputs, rows, "monitor", markdown)
