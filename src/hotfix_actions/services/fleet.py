"""`hotfix fleet promote`: one hotfix across many clusters, wave after wave.

Order: open every target (no request yet), take the fleet Lease in every target (sorted by name, so two runs
never hold part of the fleet each), read every target's record, then loop on ``decide.fleet.next_step``:
PROMOTE (gate + promote in each target of the wave, at most ``max_parallel`` at once), BAKE (the monitor's judge on
every target of the wave for the bake time), ROLLBACK (a FAIL anywhere: every target this run touched goes back to
the release it ran before, in parallel, by the rollback service), until DONE, STOPPED or BLOCKED. Each phase is
written to the target's own Deployment before the next starts, so a rerun continues where a crash stopped it.

Only a FAIL rolls back. A step that could not decide (a cluster or Prometheus that does not answer, an
INCONCLUSIVE judge, a signal) stops the run where it is: nothing else moves, exit 3 (or 130/143), and a rerun
continues from there.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from contextlib import ExitStack
from dataclasses import dataclass, replace

from hotfix_actions.decide.fleet import FleetRecord, Phase, Step, StepKind, Wave, next_step
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ExitCode, HotfixError, Interrupted
from hotfix_actions.ports import Notifier, NullNotifier
from hotfix_actions.report import Outcome, Reporter
from hotfix_actions.services import _kubeops as ops
from hotfix_actions.services import fleet_report as fr
from hotfix_actions.services.fleet_target import FleetSettings, Opener, Prefixed, TargetRun, TargetSpec

__all__ = ["Fleet", "FleetRequest", "promote"]

_GRACE = 5.0  # seconds a signal waits for steps in flight (a cancelled job gets SIGTERM 7.5 s after SIGINT)


@dataclass(frozen=True)
class FleetRequest:
    targets: tuple[TargetSpec, ...]  # the targets this invocation works on (every target, or the one of --target)
    waves: tuple[Wave, ...]  # the waves those targets are in
    wave_count: int  # waves in the whole plan (recorded, so a run knows when its last wave is baked)
    dry_run: bool = False


class Fleet:
    """The open targets of one invocation, their results, and the stop event parallel steps watch."""

    def __init__(self, req: FleetRequest, settings: FleetSettings, reporter: Reporter) -> None:
        self.req, self.settings, self.reporter = req, settings, reporter
        self.stop = threading.Event()
        self.runs: dict[str, TargetRun] = {}
        self.results = {t.name: fr.TargetResult(t.name, t.wave, t.wave_index) for t in req.targets}
        self.errors: dict[str, HotfixError] = {}
        self.did = False  # this invocation wrote something

    # -- opening, locking, reading -------------------------------------------------------------------
    def open(self, stack: ExitStack, opener: Opener, *, metrics: bool) -> None:
        for spec in self.req.targets:
            try:
                ports = stack.enter_context(opener(spec, metrics))
            except HotfixError as exc:
                self.fail_target(spec.name, exc, "open")
                continue
            self.runs[spec.name] = TargetRun(spec, ports, self.settings, Prefixed(self.reporter, spec.name), self.stop)

    def fail_target(self, name: str, exc: HotfixError, doing: str) -> None:
        self.errors[name] = exc
        result = self.results[name]
        result.note = f"{doing}: {ops.one_line(str(exc), 300)}"
        result.error = True
        self.reporter.step(f"[{name}] {doing}: ERROR - {exc}")

    def healthy(self) -> list[str]:
        """The open targets that have not failed to lock or read, in name order."""
        return sorted(name for name in self.runs if name not in self.errors)

    def lock(self, stack: ExitStack, *, strict: bool = True) -> None:
        """The fleet Lease in every target, in name order; the first that cannot be taken stops the run
        (``strict``), or is that target's error while the others go on (a rollback)."""
        s = self.settings
        lock = s.rollback.lock
        for name in sorted(self.runs):
            run = self.runs[name]
            try:
                ops.read_deployment(run.ports.cluster, run.namespace, run.spec.deployment)
                stack.enter_context(
                    ops.lease_lock(
                        run.ports.cluster,
                        run.namespace,
                        ops.lease_name(s.lock_prefix, run.spec.deployment),
                        s.holder,
                        ttl_seconds=lock.ttl_seconds,
                        timeout=lock.timeout_seconds if s.lock_timeout is None else s.lock_timeout,
                        say=run.reporter.info,
                        warn=run.warn,
                        what=f"the fleet lock of {name}",
                    )
                )
            except HotfixError as exc:
                self.fail_target(name, exc, "lock")
                if strict:
                    return
                continue
            run.reporter.info(f"fleet lock {ops.lease_name(s.lock_prefix, run.spec.deployment)} held by {s.holder}")

    def read_all(self) -> dict[str, FleetRecord | None]:
        found: dict[str, FleetRecord | None] = {}

        def read(name: str) -> None:
            found[name] = self.runs[name].read()

        self.parallel(self.healthy(), read, "read", limit=max(1, len(self.runs)))
        for run in self.runs.values():
            if run.record_problem:
                run.reporter.annotate("warning", f"{run.record_problem}: treated as no record")
        return found

    def parallel(self, names: Sequence[str], work: Callable[[str], object], doing: str, *, limit: int) -> None:
        """``work`` on each target, ``limit`` at once; a HotfixError is that target's ERROR and stops the run."""

        def guarded(name: str) -> None:
            try:
                work(name)
            except HotfixError as exc:
                self.fail_target(name, exc, doing)
                self.stop.set()

        pool = ThreadPoolExecutor(max_workers=max(1, limit), thread_name_prefix=f"fleet-{doing}")
        futures: list[Future[None]] = [pool.submit(guarded, n) for n in names]
        pending = set(futures)
        try:
            while pending:  # short waits, so a signal reaches the main thread promptly
                _, pending = wait_all(pending, timeout=0.5)
            for future in futures:
                future.result()
        except Interrupted:
            # gates and bakes stop at their next look; a promote or rollback in flight is given a moment to end
            self.stop.set()
            self.reporter.step(f"signal: stopping; waiting up to {_GRACE:g}s for the {doing} steps in flight")
            wait_all(pending, timeout=_GRACE)
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def reread(self, name: str) -> None:
        self.runs[name].read()

    # -- the steps -----------------------------------------------------------------------------------
    def promote_wave(self, wave: Wave, todo: Iterable[str]) -> None:
        names = list(todo)
        gate = "gate and " if wave.canary else ""
        self.reporter.step(f"wave {wave.name}: {gate}promote {', '.join(names)} (at most {wave.max_parallel} at once)")

        self.parallel(names, self.reread, "read", limit=len(names))
        if self.errors:  # a target of the wave cannot be reached: none of the wave starts
            return

        def work(name: str) -> None:
            run, result = self.runs[name], self.results[name]
            if self.stop.is_set():
                result.note = "not started: the wave stopped before its turn"
                return
            run.write(run.fresh_record(self.req.wave_count))
            self.did = True
            run.reporter.step(
                f"record: promoting {self.settings.image} (before: {run.record.before_text() if run.record else '?'})"
            )
            if wave.canary:
                result.gate = run.gate()
                if result.gate.verdict is not Verdict.PASS:
                    if result.gate.verdict is Verdict.FAIL:
                        run.mark(Phase.FAILED, f"gate: {result.gate.reason}")
                    self.stop.set()
                    return
            result.promote = run.promote()
            if result.promote.verdict is Verdict.PASS:
                run.mark(Phase.PROMOTED)
                return
            if result.promote.verdict is Verdict.FAIL:
                run.mark(Phase.FAILED, f"promote: {result.promote.reason}")
            self.stop.set()

        self.parallel(names, work, "promote", limit=wave.max_parallel)

    def bake_wave(self, wave: Wave, targets: Sequence[str]) -> None:
        if wave.bake <= 0:
            for name in targets:
                self.results[name].note = "bake time 0: not watched"
                self.runs[name].mark(Phase.BAKED, "bake time 0: not watched")
            self.did = True
            return
        self.reporter.step(f"wave {wave.name}: bake {', '.join(targets)} for {wave.bake:g}s")

        def work(name: str) -> None:
            run, result = self.runs[name], self.results[name]
            result.bake = run.bake(wave.bake)
            if result.bake.verdict is Verdict.FAIL:
                run.mark(Phase.FAILED, f"bake: {result.bake.reason}")
                self.did = True
            if result.bake.verdict is not Verdict.PASS:
                self.stop.set()

        self.parallel(list(targets), work, "bake", limit=len(targets))
        if all((b := self.results[n].bake) is not None and b.verdict is Verdict.PASS for n in targets):
            for name in targets:
                self.runs[name].mark(Phase.BAKED, f"watched {wave.bake:g}s")
            self.did = True

    def rollback(self, targets: Sequence[str], why: str) -> None:
        self.reporter.step(f"rollback: {', '.join(targets)} back to the release each ran before the run")

        def work(name: str) -> None:
            run, result = self.runs[name], self.results[name]
            run.read()
            back = run.back()
            if back.to == "none":
                began = time.time()
                result.rollback = fr.StepResult(Verdict.ERROR, f"not rolled back: {back.reason}", began, 0.0)
                return
            run.reporter.step(f"rollback to {back.to}: {back.reason}")
            result.rollback = run.rollback(back, ops.one_line(why, 200))
            if result.rollback.verdict is Verdict.PASS:
                run.mark(Phase.ROLLED_BACK, result.rollback.reason)
                self.did = True

        self.parallel(list(targets), work, "rollback", limit=len(targets))


