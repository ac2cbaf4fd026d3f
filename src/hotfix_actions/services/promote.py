"""`hotfix promote`: put a new image on the primary Deployment and make it the last-known-good.

Set the image (a conditional write with a change cause), wait following that write (kubectl's rules, plus: a new
pod that restarts or waits in CrashLoopBackOff/ImagePullBackOff/CreateContainerConfigError fails at once, a
ReplicaFailure fails with its message), keep watching the new pods for ``settle_seconds`` (default 15), run the smoke
checks, then record the LKG annotation (images, pod-template hash, revision, time, run). Never an LKG while a new pod
restarted. The canary follows or scales to zero. A failed promote rolls back to the previous LKG (unless told not
to), exits 1 and says what it did. Another writer's template after ours is SUPERSEDED (exit 5): no LKG, no rollback
(that would undo their deploy). SIGTERM/SIGINT: the Lease is released and one line says what is live (143/130).
"""

from __future__ import annotations

from dataclasses import dataclass

from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import LockConfig
from hotfix_actions.decide.lkg import REVISION, LkgRecord, revisions, templates_equal, with_lkg
from hotfix_actions.decide.rollback import Action, Target
from hotfix_actions.decide.rollout import RolloutPhase
from hotfix_actions.decide.tracking import IMMEDIATE_REASONS
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import ConflictError, ExitCode, Interrupted, NotFoundError, UsageError
from hotfix_actions.ports import Event, KubeObject
from hotfix_actions.report import Outcome, problem_reasons
from hotfix_actions.services import _kubeops as ops
from hotfix_actions.services._deploy import (
    Context,
    apply_target,
    expectation_for,
    interrupted_line,
    result_outputs,
    wait_rollout,
)

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
    fail_at_once: tuple[str, ...] = IMMEDIATE_REASONS  # pod reasons that fail the wait at once (cluster.fail_at_once)
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
    try:
        if req.dry_run:
            ctx.add("lock", Status.SKIP, "dry run: no lock taken, nothing written")
            return _promote(ctx, req, cfg, mode)
        ops.read_deployment(ctx.cluster, req.namespace, req.deployment)  # no Lease for a Deployment that is not there
        with ops.lease_lock(
            ctx.cluster,
            req.namespace,
            ops.lease_name(lock.prefix, req.deployment),
            req.run_id,
            ttl_seconds=lock.ttl_seconds,
            timeout=lock.timeout_seconds if req.lock_timeout is None else req.lock_timeout,
            say=ctx.reporter.info,
            warn=lambda text: ctx.reporter.annotate("warning", text),
            what=f'deployment "{req.deployment}"',
            sleep=ctx.sleep,
        ) as hold:
            ctx.add("lock", Status.PASS, f"lease {hold.state.name} held by {req.run_id} (TTL {lock.ttl_seconds}s)")
            return ops.with_lease_warning(ctx, hold, _promote(ctx, req, cfg, mode))
    except Interrupted as signal:
        line = interrupted_line(ctx, req.namespace, req.deployment, signal, "promote")
        ctx.add("interrupted", Status.ERROR, line + "; no last-known-good recorded")
        if ctx.journal.github_id is not None:
            ops.deploy_finish(ctx.deployments, ctx.reporter, ctx.journal.github_id, "error", line[:140], req.run_url)
        written = "true" if ctx.journal.landed else ("unknown" if ctx.journal.sent else "false")
        outputs = {"image": req.image, "interrupted": signal.signal_name, "written": written}
        return _outcome(ctx, req, Verdict.ERROR, outputs, exit_code=signal.exit_code)


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
    plan, written = apply_target(
        ctx, req.namespace, req.deployment, Target(images=images), change_cause=cause, resume=False, dry_run=req.dry_run
    )
    if plan.action is Action.REFUSE:
        ctx.add("set image", Status.FAIL, plan.reason + (f" (fix: {plan.fix})" if plan.fix else ""))
        return _outcome(ctx, req, Verdict.FAIL, outputs, exit_code=ExitCode.USAGE)
    if req.dry_run:
        ctx.add("set image", Status.PASS, f"dry run: {plan.reason}")
        return _outcome(ctx, req, Verdict.PASS, {**outputs, "dry-run": "true"})
    if written is None:
        expect = expectation_for(ctx, req.namespace, ops.read_deployment(ctx.cluster, req.namespace, req.deployment))
        what = "already live: verifying it"
    else:
        expect, what = written.expect, f"{plan.reason}; generation {written.expect.generation}"
    ctx.add("set image", Status.PASS, f"{what} (change cause: {cause})")
    gh_id = ops.deploy_start(
        ctx.deployments,
        ctx.reporter,
        req.environment,
        req.ref,
        {"image": req.image, "deployment": req.deployment, "namespace": req.namespace},
        f"promote {req.image}",
    )
    ctx.journal.github_id = gh_id
    settle = cfg.settle_seconds if req.settle_seconds is None else req.settle_seconds
    timeout = req.wait_timeout or cfg.wait_timeout
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
        return _superseded(ctx, req, outputs, gh_id)
    ok = result.ok
    if ok and cfg.smoke_checks:
        rows = ops.run_health_checks(ctx.probe, cfg.smoke_checks, ctx.reporter.info, label="smoke")
        ctx.rows.extend(rows)
        ok = all(r.status is Status.PASS for r in rows)
    if not ok:
        why = result.problem.describe() if result.problem else (result.message if not result.ok else "smoke checks")
        return _fail(ctx, req, cfg, fallback, outputs, gh_id, result.problem.reason if result.problem else "", why)
    promoted = ops.read_deployment(ctx.cluster, req.namespace, req.deployment)
    record = record_lkg(ctx, req.namespace, req.deployment, promoted, run_id=req.run_id, run_url=req.run_url)
    ctx.add("last-known-good", Status.PASS, f"recorded {record.describe()}")
    outputs.update({"lkg": record.describe(), "revision": str(record.revision), "changed": "true"})
    _canary(ctx, req, cfg, mode)
    ops.deploy_finish(ctx.deployments, ctx.reporter, gh_id, "success", f"promoted {req.image}", req.run_url)
    ctx.journal.github_id = None
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


