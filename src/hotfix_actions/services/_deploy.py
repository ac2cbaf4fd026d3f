"""What rollback and promote share: the run context, a conditional template write that re-decides after a 409,
and the wait for a rollout that reports one row."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hotfix_actions.decide.rollback import Action, Plan, Target, apply_plan, plan_template, rollback_record
from hotfix_actions.decide.rollout import RolloutPhase, RolloutResult, rollout_status
from hotfix_actions.decide.verdict import Status
from hotfix_actions.errors import ClusterError, ConflictError
from hotfix_actions.ports import (
    Cluster,
    Deployments,
    KubeObject,
    Notifier,
    NullDeployments,
    NullNotifier,
    Probe,
)
from hotfix_actions.report import Reporter, Row
from hotfix_actions.services import _kubeops as ops

__all__ = ["MAX_CONFLICTS", "Context", "apply_target", "wait_rollout"]

MAX_CONFLICTS = 5


@dataclass
class Context:
    """The ports and clocks a run uses; tests replace the clocks."""

    cluster: Cluster
    reporter: Reporter
    probe: Probe
    deployments: Deployments = field(default_factory=NullDeployments)
    notifier: Notifier = field(default_factory=NullNotifier)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    rows: list[Row] = field(default_factory=list)

    def add(self, check: str, status: Status, reason: str) -> None:
        self.rows.append(Row(check, status, reason))
        self.reporter.step(f"{check}: {status.value} - {reason}")


def apply_target(
    ctx: Context,
    namespace: str,
    name: str,
    target: Target,
    *,
    change_cause: str,
    resume: bool,
    dry_run: bool,
    record: tuple[str, str] | None = None,
) -> tuple[Plan, bool]:
    """Decide from a fresh read and write conditionally; on a 409 re-read and decide again. Returns (plan, wrote).

    ``record`` = (run id, run URL): also make the target the LKG record (source "rollback") in the same write, so
    the same rollback run again is a no-op and the release it replaced is never chosen again.
    """
    last_reason = ""
    for _ in range(MAX_CONFLICTS):
        deployment = ops.read_deployment(ctx.cluster, namespace, name)
        plan = _plan(ctx.cluster, deployment, target, resume)
        if plan.reason != last_reason:
            ctx.reporter.info(f"plan: {plan.reason}")
            last_reason = plan.reason
        if plan.action is not Action.UPDATE or dry_run:
            return plan, False
        lkg = None
        if record is not None:
            stamp = ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            lkg = rollback_record(plan, time=stamp, run_id=record[0], run_url=record[1])
        try:
            ctx.cluster.replace("deployments", namespace, apply_plan(deployment, plan, change_cause, lkg))
        except ConflictError as exc:
            ctx.reporter.info(f"write: {exc.message}; the deployment changed after it was read: re-reading")
            continue
        return plan, True
    raise ClusterError(
        f'deployment "{name}" changed under us {MAX_CONFLICTS} times in a row (HTTP 409 each time)',
        fix="stop the other writer (a deploy pipeline, an autoscaler or kubectl) and run again",
    )


def _plan(cluster: Cluster, deployment: KubeObject, target: Target, resume: bool) -> Plan:
    return plan_template(deployment, cluster.owned_replicasets(deployment), target, resume=resume)


def wait_rollout(
    ctx: Context, namespace: str, name: str, timeout: float, fail_fast: float | None, settle: float = 0.0
) -> RolloutResult:
    """Wait by kubectl's rules; then, with ``settle`` > 0, keep looking that long: success is only point-in-time,
    and pods that crash a few seconds after turning Ready fail the rollout here instead of after the job ended."""
    result = ctx.cluster.wait_for_rollout(
        namespace, name, timeout=timeout, fail_fast_after=fail_fast, on_progress=ctx.reporter.info
    )
    ctx.add("rollout", Status.PASS if result.ok else Status.FAIL, result.describe())
    if result.ok and settle > 0:
        result = _settle(ctx, namespace, name, settle, result)
    return result


def _settle(ctx: Context, namespace: str, name: str, seconds: float, done: RolloutResult) -> RolloutResult:
    start = time.monotonic()
    looks = 0
    while (elapsed := time.monotonic() - start) < seconds:
        time.sleep(min(0.5, seconds - elapsed))  # a real wait, whatever clock the tests give ctx
        looks += 1
        status = rollout_status(ctx.cluster.get("deployments", namespace, name))
        if status.phase is not RolloutPhase.COMPLETE:
            failed = RolloutResult(
                RolloutPhase.FAILED,
                f"the rollout did not hold for {seconds:.0f}s: after {elapsed:.1f}s {status.message}",
                done.waited + elapsed,
            )
            ctx.add("settle", Status.FAIL, failed.message)
            return failed
    ctx.add("settle", Status.PASS, f"still complete after {seconds:.0f}s ({looks} looks)")
    return done