def promote(
    req: FleetRequest, settings: FleetSettings, opener: Opener, reporter: Reporter, notifier: Notifier
) -> Outcome:
    fleet = Fleet(req, settings, reporter)
    with ExitStack() as stack:
        fleet.open(stack, opener, metrics=not req.dry_run)
        if not fleet.errors and not req.dry_run:
            fleet.lock(stack)
        if fleet.errors:
            return _stopped(fleet, notifier, "could not start: nothing was changed", send=False)
        try:
            return _drive(fleet, notifier)
        except Interrupted as sig:
            fleet.stop.set()
            line = f"interrupted by {sig.signal_name}: the run stopped where it was; rerun the same command to go on"
            reporter.step(line)
            outcome = _finish(fleet, notifier, Verdict.ERROR, [line], send=True)
            return replace(outcome, exit_code=sig.exit_code)


def _drive(fleet: Fleet, notifier: Notifier) -> Outcome:
    req, s = fleet.req, fleet.settings
    rolled_back_once = False
    fleet.read_all()  # every target once, under the fleet Lease: from then on only this run writes records
    if fleet.errors:
        return _stopped(fleet, notifier, "a target could not be read: the run stopped, nothing was changed")
    for _ in range(4 * len(req.waves) + 4):
        records = {name: run.record for name, run in fleet.runs.items()}
        step = next_step(req.waves, records, s.run)
        fleet.reporter.step(f"fleet run {s.run}: {step.kind.value}" + (f" - {step.reason}" if step.reason else ""))
        if req.dry_run:
            return _plan(fleet, step, records)
        if step.kind is StepKind.DONE:
            return _done(fleet, notifier)
        if step.kind is StepKind.BLOCKED:
            reason = f"{step.reason}: finish it (run it again with its version and image) or `hotfix fleet rollback`"
            return _finish(fleet, notifier, Verdict.ERROR, [reason], send=False, code=ExitCode.LOCKED)
        if step.kind is StepKind.STOPPED:
            verb = "stopped" if fleet.did else "was stopped by an earlier run"
            reasons = [f"{step.reason}; this run {verb}", *_problems(fleet)]
            return _finish(fleet, notifier, Verdict.FAIL, reasons, send=fleet.did, kind="failed")
        if step.kind is StepKind.ROLLBACK:
            if rolled_back_once:
                failed = ", ".join(step.targets)
                return _stopped(fleet, notifier, f"the rollback did not bring back {failed}: see the table")
            rolled_back_once = True
            fleet.rollback(step.targets, step.reason)
            continue
        wave = req.waves[step.wave]
        if step.kind is StepKind.PROMOTE:
            fleet.promote_wave(wave, step.targets)
        else:
            fleet.bake_wave(wave, step.targets)
        if fleet.errors or _undecided(fleet, step):
            return _stopped(
                fleet, notifier, f"wave {wave.name} could not be decided: the run stopped, nothing else moves"
            )
    return _stopped(fleet, notifier, "the run did not settle (the records kept changing): stopped")


