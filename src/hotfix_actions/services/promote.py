"""`hotfix promote`: put a new image on the primary Deployment and make it the last-known-good.

Set the image (a conditional write with a change cause), wait by kubectl's rules, run the smoke checks, then record
the LKG annotation (images, pod-template hash, revision, time, run). The canary follows or scales to zero. A failed
promote rolls back to the previous LKG (unless told not to), exits non-zero and says what it did.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import LockConfig
from hotfix_actions.decide.lkg import REVISION, LkgRecord, revisions, templates_equal, with_lkg
from hotfix_actions.decide.rollback import Action, Target
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import ConflictError, ExitCode, NotFoundError, UsageError
from hotfix_actions.ports import Event, KubeObject
from hotfix_actions.report import Outcome, problem_reasons
from hotfix_actions.services import _kubeops as ops
from hotfix_actions.services._deploy import Context, apply_target, wait_rollout

__all__ = ["PromoteRequest", "record_lkg", "run"]


@dataclass(frozen=True)
class PromoteRequest:
    namespace: str
    deployment: str
    image: str
    containers: tuple[str, ...] = ()
    change_cause: str = ""
    canary: str | None = None  # follow | scale-to-zero | ignore; None = .hotfix.yml promote.canary
    rollback_on_failure: bool | None = None
    wait_timeout: float | None = None
    lock_timeout: float | None = None
    fail_fast_after: float | None = None
    settle_seconds: float | None = None
    snapshot_dir: str | None = None
    dry_run: bool = False
    run_id: str = "local"
    run_url: str = ""
    environment: str = ""
    actor: str = ""
    version: str = ""
    ref: str = ""  # the commit the GitHub Deployment records (GITHUB_SHA)


def record_lkg(
    ctx: Context, namespace: str, name: str, promoted: KubeObject, *, run_id: str, run_url: str
) -> LkgRecord:
    """Write the LKG record for the template now live; re-read on a 409, refuse if the template changed meanwhile."""
    template = (promoted.get("spec") or {}).get("template") or {}
    for _ in range(5):
        deployment = ops.read_deployment(ctx.cluster, namespace, name)
        live = (deployment.get("spec") or {}).get("template") or {}
        if not templates_equal(live, template):
            raise ConflictError(
                f'deployment "{name}" got another template while it was being verified: no LKG recorded'
            )
        number = str(((deployment.get("metadata") or {}).get("annotations") or {}).get(REVISION, ""))
        current = next(
            (r for r in revisions(ctx.cluster.owned_replicasets(deployment)) if str(r.number) == number), None
        )
        record = LkgRecord.build(
            live,
            template_hash=current.template_hash if current else "",
            revision=int(number) if number.isdigit() else 0,
            time=ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            run_url=run_url,
            run_id=run_id,
        )
        body = with_lkg(deployment, record)
        body.pop("status", None)
        try:
            ctx.cluster.replace("deployments", namespace, body)
        except ConflictError:
            continue
        return record
    raise ConflictError(f'deployment "{name}" changed under us 5 times while the LKG was recorded')


def run(req: PromoteRequest, cfg: PromoteConfig, lock: LockConfig, ctx: Context) -> Outcome:
    ops.check_names(req.namespace, deployment=req.deployment)
    for container in req.containers:
        ops.check_names(req.namespace, container=container)
    ops.check_image(req.image, "image")
    mode = req.canary or cfg.canary
    if mode not in ("follow", "scale-to-zero", "ignore"):
        raise UsageError(
            f"{mode!r} is not a canary mode", input_name="canary", fix="use follow, scale-to-zero or ignore"
        )
    ctx.add("inputs", Status.PASS, f"deployment {req.namespace}/{req.deployment} -> {req.image}")
    if req.dry_run:
        ctx.add("lock", Status.SKIP, "dry run: no lock taken, nothing written")
        return _promote(ctx, req, cfg, mode)
    with ops.lease_lock(
        ctx.cluster,
        req.namespace,
        ops.lease_name(lock.prefix, req.deployment),
        req.run_id,
        ttl_seconds=lock.ttl_seconds,
        timeout=lock.timeout_seconds if req.lock_timeout is None else req.lock_timeout,
        say=ctx.reporter.info,
        warn=lambda text: ctx.reporter.annotate("warning", text),
        sleep=ctx.sleep,
    ) as lease:
        ctx.add("lock", Status.PASS, f"lease {lease.name} held by {req.run_id}")
        return _promote(ctx, req, cfg, mode)


def _promote(ctx: Context, req: PromoteRequest, cfg: PromoteConfig, mode: str) -> Outcome:
    deployment = ops.read_deployment(ctx.cluster, req.namespace, req.deployment)
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    try:
        previous = LkgRecord.from_annotations(annotations)
    except ValueError:
        previous = None
    number = str(annotations.get(REVISION, ""))
    fallback = Target(lkg=True) if previous else (Target(revision=int(number)) if number.isdigit() else None)
    outputs = {"image": req.image, "previous-lkg": previous.describe() if previous else ""}
    directory = req.snapshot_dir or cfg.snapshot_dir
    if directory:
        items = ops.snapshot_objects(ctx.cluster, req.namespace, deployment)
        path = ops.write_snapshot(
            directory, req.namespace, req.deployment, items, {"lkg": ops.lkg_records(deployment)}, ctx.now()
        )
        outputs["snapshot"] = path
        ctx.add("snapshot", Status.PASS, f"{len(items)} objects saved to {path}")
    version = ops.one_line(req.version, 100)
    cause = ops.one_line(req.change_cause) or f"hotfix promote {version or req.image} by run {req.run_id}"
    images = {c: req.image for c in (req.containers or ("",))}
    plan, _ = apply_target(
        ctx, req.namespace, req.deployment, Target(images=images), change_cause=cause, resume=False, dry_run=req.dry_run
    )
    if plan.action is Action.REFUSE:
        ctx.add("set image", Status.FAIL, plan.reason + (f" (fix: {plan.fix})" if plan.fix else ""))
        return _outcome(ctx, req, Verdict.FAIL, outputs, exit_code=ExitCode.USAGE)
    if req.dry_run:
        ctx.add("set image", Status.PASS, f"dry run: {plan.reason}")
        return _outcome(ctx, req, Verdict.PASS, {**outputs, "dry-run": "true"})
    what = "already live: verifying it" if plan.action is Action.NOOP else plan.reason
    ctx.add("set image", Status.PASS, f"{what} (change cause: {cause})")
    gh_id = ops.deploy_start(
        ctx.deployments,
        ctx.reporter,
        req.environment,
        req.ref,
        {"image": req.image, "deployment": req.deployment, "namespace": req.namespace},
        f"promote {req.image}",
    )
    settle = cfg.settle_seconds if req.settle_seconds is None else req.settle_seconds
    timeout = req.wait_timeout or cfg.wait_timeout
    result = wait_rollout(ctx, req.namespace, req.deployment, timeout, req.fail_fast_after, settle)
    ok = result.ok
    if ok and cfg.smoke_checks:
        rows = ops.run_health_checks(ctx.probe, cfg.smoke_checks, ctx.reporter.info, label="smoke")
        ctx.rows.extend(rows)
        ok = all(r.status is Status.PASS for r in rows)
    if not ok:
        return _fail(ctx, req, cfg, fallback, outputs, gh_id, result.problem.reason if result.problem else "")
    promoted = ops.read_deployment(ctx.cluster, req.namespace, req.deployment)
    record = record_lkg(ctx, req.namespace, req.deployment, promoted, run_id=req.run_id, run_url=req.run_url)
    ctx.add("last-known-good", Status.PASS, f"recorded {record.describe()}")
    outputs.update({"lkg": record.describe(), "revision": str(record.revision), "changed": "true"})
    _canary(ctx, req, cfg, mode)
    ops.deploy_finish(ctx.deployments, ctx.reporter, gh_id, "success", f"promoted {req.image}", req.run_url)
    ops.notify(
        ctx.notifier,
        Event(
            kind="promoted",
            title=f"promoted {req.image} to {req.namespace}/{req.deployment}",
            version=ops.one_line(req.version, 100),
            verdict="PASS",
            reasons=(record.describe(),),
            actor=req.actor,
            run_url=req.run_url,
            environment=req.environment,
        ),
        ctx.reporter,
    )
    return _outcome(ctx, req, Verdict.PASS, outputs)


def _fail(
    ctx: Context,
    req: PromoteRequest,
    cfg: PromoteConfig,
    fallback: Target | None,
    outputs: dict[str, str],
    gh_id: int | None,
    blocking: str,
) -> Outcome:
    rollback = cfg.rollback_on_failure if req.rollback_on_failure is None else req.rollback_on_failure
    outputs = {**outputs, "changed": "true", "blocking-reason": blocking}
    if not rollback or fallback is None:
        why = "--no-rollback-on-failure" if not rollback else "no LKG record and no revision to return to"
        ctx.add("rollback", Status.SKIP, f"not rolled back ({why}): the failed release stays live")
        ops.deploy_finish(
            ctx.deployments, ctx.reporter, gh_id, "failure", f"promote of {req.image} failed", req.run_url
        )
        outputs["rolled-back"] = "false"
    else:
        cause = f"hotfix promote of {req.image} failed: rolled back to {fallback.describe()} by run {req.run_id}"
        plan, _ = apply_target(
            ctx,
            req.namespace,
            req.deployment,
            fallback,
            change_cause=cause,
            resume=False,
            dry_run=False,
            record=(req.run_id, req.run_url),
        )
        if plan.action is Action.REFUSE:
            ctx.add("rollback", Status.ERROR, f"could not roll back: {plan.reason}")
        else:
            ctx.add("rollback", Status.PASS, f"rolled back to {plan.target}")
            back = ctx.cluster.wait_for_rollout(
                req.namespace,
                req.deployment,
                timeout=req.wait_timeout or cfg.wait_timeout,
                fail_fast_after=req.fail_fast_after,
                on_progress=ctx.reporter.info,
            )
            ctx.add("rollback rollout", Status.PASS if back.ok else Status.ERROR, back.describe())
        ops.deploy_finish(
            ctx.deployments, ctx.reporter, gh_id, "inactive", f"promote of {req.image} failed; rolled back", req.run_url
        )
        outputs["rolled-back"] = "true"
    ops.notify(
        ctx.notifier,
        Event(
            kind="failed",
            title=f"promote of {req.image} to {req.namespace}/{req.deployment} FAILED",
            version=ops.one_line(req.version, 100),
            verdict="FAIL",
            reasons=tuple(problem_reasons(ctx.rows, frozenset({Status.FAIL, Status.ERROR}))),
            actor=req.actor,
            run_url=req.run_url,
            environment=req.environment,
        ),
        ctx.reporter,
    )
    return _outcome(ctx, req, Verdict.FAIL, outputs)


def _canary(ctx: Context, req: PromoteRequest, cfg: PromoteConfig, mode: str) -> None:
    name = f"{req.deployment}{cfg.canary_suffix}"
    if mode == "ignore":
        return
    try:
        canary = ctx.cluster.get("deployments", req.namespace, name)
    except NotFoundError:
        ctx.add("canary", Status.SKIP, f"no deployment {name}")
        return
    if mode == "follow":
        ctx.cluster.set_images(
            req.namespace,
            name,
            {c: req.image for c in _names(canary, req.containers)},
            f"follows {req.deployment}: {req.image}",
        )
        ctx.add("canary", Status.PASS, f"{name} follows: image {req.image}")
    else:
        ctx.cluster.scale(req.namespace, name, 0)
        ctx.add("canary", Status.PASS, f"{name} scaled to zero")


def _names(deployment: KubeObject, containers: tuple[str, ...]) -> tuple[str, ...]:
    if containers:
        return containers
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return tuple(c.get("name", "") for c in spec.get("containers") or ())[:1]


def _outcome(
    ctx: Context, req: PromoteRequest, verdict: Verdict, outputs: dict[str, str], exit_code: ExitCode | None = None
) -> Outcome:
    reasons = problem_reasons(ctx.rows)
    if not reasons:
        reasons = [r.text for r in ctx.rows if r.check in ("last-known-good", "set image")][-1:]
    return Outcome(
        command="promote",
        verdict=verdict,
        reasons=reasons,
        outputs=outputs,
        rows=list(ctx.rows),
        title=f"promote {req.namespace}/{req.deployment}",
        exit_code=exit_code,
    )
