"""`hotfix rollback`: emergency rollback of one Deployment (undo, blue-green, redeploy, auto).

Order: check every input, resolve the strategy, make sure the Deployment (or Service) exists, take the Lease,
snapshot, decide from a fresh read, write with the read resourceVersion (a 409 means re-read and decide again), wait
following the template written (another writer's template is SUPERSEDED, exit 5; a crash fails at once),
health-check, report. Idempotent: a target the live template already matches is a no-op with exit 0. SIGTERM or
SIGINT stops the wait, releases the Lease and says in one line what the Deployment was left running (exit 143/130).
"""

from __future__ import annotations

from hotfix_actions.config.rollback import RollbackConfig
from hotfix_actions.decide.lkg import LkgRecord
from hotfix_actions.decide.rollback import DEFAULT_MATRIX, Action, Target, choose_strategy, previous_release
from hotfix_actions.decide.rollout import RolloutPhase
from hotfix_actions.decide.tracking import Expectation
from hotfix_actions.decide.validate import SEVERITIES
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import ExitCode, Interrupted, NotFoundError, UsageError
from hotfix_actions.ports import KubeObject
from hotfix_actions.report import Outcome
from hotfix_actions.services import _kubeops as ops
from hotfix_actions.services._deploy import (
    Context,
    apply_target,
    expectation_for,
    interrupted_line,
    result_outputs,
    wait_rollout,
)
from hotfix_actions.services._rollback_model import RollbackRequest, outcome

__all__ = ["Context", "RollbackRequest", "apply_target", "run", "wait_rollout"]  # Context & co. re-exported


def _validate(req: RollbackRequest, cfg: RollbackConfig) -> tuple[str, str]:
    strategy = req.strategy or cfg.strategy
    if strategy not in ("undo", "blue-green", "redeploy", "auto"):
        raise UsageError(
            f"{strategy!r} is not a strategy", input_name="strategy", fix="use undo, blue-green, redeploy or auto"
        )
    severity = req.severity or cfg.default_severity
    if severity not in SEVERITIES:
        raise UsageError(f"{severity!r} is not a severity", input_name="severity", fix="use " + ", ".join(SEVERITIES))
    ops.check_names(req.namespace, deployment=req.deployment, service=req.service)
    for container in req.containers:
        ops.check_names(req.namespace, container=container)
    if req.to_image:
        ops.check_image(req.to_image)
    if req.to_color is not None:
        ops.check_label_value(req.to_color, "to-color")
    if req.to_revision is not None and req.to_revision < 1:
        raise UsageError(f"{req.to_revision} is not a revision number", input_name="to-revision", fix="pass N >= 1")
    chosen = [
        x for x in (req.to_revision is not None, bool(req.to_image), req.to_last_successful, req.to_previous) if x
    ]
    if len(chosen) > 1:
        raise UsageError(
            "choose one target", input_name="to-revision/to-image/to", fix="pass only one of them (or none for the LKG)"
        )
    if strategy == "blue-green" and (req.to_revision or req.to_image):
        raise UsageError("blue-green switches colors; it takes no revision or image", input_name="strategy")
    return strategy, severity


def _last_successful_image(ctx: Context, req: RollbackRequest) -> str:
    record = ctx.deployments.last_successful(req.environment)
    other = (record or {}).get("deployment")
    if other and other != req.deployment:
        raise UsageError(
            f"the last successful GitHub deployment of {req.environment!r} is of deployment {other!r}, "
            f"not {req.deployment!r}",
            input_name="to",
            fix="pass --to-image or --to-revision, or use a GitHub environment per deployment",
        )
    image = (record or {}).get("image", "")
    if not image:
        raise UsageError(
            f"no successful GitHub deployment with an image is recorded for environment {req.environment!r}",
            input_name="to",
            fix="pass --to-image or --to-revision, or give a GitHub token and the environment",
        )
    ops.check_image(image, "to (last successful deployment)")
    ctx.reporter.info(f"last successful deployment of {req.environment}: {image}")
    return image


def run(
    req: RollbackRequest,
    cfg: RollbackConfig,
    ctx: Context,
) -> Outcome:
    strategy, severity = _validate(req, cfg)
    ctx.add("inputs", Status.PASS, f"deployment {req.namespace}/{req.deployment}, strategy {strategy}")
    try:
        return _run(req, cfg, ctx, strategy, severity)
    except Interrupted as signal:
        return _interrupted(ctx, req, strategy, signal)