def _undecided(fleet: Fleet, step: Step) -> bool:
    """A step of this wave ended neither PASS nor FAIL (and nothing FAILED): the run must stop where it is."""
    results = [fleet.results[t] for t in step.targets]
    verdicts = [s.verdict for r in results for _, s in r.steps()]
    if any(v is Verdict.FAIL for v in verdicts):
        return False
    return any(v is not Verdict.PASS for v in verdicts)


def _problems(fleet: Fleet) -> list[str]:
    out = [f"{r.target}: {p}" for r in fleet.results.values() if (p := r.problem())]
    out += [f"{name}: {exc}" for name, exc in fleet.errors.items()]
    return out


def _not_reached(fleet: Fleet) -> None:
    """Targets this invocation did not touch: say what they run, as read."""
    for name, run in fleet.runs.items():
        result = fleet.results[name]
        if result.steps() or result.note or result.error:
            continue
        try:
            run.read()
        except HotfixError as exc:
            result.note = f"not reached; could not be read at the end: {ops.one_line(exc.message, 200)}"
            continue
        images = ", ".join(f"{k}={v}" for k, v in run.live_images().items())
        record = run.record
        if record is not None and record.run == fleet.settings.run:
            result.note = f"{record.phase.value} earlier in this run; runs {images}"
        else:
            result.note = f"not reached; runs {images} (read at the end)"


