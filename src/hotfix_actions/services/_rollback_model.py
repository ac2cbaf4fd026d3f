"""The emergency rollback's request and how its outcome is reported, shared by the strategies (``rollback`` for
undo/redeploy, ``bluegreen`` for the Service switch) so neither imports the other's module."""

from __future__ import annotations

from dataclasses import dataclass

from hotfix_actions.decide.tracking import IMMEDIATE_REASONS
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ExitCode
from hotfix_actions.ports import Event
from hotfix_actions.report import Outcome, problem_reasons
from hotfix_actions.services import _kubeops as ops
from hotfix_actions.services._deploy import Context

__all__ = ["RollbackRequest", "outcome"]


@dataclass(frozen=True)
class RollbackRequest:
    namespace: str
    deployment: str
    strategy: str | None = None  # undo | blue-green | redeploy | auto; None = .hotfix.yml rollback.strategy
    severity: str | None = None
    to_revision: int | None = None
    to_image: str | None = None
    to_last_successful: bool = False
    to_previous: bool = False  # the release before the newest promoted one (that one turned out bad)
    containers: tuple[str, ...] = ()
    service: str | None = None
    to_color: str | None = None
    keep_failed: bool | None = None
    grace_seconds: float | None = None
    resume: bool = False
    dry_run: bool = False
    wait: bool | None = None
    wait_timeout: float | None = None
    lock_timeout: float | None = None
    snapshot_dir: str | None = None
    fail_fast_after: float | None = None
    fail_at_once: tuple[str, ...] = IMMEDIATE_REASONS  # pod reasons that fail the wait at once (cluster.fail_at_once)
    settle_seconds: float | None = None
    run_id: str = "local"
    run_url: str = ""
    reason: str = ""
    environment: str = ""
    actor: str = ""
    ref: str = ""  # the commit the GitHub Deployment records (GITHUB_SHA)


def outcome(
    ctx: Context,
    req: RollbackRequest,
    strategy: str,
    verdict: Verdict,
    outputs: dict[str, str],
    *,
    exit_code: ExitCode | None = None,
    failed: bool = False,
) -> Outcome:
    """The rollback's Outcome (reasons from the rows), with one notification when something changed or failed."""
    outputs = {"strategy": strategy, **outputs, "rolled-back": "true" if outputs.get("changed") == "true" else "false"}
    reasons = problem_reasons(ctx.rows)
    if not reasons:
        reasons = [
            next(
                (r.text for r in reversed(ctx.rows) if r.check in ("plan", "rollout")),
                ctx.rows[-1].reason if ctx.rows else "done",
            )
        ]
    if outputs.get("changed") == "true" or failed:
        ops.notify(
            ctx.notifier,
            Event(
                kind="failed" if failed else "rolled_back",
                title=f"rollback of {req.namespace}/{req.deployment} {'FAILED' if failed else 'done'} ({strategy})",
                version=outputs.get("to-image", ""),
                verdict=verdict.value,
                reasons=tuple(reasons),
                actor=req.actor,
                run_url=req.run_url,
                environment=req.environment,
                fields=tuple((k, v) for k, v in outputs.items() if k in ("from-image", "to-image", "target")),
            ),
            ctx.reporter,
        )
    return Outcome(
        command="rollback",
        verdict=verdict,
        reasons=reasons,
        outputs=outputs,
        rows=list(ctx.rows),
        title=f"emergency-rollback {req.namespace}/{req.deployment}",
        exit_code=exit_code,
    )
