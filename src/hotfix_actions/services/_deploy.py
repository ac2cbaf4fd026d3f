"""What rollback and promote share: the run context, a conditional template write that re-decides after a 409,
the wait that follows what was written, and the one line said when a signal stops a run.

The write records what it sent in ``ctx.journal`` before sending, and what landed after, so a SIGTERM at any moment
is reported truthfully: "nothing written", "sent, landing unknown", or the generation it landed as.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hotfix_actions.decide.lkg import container_images, templates_equal
from hotfix_actions.decide.rollback import Action, Plan, Target, apply_plan, plan_template, rollback_record
from hotfix_actions.decide.rollout import RolloutPhase, RolloutResult, rollout_status
from hotfix_actions.decide.tracking import IMMEDIATE_REASONS, Expectation, pod_restarts
from hotfix_actions.decide.verdict import Status
from hotfix_actions.errors import ClusterError, ConflictError, HotfixError, Interrupted
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

__all__ = ["MAX_CONFLICTS", "Context", "Journal", "Written", "apply_target", "interrupted_line", "wait_rollout"]

MAX_CONFLICTS = 5


@dataclass
class Journal:
    """What this run has sent to the cluster, for the line said when a signal stops it."""

    sent: str = ""  # the target of the last template write sent ("" = none)
    template: Mapping[str, Any] | None = None
    landed: bool = False  # the API server answered the write
    generation: int = 0
    sent_at: str = ""
    github_id: int | None = None  # the GitHub Deployment started for the write, to close on a signal


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
    journal: Journal = field(default_factory=Journal)

    def add(self, check: str, status: Status, reason: str) -> None:
        self.rows.append(Row(check, status, reason))
        self.reporter.step(f"{check}: {status.value} - {reason}")


@dataclass(frozen=True)
class Written:
    """A template write that landed: what the wait must follow."""

    deployment: KubeObject  # as the API server returned it
    expect: Expectation


def _restarts(cluster: Cluster, namespace: str, deployment: KubeObject) -> dict[str, int]:
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        return {}
    pods = cluster.list_objects("pods", namespace, labels=labels)
    return {str((p.get("metadata") or {}).get("uid")): pod_restarts(p) for p in pods}


def expectation_for(ctx: Context, namespace: str, deployment: KubeObject) -> Expectation:
    """What a wait must follow when nothing was written (the target already live): the live template, with the
    pods' restarts from now on."""
    return Expectation.after_write(
        deployment, written_at=ctx.cluster.server_time(), restarts=_restarts(ctx.cluster, namespace, deployment)
    )


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
    why: str = "",
) -> tuple[Plan, Written | None]:
    """Decide from a fresh read and write conditionally; on a 409 re-read and decide again. Returns the plan and,
    when a write landed, what the wait must follow.

    ``record`` = (run id, run URL): also make the target the LKG record (source "rollback") in the same write, so
    the same rollback run again is a no-op and the release it replaced (marked bad with ``why``) is never chosen
    again.
    """
    last_reason = ""
    for _ in range(MAX_CONFLICTS):
        deployment = ops.read_deployment(ctx.cluster, namespace, name)
        plan = _plan(ctx.cluster, deployment, target, resume)
        if plan.reason != last_reason:
            ctx.reporter.info(f"plan: {plan.reason}")
            last_reason = plan.reason
        if plan.action is not Action.UPDATE or dry_run:
            return plan, None
        lkg = None
        live = (deployment.get("spec") or {}).get("template") or {}
        if record is not None:
            stamp = ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            replaced = live if plan.template is not None and not templates_equal(live, plan.template) else None
            lkg = rollback_record(plan, time=stamp, run_id=record[0], run_url=record[1], replaced=replaced, why=why)
        restarts = _restarts(ctx.cluster, namespace, deployment)
        body = apply_plan(deployment, plan, change_cause, lkg)
        images = ", ".join(f"{k}={v}" for k, v in plan.to_images.items())
        ctx.journal = Journal(sent=images, template=plan.template, sent_at=ctx.now().strftime("%H:%M:%SZ"))
        try:
            written = ctx.cluster.replace("deployments", namespace, body)
        except ConflictError as exc:
            ctx.journal = Journal()  # a 409 changed nothing
            ctx.reporter.info(f"write: {exc.message}; the deployment changed after it was read: re-reading")
            continue
        generation = int((written.get("metadata") or {}).get("generation") or 0)
        ctx.journal.landed, ctx.journal.generation = True, generation
        expect = Expectation.after_write(written, written_at=ctx.cluster.server_time(), restarts=restarts)
        return plan, Written(written, expect)
    raise ClusterError(
        f'deployment "{name}" changed under us {MAX_CONFLICTS} times in a row (HTTP 409 each time)',
        fix="stop the other writer (a deploy pipeline, an autoscaler or kubectl) and run again",
    )