def _superseded(ctx: Context, req: PromoteRequest, outputs: dict[str, str], gh_id: int | None) -> Outcome:
    """Another writer's template replaced ours: no LKG, and no rollback (it would undo their deploy)."""
    ctx.add("last-known-good", Status.SKIP, "not recorded: our template is no longer the one rolling out")
    ctx.add("rollback", Status.SKIP, "not rolled back: the deployment now carries another writer's template")
    ops.deploy_finish(
        ctx.deployments, ctx.reporter, gh_id, "inactive", f"promote of {req.image} superseded", req.run_url
    )
    ctx.journal.github_id = None
    ops.notify(
        ctx.notifier,
        Event(
            kind="failed",
            title=f"promote of {req.image} to {req.namespace}/{req.deployment} SUPERSEDED",
            version=ops.one_line(req.version, 100),
            verdict="FAIL",
            reasons=tuple(problem_reasons(ctx.rows)),
            actor=req.actor,
            run_url=req.run_url,
            environment=req.environment,
        ),
        ctx.reporter,
    )
    outputs = {**outputs, "result": "superseded", "changed": "true", "rolled-back": "false"}
    return _outcome(ctx, req, Verdict.FAIL, outputs, exit_code=ExitCode.SUPERSEDED)


def _fail(
    ctx: Context,
    req: PromoteRequest,
    cfg: PromoteConfig,
    fallback: Target | None,
    outputs: dict[str, str],
    gh_id: int | None,
    blocking: str,
    why: str,
) -> Outcome:
    rollback = cfg.rollback_on_failure if req.rollback_on_failure is None else req.rollback_on_failure
    outputs = {**outputs, "changed": "true", "blocking-reason": blocking}
    if not rollback or fallback is None:
        reason = "--no-rollback-on-failure" if not rollback else "no LKG record and no revision to return to"
        ctx.add("rollback", Status.SKIP, f"not rolled back ({reason}): the failed release stays live")
        ops.deploy_finish(
            ctx.deployments, ctx.reporter, gh_id, "failure", f"promote of {req.image} failed", req.run_url
        )
        outputs["rolled-back"] = "false"
    else:
        cause = f"hotfix promote of {req.image} failed: rolled back to {fallback.describe()} by run {req.run_id}"
        plan, written = apply_target(
            ctx,
            req.namespace,
            req.deployment,
            fallback,
            change_cause=cause,
            resume=False,
            dry_run=False,
            record=(req.run_id, req.run_url),
            why=ops.one_line(f"promote of {req.image} failed: {why}", 300),
        )
        if plan.action is Action.REFUSE:
            ctx.add("rollback", Status.ERROR, f"could not roll back: {plan.reason}")
        else:
            ctx.add("rollback", Status.PASS, f"rolling back to {plan.target}")
            expect = written.expect if written is not None else None
            back = ctx.cluster.wait_for_rollout(
                req.namespace,
                req.deployment,
                timeout=req.wait_timeout or cfg.wait_timeout,
                fail_fast_after=req.fail_fast_after,
                on_progress=ctx.reporter.info,
                expect=expect,
                immediate_reasons=req.fail_at_once,
            )
            status = Status.PASS if back.ok else Status.ERROR
            ctx.add("rollback rollout", status, ("rolled back: " if back.ok else "") + back.describe())
            outputs["restore-seconds"] = f"{back.waited:.2f}"
        ops.deploy_finish(
            ctx.deployments, ctx.reporter, gh_id, "inactive", f"promote of {req.image} failed; rolled back", req.run_url
        )
        outputs["rolled-back"] = "true"
    ctx.journal.github_id = None
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