def _run(req: RollbackRequest, cfg: RollbackConfig, ctx: Context, strategy: str, severity: str) -> Outcome:
    image = _last_successful_image(ctx, req) if req.to_last_successful else req.to_image
    service = req.service or cfg.blue_green.service or req.deployment
    if strategy == "auto":
        strategy = _auto(ctx, req, cfg, severity, service, has_image=bool(image))
        if strategy == "none":
            return outcome(ctx, req, "none", Verdict.PASS, {"action": "none"})
    if req.dry_run:
        ctx.add("lock", Status.SKIP, "dry run: no lock taken, nothing written")
        return _act(ctx, req, cfg, strategy, service, image)
    if strategy == "blue-green":  # no Lease is created for something that does not exist
        from hotfix_actions.services.bluegreen import read_service

        read_service(ctx, req.namespace, service)
        lock_target, subject = service, f'service "{service}"'
    else:
        ops.read_deployment(ctx.cluster, req.namespace, req.deployment)
        lock_target, subject = req.deployment, f'deployment "{req.deployment}"'
    lock = cfg.lock
    with ops.lease_lock(
        ctx.cluster,
        req.namespace,
        ops.lease_name(lock.prefix, lock_target),
        req.run_id,
        ttl_seconds=lock.ttl_seconds,
        timeout=lock.timeout_seconds if req.lock_timeout is None else req.lock_timeout,
        say=ctx.reporter.info,
        warn=lambda text: ctx.reporter.annotate("warning", text),
        what=subject,
        sleep=ctx.sleep,
    ) as hold:
        ctx.add(
            "lock",
            Status.PASS,
            f"lease {hold.state.name} held by {req.run_id} ({hold.state.reason}; TTL {lock.ttl_seconds}s, renewed "
            f"every {lock.ttl_seconds / 3:.0f}s)",
        )
        return ops.with_lease_warning(ctx, hold, _act(ctx, req, cfg, strategy, service, image))


def _interrupted(ctx: Context, req: RollbackRequest, strategy: str, signal: Interrupted) -> Outcome:
    """The signal's outcome, after the Lease was released on the way out: one line about the Deployment."""
    line = interrupted_line(ctx, req.namespace, req.deployment, signal, "rollback")
    ctx.add("interrupted", Status.ERROR, line)
    if ctx.journal.github_id is not None:
        ops.deploy_finish(ctx.deployments, ctx.reporter, ctx.journal.github_id, "error", line[:140], req.run_url)
    written = "true" if ctx.journal.landed else ("unknown" if ctx.journal.sent else "false")
    return outcome(
        ctx,
        req,
        strategy,
        Verdict.ERROR,
        {"interrupted": signal.signal_name, "written": written, "changed": "unknown" if ctx.journal.sent else "false"},
        exit_code=signal.exit_code,
    )


def _auto(ctx: Context, req: RollbackRequest, cfg: RollbackConfig, severity: str, service: str, has_image: bool) -> str:
    has_colors = False
    try:
        svc = ctx.cluster.get("services", req.namespace, service)
        has_colors = cfg.blue_green.color_label in ((svc.get("spec") or {}).get("selector") or {})
    except NotFoundError:
        has_colors = False
    if not has_image:
        try:
            dep = ctx.cluster.get("deployments", req.namespace, req.deployment)
            has_image = LkgRecord.from_annotations((dep.get("metadata") or {}).get("annotations")) is not None
        except (NotFoundError, ValueError):
            has_image = False
    matrix = {**DEFAULT_MATRIX, **dict(cfg.matrix)}
    choice = choose_strategy(severity, matrix, has_colors=has_colors, has_image=has_image)
    ctx.add("strategy", Status.PASS, f"auto: matrix row [{choice.row}] -> {choice.strategy}: {choice.reason}")
    return choice.strategy


def _act(
    ctx: Context, req: RollbackRequest, cfg: RollbackConfig, strategy: str, service: str, image: str | None
) -> Outcome:
    if strategy == "blue-green":
        from hotfix_actions.services.bluegreen import switch

        return switch(ctx, req, cfg, service)
    outputs: dict[str, str] = {"strategy": strategy}
    deployment = ops.read_deployment(ctx.cluster, req.namespace, req.deployment)
    _snapshot(ctx, req, cfg, deployment, outputs)
    target = _target(ctx, req, strategy, deployment, image)
    cause = _cause(req, strategy, target)
    plan, written = apply_target(
        ctx,
        req.namespace,
        req.deployment,
        target,
        change_cause=cause,
        resume=req.resume,
        dry_run=req.dry_run,
        record=(req.run_id, req.run_url),
        why=ops.one_line(req.reason, 200) or f"rolled back by run {req.run_id}",
    )
    outputs.update(
        {
            "action": plan.action.value,
            "from-image": ", ".join(plan.from_images.values()),
            "to-image": ", ".join(plan.to_images.values()),
            "target": plan.target,
        }
    )
    if plan.action is Action.REFUSE:
        ctx.add("plan", Status.FAIL, plan.reason + (f" (fix: {plan.fix})" if plan.fix else ""))
        return outcome(ctx, req, strategy, Verdict.FAIL, outputs, exit_code=ExitCode.USAGE, failed=True)
    if plan.action is Action.NOOP:
        ctx.add("plan", Status.PASS, plan.reason)
        if req.dry_run:
            return outcome(ctx, req, strategy, Verdict.PASS, {**outputs, "changed": "false"})
        live = ops.read_deployment(ctx.cluster, req.namespace, req.deployment)
        code = _wait_and_check(ctx, req, cfg, outputs, expectation_for(ctx, req.namespace, live), health=False)
        return _verdict(ctx, req, strategy, {**outputs, "changed": "false"}, code)
    if req.dry_run:
        ctx.add("plan", Status.PASS, f"dry run: would write {plan.reason}")
        return outcome(ctx, req, strategy, Verdict.PASS, {**outputs, "changed": "false", "dry-run": "true"})
    assert written is not None
    ctx.add(
        "write",
        Status.PASS,
        f"{plan.reason} (conditional on the resourceVersion read; generation {written.expect.generation})",
    )
    gh_id = ops.deploy_start(
        ctx.deployments,
        ctx.reporter,
        req.environment,
        req.ref,
        {
            "image": next(iter(plan.to_images.values()), ""),
            "deployment": req.deployment,
            "namespace": req.namespace,
            "strategy": strategy,
        },
        f"emergency rollback ({strategy}) to {plan.target}",
    )
    ctx.journal.github_id = gh_id
    code = _wait_and_check(ctx, req, cfg, outputs, written.expect)
    state = {ExitCode.OK: "success", ExitCode.SUPERSEDED: "inactive"}.get(code, "failure")
    ops.deploy_finish(ctx.deployments, ctx.reporter, gh_id, state, f"rollback to {plan.target}", req.run_url)
    ctx.journal.github_id = None
    return _verdict(ctx, req, strategy, {**outputs, "changed": "true"}, code)


