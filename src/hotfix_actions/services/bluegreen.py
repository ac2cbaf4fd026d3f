"""The blue-green strategy of `hotfix rollback`: switch the Service to the other color, then retire the failed one.

The switch happens only when the other color's pods are all Ready; it is written conditionally on the Service's
resourceVersion and recorded in an annotation on the Service, so running the same rollback again is a no-op. The
failed color is scaled to zero after a grace period (never when ``--keep-failed``, or when health checks fail).
"""

from __future__ import annotations

import dataclasses
import time

from hotfix_actions.config.rollback import RollbackConfig
from hotfix_actions.decide.bluegreen import BLUE_GREEN_ANNOTATION, BlueGreenPlan, blue_green_record, plan_blue_green
from hotfix_actions.decide.lkg import LKG_ANNOTATION
from hotfix_actions.decide.rollback import Action
from hotfix_actions.decide.tracking import crash_problem, pod_restarts, recent_restart
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import ClusterError, ConflictError, NotFoundError
from hotfix_actions.ports import KubeObject
from hotfix_actions.report import Outcome
from hotfix_actions.services import _kubeops as ops
from hotfix_actions.services._deploy import Context
from hotfix_actions.services._rollback_model import RollbackRequest, outcome

__all__ = ["read_service", "switch"]

RECENT_CRASH = 600.0  # seconds: pods that crashed this recently are not a place to switch traffic to


def read_service(ctx: Context, namespace: str, service: str) -> KubeObject:
    """The Service, or a NotFoundError that says whether the namespace or the Service is missing."""
    try:
        return ctx.cluster.get("services", namespace, service)
    except NotFoundError as exc:
        if not ctx.cluster.namespace_exists(namespace):
            raise NotFoundError(f'namespace "{namespace}" does not exist', fix="pass an existing --namespace") from exc
        raise NotFoundError(
            f'service "{service}" not found in namespace "{namespace}"',
            fix="pass --service with the Service that selects the colors, or use --strategy undo",
        ) from exc


def _plan(ctx: Context, req: RollbackRequest, cfg: RollbackConfig, service: str) -> tuple[BlueGreenPlan, KubeObject]:
    bg = cfg.blue_green
    svc = read_service(ctx, req.namespace, service)
    selector = dict((svc.get("spec") or {}).get("selector") or {})
    base = {k: v for k, v in selector.items() if k != bg.color_label}
    deployments = ctx.cluster.list_objects("deployments", req.namespace)
    pods = ctx.cluster.list_objects("pods", req.namespace, labels=base or None)
    plan = plan_blue_green(svc, deployments, pods, color_label=bg.color_label, colors=bg.colors, to_color=req.to_color)
    if plan.action is Action.UPDATE:
        plan = _unless_crashing(ctx, plan, pods, bg.color_label)
    return plan, svc


def _unless_crashing(ctx: Context, plan: BlueGreenPlan, pods: list[KubeObject], color_label: str) -> BlueGreenPlan:
    """Ready is not enough: a container with no readiness probe is Ready between two crashes. The other color's pods
    must not wait in CrashLoopBackOff (or another reason that will not clear) nor have crashed in the last 10 min."""
    target = [p for p in pods if ((p.get("metadata") or {}).get("labels") or {}).get(color_label) == plan.to_color]
    now_restarts = {str((p.get("metadata") or {}).get("uid")): pod_restarts(p) for p in target}
    found = crash_problem(target, None, now_restarts) or recent_restart(
        target, None, ctx.cluster.server_time() or time.time(), RECENT_CRASH
    )
    if found is None:
        return plan
    return dataclasses.replace(
        plan,
        action=Action.REFUSE,
        reason=f"the {plan.to_color} color's pods crash: {found.describe()}; the Service stays on {plan.from_color}",
        fix=f"fix the {plan.to_color} color first, or use --strategy undo",
    )


