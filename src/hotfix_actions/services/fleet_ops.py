"""`hotfix fleet rollback` and `hotfix fleet status`.

rollback: every target back at once, each by the rollback service (snapshot, Lease, conditional write, verified
rollout): to its last-known-good (``lkg``), to the release recorded before the newest promoted one
(``previous-lkg``), or to the release it ran before the fleet run recorded on it (``before-run``; with a version
and image, only the targets that run touched). Idempotent: a target already there is verified and left unchanged.
A target's fleet record is marked rolled-back once its rollback is verified, so a new run is not blocked by it.

status: read-only, in parallel: the image that runs, the rollout, the LKG, the fleet record, both locks.
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

from hotfix_actions.decide.fleet import Back, FleetRecord, Phase
from hotfix_actions.decide.lkg import LkgRecord
from hotfix_actions.decide.rollout import RolloutPhase, rollout_status
from hotfix_actions.decide.verdict import Status, Verdict, worst
from hotfix_actions.errors import ExitCode
from hotfix_actions.ports import Notifier
from hotfix_actions.report import Outcome, Reporter, Row, md_escape, md_table
from hotfix_actions.services import _kubeops as ops
from hotfix_actions.services import fleet_report as fr
from hotfix_actions.services.fleet import Fleet, FleetRequest
from hotfix_actions.services.fleet_target import FleetSettings, Opener, TargetRun, TargetSpec

__all__ = ["report", "rollback", "status"]

TARGETS = ("lkg", "previous-lkg", "before-run")


def _back(run: TargetRun, to: str, only_run: str | None) -> Back | None:
    """Where the target goes; None: this target is not part of the named run (left alone)."""
    if to == "lkg":
        return Back("lkg", reason="its last-known-good record")
    if to == "previous-lkg":
        return Back("previous", reason="the release recorded before the newest promoted one")
    record = run.record
    if record is None:
        return None if only_run else Back("none", reason="no fleet run is recorded on it")
    if only_run and record.run != only_run:
        return None
    return run.back()


def rollback(
    req: FleetRequest,
    settings: FleetSettings,
    opener: Opener,
    reporter: Reporter,
    notifier: Notifier,
    *,
    to: str,
    only_run: str | None = None,
    reason: str = "",
) -> Outcome:
    """Every target back to ``to`` in parallel; ``only_run``: with before-run, only the targets that run touched."""
    fleet = Fleet(req, settings, reporter)
    with ExitStack() as stack:
        fleet.open(stack, opener, metrics=False)
        if not req.dry_run:  # an emergency: a target that cannot be locked is named, the others still go back
            fleet.lock(stack, strict=False)
        fleet.read_all()
        if not fleet.healthy():
            return _outcome(fleet, notifier, "no target could be reached: nothing was changed", send=False)

        def work(name: str) -> None:
            run, result = fleet.runs[name], fleet.results[name]
            back = _back(run, to, only_run)
            if back is None:
                images = ", ".join(f"{k}={v}" for k, v in run.live_images().items())
                result.note = f"not part of fleet run {only_run}: left alone; runs {images} (as read)"
                return
            if back.to == "none":
                result.rollback = fr.StepResult(Verdict.ERROR, f"not rolled back: {back.reason}", time.time(), 0.0)
                return
            if req.dry_run:
                result.note = f"dry run: would roll back to {back.to} ({back.reason})"
                return
            run.reporter.step(f"rollback to {back.to}: {back.reason}")
            why = reason or f"hotfix fleet rollback --to {to}"
            result.rollback = run.rollback(back, ops.one_line(why, 200))
            record = run.record
            if record is None or result.rollback.verdict is not Verdict.PASS:
                return
            if record.phase is not Phase.ROLLED_BACK and (only_run is None or record.run == only_run):
                run.mark(Phase.ROLLED_BACK, result.rollback.reason)

        fleet.parallel(fleet.healthy(), work, "rollback", limit=len(fleet.runs))
        return _outcome(fleet, notifier, "", send=not req.dry_run)


def _outcome(fleet: Fleet, notifier: Notifier, why: str, *, send: bool) -> Outcome:
    results = list(fleet.results.values())
    steps = [r.rollback for r in results if r.rollback is not None]
    verdict = worst([s.verdict for s in steps]) if steps else Verdict.PASS
    if fleet.errors:
        verdict = Verdict.ERROR
    changed = [r.target for r in results if r.rollback and r.rollback.reason.startswith("rolled back")]
    reasons = [why] if why else []
    reasons.append(
        f"{len(changed)} rolled back, {sum(1 for s in steps if s.verdict is Verdict.PASS) - len(changed)} already "
        f"there, {sum(1 for s in steps if s.verdict is not Verdict.PASS)} failed, of {len(results)} targets"
    )
    reasons += [f"{name}: {exc}" for name, exc in fleet.errors.items()]
    reasons += [
        f"{r.target}: {r.rollback.reason}" for r in results if r.rollback and r.rollback.verdict is not Verdict.PASS
    ]
    for line in reasons:
        fleet.reporter.step(f"fleet rollback: {line}")
    s = fleet.settings
    if send and (changed or verdict is not Verdict.PASS):
        kind = "rolled_back" if verdict is Verdict.PASS else "failed"
        title = f"fleet rollback: {verdict.value}"
        event = fr.event(kind, title, results, version=s.version, verdict=verdict, run_url=s.run_url, actor=s.actor)
        ops.notify(notifier, event, fleet.reporter)
    codes = [e.exit_code for e in fleet.errors.values()]
    code = ExitCode.UNAVAILABLE if ExitCode.UNAVAILABLE in codes else max(codes, default=None)
    outputs = {
        "rolled-back": "true" if changed else "false",
        "rolled-back-targets": " ".join(sorted(changed)),
        "results": json.dumps(fr.to_data(results), separators=(",", ":")),
    }
    return Outcome(
        command="fleet rollback",
        verdict=verdict,
        reasons=reasons,
        outputs=outputs,
        rows=fr.rows(results),
        title="fleet rollback",
        markdown=fr.markdown(results, "Fleet rollback"),
        exit_code=code,
    )


def status(req: FleetRequest, settings: FleetSettings, opener: Opener, reporter: Reporter) -> Outcome:
    """Image, rollout, LKG, fleet record and locks of every target, read in parallel."""
    fleet = Fleet(req, settings, reporter)
    lines: dict[str, list[str]] = {}
    with ExitStack() as stack:
        fleet.open(stack, opener, metrics=False)

        def work(name: str) -> None:
            run = fleet.runs[name]
            record = run.read()
            annotations = (run.deployment.get("metadata") or {}).get("annotations") or {}
            try:
                lkg = LkgRecord.from_annotations(annotations)
                lkg_text = lkg.describe() if lkg else "none recorded"
            except ValueError as exc:
                lkg_text = f"unreadable ({exc})"
            rollout = rollout_status(run.deployment)
            cluster = run.ports.cluster
            locks = []
            for prefix in (settings.lock_prefix, settings.rollback.lock.prefix):
                lease = cluster.read_lease(run.namespace, ops.lease_name(prefix, run.spec.deployment))
                locks.append(f"{ops.lease_name(prefix, run.spec.deployment)}: {lease.describe() if lease else 'free'}")
            lines[name] = [
                ", ".join(f"{k}={v}" for k, v in run.live_images().items()),
                "complete" if rollout.phase is RolloutPhase.COMPLETE else rollout.message,
                lkg_text,
                _record_text(record) or run.record_problem or "none",
                "; ".join(locks),
            ]

        fleet.parallel(fleet.healthy(), work, "status", limit=max(1, len(fleet.runs)))
    rows = []
    table = []
    for spec in sorted(req.targets, key=lambda t: (t.wave_index, t.name)):
        cells = lines.get(spec.name)
        if cells is None:
            error = fleet.errors.get(spec.name)
            rows.append(Row(f"{spec.name} (wave {spec.wave})", Status.ERROR, str(error or "not read")))
            continue
        image, rollout, lkg, record, locks = cells
        reason = f"image {image}; rollout {rollout}; LKG {lkg}; fleet {record}; locks {locks}"
        rows.append(Row(f"{spec.name} (wave {spec.wave})", Status.PASS, reason))
        table.append([md_escape(c) for c in (spec.name, spec.wave, image, rollout, lkg, record, locks)])
    verdict = Verdict.ERROR if fleet.errors else Verdict.PASS
    markdown = md_table(["Target", "Wave", "Image", "Rollout", "LKG", "Fleet run", "Locks"], table)
    reasons = [f"{len(lines)} of {len(req.targets)} targets read"] + [f"{n}: {e}" for n, e in fleet.errors.items()]
    codes = [e.exit_code for e in fleet.errors.values()]
    code = ExitCode.UNAVAILABLE if ExitCode.UNAVAILABLE in codes else max(codes, default=None)
    return Outcome("fleet status", verdict, reasons, {}, rows, "fleet status", markdown, exit_code=code)


def _record_text(record: FleetRecord | None) -> str:
    if record is None:
        return ""
    text = f"{record.run} wave {record.wave} {record.phase.value} at {record.at} by {record.holder}"
    return text + (f" ({record.reason})" if record.reason else "")


def report(
    specs: tuple[TargetSpec, ...],
    results: list[fr.TargetResult],
    settings: FleetSettings,
    reporter: Reporter,
    notifier: Notifier,
) -> Outcome:
    """The fleet workflow's last job: every per-target job's results as one table and ONE message for the run.

    A target no job reported on is "not reached" (its wave never ran); nothing here reads a cluster."""
    merged = fr.merge(results)
    for spec in specs:
        if spec.name not in merged:
            merged[spec.name] = fr.TargetResult(spec.name, spec.wave, spec.wave_index, note="no job ran for it")
    ordered = sorted(merged.values(), key=lambda r: (r.wave_index, r.target))
    reported = [r for r in ordered if r.steps() or r.error]
    if not reported:
        verdict, reasons = Verdict.ERROR, ["no job reported a result: nothing is known about the run"]
    else:
        verdicts = [r.verdict for r in reported] + [r.rollback.verdict for r in reported if r.rollback]
        verdicts += [Verdict.ERROR for r in reported if r.error]
        verdict = worst(verdicts)
        promoted = [r.target for r in ordered if r.promote and r.promote.verdict is Verdict.PASS]
        rolled = [r.target for r in ordered if r.rollback and r.rollback.reason.startswith("rolled back")]
        reasons = [f"promoted: {', '.join(promoted) or 'none'}; rolled back: {', '.join(rolled) or 'none'}"]
        reasons += [f"{r.target}: {p}" for r in ordered if (p := r.problem())]
    for line in reasons:
        reporter.step(f"fleet report: {line}")
    s = settings
    kind = "promoted" if verdict is Verdict.PASS else "failed"
    title = f"fleet promote {s.version or s.image}: {verdict.value}"
    event = fr.event(kind, title, ordered, version=s.version, verdict=verdict, run_url=s.run_url, actor=s.actor,
                     extra=tuple(reasons[:1]))  # fmt: skip
    ops.notify(notifier, event, reporter)
    outputs = {
        "results": json.dumps(fr.to_data(ordered), separators=(",", ":")),
        "failed": str(verdict != Verdict.PASS).lower(),
    }
    return Outcome(
        command="fleet report",
        verdict=verdict,
        reasons=reasons,
        outputs=outputs,
        rows=fr.rows(ordered),
        title=title,
        markdown=fr.markdown(ordered, f"Fleet run {s.run}"),
    )