def _done(fleet: Fleet, notifier: Notifier) -> Outcome:
    s = fleet.settings
    reasons = [f"every wave of {s.image} is promoted and baked ({len(fleet.req.targets)} targets)"]
    if not fleet.did:
        reasons = [f"nothing to do: {reasons[0]} already"]
    return _finish(fleet, notifier, Verdict.PASS, reasons, send=fleet.did, kind="promoted")


def _stopped(fleet: Fleet, notifier: Notifier, why: str, *, send: bool = True) -> Outcome:
    codes = [e.exit_code for e in fleet.errors.values()]
    code = max(codes, default=ExitCode.UNAVAILABLE)
    if ExitCode.UNAVAILABLE in codes:
        code = ExitCode.UNAVAILABLE
    return _finish(fleet, notifier, Verdict.ERROR, [why, *_problems(fleet)], send=send and fleet.did, code=code)


def _plan(fleet: Fleet, step: Step, records: dict[str, FleetRecord | None]) -> Outcome:
    for name, record in records.items():
        mine = record is not None and record.run == fleet.settings.run
        fleet.results[name].note = f"{record.phase.value} in this run" if mine and record else "no record of this run"
    what = {
        StepKind.PROMOTE: f"would gate and promote {', '.join(step.targets)}",
        StepKind.BAKE: f"would bake {', '.join(step.targets)}",
    }.get(step.kind, step.kind.value)
    wave = f" (wave {fleet.req.waves[step.wave].name})" if step.wave >= 0 else ""
    reasons = [f"dry run: {what}{wave}; {step.reason}; nothing written"]
    return _finish(fleet, NullNotifier(), Verdict.PASS, reasons, send=False)


def _finish(
    fleet: Fleet,
    notifier: Notifier,
    verdict: Verdict,
    reasons: list[str],
    *,
    send: bool,
    kind: str = "failed",
    code: ExitCode | None = None,
) -> Outcome:
    _not_reached(fleet)
    for reason in reasons:  # the table holds the targets; the run's own reasons are said once here
        fleet.reporter.step(f"fleet: {reason}")
    s = fleet.settings
    results = list(fleet.results.values())
    title = f"fleet promote {s.version or s.image}"
    if send:
        ops.notify(
            notifier,
            fr.event(
                kind if verdict is Verdict.PASS else "failed",
                f"{title}: {verdict.value}",
                results,
                version=s.version,
                verdict=verdict,
                run_url=s.run_url,
                actor=s.actor,
                extra=tuple(reasons[:1]),
            ),
            fleet.reporter,
        )
    rolled = [r.target for r in results if r.rollback and r.rollback.verdict is Verdict.PASS]
    promoted = [r.target for r in results if r.promote and r.promote.verdict is Verdict.PASS]
    outputs = {
        "run": s.run,
        "image": s.image,
        "promoted": " ".join(sorted(promoted)),
        "rolled-back-targets": " ".join(sorted(rolled)),
        "rolled-back": "true" if rolled else "false",
        "postmortem-events": "\n".join(_events(results)),
        "results": json.dumps(fr.to_data(results), separators=(",", ":")),
    }
    return Outcome(
        command="fleet promote",
        verdict=verdict,
        reasons=reasons,
        outputs=outputs,
        rows=fr.rows(results),
        title=title,
        markdown=fr.markdown(results, f"Fleet run {s.run}"),
        exit_code=code,
    )


def _events(results: list[fr.TargetResult]) -> list[str]:
    """'<ISO time>=<target>: <step> <verdict>' lines for `hotfix postmortem --event`, in time order."""
    from datetime import UTC, datetime

    lines = []
    for r in results:
        for name, step in r.steps():
            stamp = datetime.fromtimestamp(step.started + step.seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            lines.append((stamp, f"{stamp}={r.target} (wave {r.wave}): {name} {step.verdict.value}: {step.reason}"))
    return [ops.one_line(text, 300) for _, text in sorted(lines)]