def switch(ctx: Context, req: RollbackRequest, cfg: RollbackConfig, service: str) -> Outcome:
    outputs: dict[str, str] = {"strategy": "blue-green", "service": service}
    plan: BlueGreenPlan | None = None
    for _ in range(5):
        plan, svc = _plan(ctx, req, cfg, service)
        ctx.reporter.info(f"plan: {plan.reason}")
        if plan.action is not Action.UPDATE or req.dry_run:
            break
        if not outputs.get("snapshot"):
            _snapshot(ctx, req, cfg, plan, outputs)
        record = blue_green_record(plan, run=req.run_id, time=ctx.now().isoformat(timespec="seconds"))
        try:
            ctx.cluster.set_service_selector(
                req.namespace, svc, plan.selector, annotations={BLUE_GREEN_ANNOTATION: record}
            )
        except ConflictError as exc:
            ctx.reporter.info(f"write: {exc.message}; re-reading the service")
            plan = None
            continue
        break
    if plan is None:
        raise ClusterError(f'service "{service}" changed under us 5 times in a row (HTTP 409)')
    outputs.update({"action": plan.action.value, "from-color": plan.from_color, "to-color": plan.to_color})
    if plan.action is Action.REFUSE:
        ctx.add("plan", Status.FAIL, plan.reason + (f" (fix: {plan.fix})" if plan.fix else ""))
        return outcome(ctx, req, "blue-green", Verdict.FAIL, outputs, failed=True)
    if plan.action is Action.NOOP:
        ctx.add("plan", Status.PASS, plan.reason)
        return outcome(ctx, req, "blue-green", Verdict.PASS, {**outputs, "changed": "false"})
    if req.dry_run:
        ctx.add("plan", Status.PASS, f"dry run: would switch {plan.reason}")
        return outcome(ctx, req, "blue-green", Verdict.PASS, {**outputs, "changed": "false", "dry-run": "true"})
    ctx.add("switch", Status.PASS, plan.reason + " (conditional on the resourceVersion read)")
    ok = True
    if cfg.health_checks:
        rows = ops.run_health_checks(ctx.probe, cfg.health_checks, ctx.reporter.info)
        ctx.rows.extend(rows)
        ok = all(r.status is Status.PASS for r in rows)
    keep = cfg.blue_green.keep_failed if req.keep_failed is None else req.keep_failed
    grace = cfg.blue_green.grace_seconds if req.grace_seconds is None else req.grace_seconds
    if keep or not ok:
        why = "--keep-failed" if keep else "health checks failed"
        ctx.add("scale-down", Status.SKIP, f"{', '.join(plan.failed_deployments) or 'nothing'} kept ({why})")
    elif plan.failed_deployments:
        ctx.reporter.info(f"grace period: {grace:.0f}s before scaling {', '.join(plan.failed_deployments)} to zero")
        ctx.sleep(grace)
        scaled = []
        for name in plan.failed_deployments:
            before = ctx.cluster.get("deployments", req.namespace, name)
            ctx.cluster.scale(req.namespace, name, 0)
            scaled.append(f"{name} {int((before.get('spec') or {}).get('replicas', 1) or 0)} -> 0")
        ctx.add("scale-down", Status.PASS, f"after a {grace:.0f}s grace period: {', '.join(scaled)}")
    verdict = Verdict.PASS if ok else Verdict.FAIL
    if not ok:
        outputs["note"] = "the switch stands; the failed color was kept"
    return outcome(ctx, req, "blue-green", verdict, {**outputs, "changed": "true"}, failed=not ok)


def _snapshot(
    ctx: Context, req: RollbackRequest, cfg: RollbackConfig, plan: BlueGreenPlan, out: dict[str, str]
) -> None:
    directory = req.snapshot_dir or cfg.snapshot_dir
    if not directory:
        ctx.add("snapshot", Status.SKIP, "no --snapshot-dir")
        return
    items = []
    for name in (plan.target_deployment, *plan.failed_deployments):
        deployment = ctx.cluster.get("deployments", req.namespace, name)
        items += ops.snapshot_objects(ctx.cluster, req.namespace, deployment)
    seen: set[str] = set()
    unique = []
    for item in items:
        key = f"{item.get('kind')}/{(item.get('metadata') or {}).get('name')}"
        if key not in seen:
            seen.add(key)
            unique.append(item)
    lkg = {
        (i.get("metadata") or {}).get("name", "?"): ((i.get("metadata") or {}).get("annotations") or {}).get(
            LKG_ANNOTATION, ""
        )
        for i in unique
        if i.get("kind") == "Deployment"
    }
    path = ops.write_snapshot(
        directory, req.namespace, req.deployment, unique, {"lkg": lkg, "run": req.run_id}, ctx.now()
    )
    out["snapshot"] = path
    ctx.add("snapshot", Status.PASS, f"{len(unique)} objects saved to {path}")