def _plan(cluster: Cluster, deployment: KubeObject, target: Target, resume: bool) -> Plan:
    return plan_template(deployment, cluster.owned_replicasets(deployment), target, resume=resume)


def wait_rollout(
    ctx: Context,
    namespace: str,
    name: str,
    *,
    timeout: float,
    fail_fast: float | None,
    settle: float = 0.0,
    expect: Expectation | None = None,
    reasons: Sequence[str] = IMMEDIATE_REASONS,
) -> RolloutResult:
    """Wait by kubectl's rules, following what we wrote (``expect``), and with ``settle`` > 0 keep watching the new
    pods that long after completion: a restart, a reason that will not clear or a rollout that stops holding fails
    it. Adds the rows: rollout, settle, and a note when another writer wrote our template again."""
    result = ctx.cluster.wait_for_rollout(
        namespace,
        name,
        timeout=timeout,
        fail_fast_after=fail_fast,
        on_progress=ctx.reporter.info,
        expect=expect,
        settle=settle,
        immediate_reasons=reasons,
    )
    for note in result.notes:
        ctx.add("tracking", Status.PASS, note)
    after_complete = result.settled > 0 or (settle > 0 and "did not hold" in result.message)
    if result.ok:
        ctx.add("rollout", Status.PASS, result.describe())
        if settle > 0:
            ctx.add("settle", Status.PASS, f"no restart, still complete after {settle:.0f}s")
    elif after_complete:
        ctx.add("rollout", Status.PASS, f"rolled out after {result.waited - result.settled:.1f}s")
        ctx.add("settle", Status.FAIL, result.describe())
    else:
        ctx.add("rollout", Status.FAIL, result.describe())
    return result


def interrupted_line(ctx: Context, namespace: str, name: str, signal: Interrupted, what: str) -> str:
    """One line: the signal, what this run had sent, and the Deployment as it is now (a fresh read)."""
    journal = ctx.journal
    try:
        deployment = ctx.cluster.get("deployments", namespace, name)
    except HotfixError as exc:
        live = f"its state could not be read ({exc.message})"
    else:
        template = (deployment.get("spec") or {}).get("template") or {}
        images = ", ".join(f"{k}={v}" for k, v in container_images(template).items())
        status = rollout_status(deployment)
        state = "rolled out" if status.phase is RolloutPhase.COMPLETE else status.message
        if journal.template is None:
            live = f"it runs {images}, unchanged by us ({state})"
        else:
            ours = templates_equal(template, journal.template)
            live = f"it now runs {images} ({'our write' if ours else 'not our write'}; {state})"
    if not journal.sent:
        sent = f"nothing was written by this {what}"
    elif journal.landed:
        sent = (
            f"this {what} wrote {journal.sent} at {journal.sent_at} (generation {journal.generation}); "
            "the rollout was not verified"
        )
    else:
        sent = f"this {what} sent a write of {journal.sent} at {journal.sent_at}; whether it landed was not answered"
    return f"interrupted by {signal.signal_name}: {sent}; deployment {namespace}/{name}: {live}"


def result_outputs(result: RolloutResult) -> dict[str, str]:
    outputs = {"rollout": result.phase.value, "rollout-seconds": f"{result.waited:.2f}"}
    if result.problem:
        outputs["blocking-reason"] = result.problem.reason
    if result.phase is RolloutPhase.SUPERSEDED:
        outputs["superseded"] = "true"
    return outputs