def _verdict(ctx: Context, req: RollbackRequest, strategy: str, outputs: dict[str, str], code: ExitCode) -> Outcome:
    if code is ExitCode.OK:
        return outcome(ctx, req, strategy, Verdict.PASS, outputs)
    if code is ExitCode.SUPERSEDED:
        outputs = {**outputs, "result": "superseded"}
    return outcome(ctx, req, strategy, Verdict.FAIL, outputs, exit_code=code, failed=True)


def _wait_and_check(
    ctx: Context,
    req: RollbackRequest,
    cfg: RollbackConfig,
    outputs: dict[str, str],
    expect: Expectation,
    *,
    health: bool = True,
) -> ExitCode:
    """OK, REJECTED (the rollout or a health check failed) or SUPERSEDED (another writer's template)."""
    wait = cfg.wait if req.wait is None else req.wait
    if wait:
        timeout = req.wait_timeout or cfg.wait_timeout
        settle = cfg.settle_seconds if req.settle_seconds is None else req.settle_seconds
        result = wait_rollout(
            ctx,
            req.namespace,
            req.deployment,
            timeout=timeout,
            fail_fast=req.fail_fast_after,
            settle=settle,
            expect=expect,
            reasons=req.fail_at_once,
        )
        outputs.update(result_outputs(result))
        if result.phase is RolloutPhase.SUPERSEDED:
            return ExitCode.SUPERSEDED
        if not result.ok:
            return ExitCode.REJECTED
    else:
        ctx.add("rollout", Status.SKIP, "not waited for (--no-wait)")
    if health and cfg.health_checks:
        rows = ops.run_health_checks(ctx.probe, cfg.health_checks, ctx.reporter.info)
        ctx.rows.extend(rows)
        if not all(r.status is Status.PASS for r in rows):
            return ExitCode.REJECTED
    return ExitCode.OK


def _target(ctx: Context, req: RollbackRequest, strategy: str, deployment: KubeObject, image: str | None) -> Target:
    if image:
        names = req.containers or ("",)
        return Target(images={c: image for c in names})
    if req.to_revision is not None:
        return Target(revision=req.to_revision)
    if strategy == "redeploy":  # the previous release's images (the LKG's, or the one before) on the live template
        annotations = (deployment.get("metadata") or {}).get("annotations") or {}
        try:
            record = previous_release(annotations)[1] if req.to_previous else LkgRecord.from_annotations(annotations)
        except ValueError:
            record = None
        if record is None:
            raise UsageError(
                "redeploy needs an image: none given and no "
                + ("release recorded before the last promoted one" if req.to_previous else "last-known-good record"),
                input_name="to-image",
                fix="pass --to-image IMAGE (and --container NAME)",
            )
        images = dict(record.images)
        if req.containers:
            images = {c: images.get(c, record.image) for c in req.containers}
        return Target(images=images)
    return Target(previous=True) if req.to_previous else Target(lkg=True)


def _cause(req: RollbackRequest, strategy: str, target: Target) -> str:
    reason = f": {ops.one_line(req.reason)}" if req.reason.strip() else ""
    return f"hotfix rollback ({strategy}) to {target.describe()} by run {req.run_id}{reason}"[:1000]


def _snapshot(
    ctx: Context, req: RollbackRequest, cfg: RollbackConfig, deployment: KubeObject, out: dict[str, str]
) -> None:
    directory = req.snapshot_dir or cfg.snapshot_dir
    if not directory:
        ctx.add("snapshot", Status.SKIP, "no --snapshot-dir")
        return
    items = ops.snapshot_objects(ctx.cluster, req.namespace, deployment)
    path = ops.write_snapshot(
        directory,
        req.namespace,
        req.deployment,
        items,
        {"lkg": ops.lkg_records(deployment), "run": req.run_id},
        ctx.now(),
    )
    out["snapshot"] = path
    ctx.add("snapshot", Status.PASS, f"{len(items)} objects saved to {path}")
