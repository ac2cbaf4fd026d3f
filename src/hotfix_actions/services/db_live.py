"""The part of `hotfix db restore` that touches the live database.

1. Look: the other sessions on the database and the locks they hold, printed.
2. Settle them as the operator chose: refuse (default), wait up to N seconds, or terminate (recorded).
3. The restore session starts its transaction and locks every table it may write against writers (EXCLUSIVE:
   readers and pg_dump go on), so the pre-restore backup taken next is exactly the data the restore replaces.
4. New connections are blocked (ALTER DATABASE ... ALLOW_CONNECTIONS false; a guard process undoes it if we die);
   the sessions are settled again.
5. The dump's script runs in that transaction with our own lock_timeout set after the dump's ``SET lock_timeout = 0``;
   while it waits for a lock we print who blocks it every few seconds; row counts are checked before COMMIT.
6. On any failure, timeout or signal: our sessions are ended and confirmed gone, then the database is checked
   (row counts against both backups) before anything is said about it; connections are allowed again.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hotfix_actions.decide.db import BackupKind, Check, Manifest, check_rows
from hotfix_actions.decide.db_live import (
    DbSession,
    EndState,
    SessionAction,
    SessionRecord,
    SessionsMode,
    age_text,
    describe_lock,
    describe_session,
    describe_wait,
    end_state,
    inert,
    plan_sessions,
)
from hotfix_actions.decide.verdict import Status
from hotfix_actions.errors import DatabaseError, ExitCode, HotfixError, Interrupted
from hotfix_actions.ports import BackupStore, Database, LiveDatabase, PendingOperation, StoredBackup
from hotfix_actions.report import md_escape, md_table
from hotfix_actions.services._dbsteps import Provenance, Steps, take_backup, total

__all__ = ["PRE_RESTORE_COMPRESS", "LiveOptions", "LiveRestoreFlow", "plan_text"]

PRE_RESTORE_COMPRESS = 1  # the pre-restore dump is on the incident's clock: zlib level 1, a few % larger, ~3x faster
_TERMINATE_ROUNDS = 5


@dataclass(frozen=True)
class LiveOptions:
    mode: SessionsMode = SessionsMode.REFUSE
    wait_seconds: float = 60.0
    lock_timeout: float = 5.0
    block_connections: bool = True
    restore_timeout: float = 3600.0
    progress_every: float = 3.0


class _Abort(Exception):
    def __init__(self, check: Check) -> None:
        super().__init__(check.reason)
        self.check = check


@dataclass
class LiveRestoreFlow:
    """One restore of ``entry`` into the live database ``db``; ``run`` fills ``steps`` and ``outputs``."""

    db: Database
    live: LiveDatabase
    entry: StoredBackup
    manifest: Manifest
    pre_store: BackupStore
    prov: Provenance
    steps: Steps
    opts: LiveOptions
    versions: tuple[str, str]
    outputs: dict[str, str]
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    records: dict[int, SessionRecord] = field(default_factory=dict)
    pre: Manifest | None = None
    blocked: bool = False
    began: bool = False  # the restore session was opened (locks may have been taken)
    loading: bool = False
    committed: bool | None = False
    state: EndState | None = None
    exit_code: ExitCode | None = None  # set when a signal stopped the run
    _wait_started: float | None = None
    _last_wait: str = ""

    # -- recording ----------------------------------------------------------------------------------
    def _record(self, session: DbSession, action: SessionAction, detail: str = "") -> None:
        self.records[session.pid] = SessionRecord(session, action, detail)

    def sessions_json(self) -> str:
        return json.dumps([r.to_dict() for r in self.records.values()])

    def markdown(self) -> str:
        head = f"### Sessions on {md_escape(self.db.name)}\n\n"
        if not self.records:
            return head + "No other session was connected.\n"
        rows = [
            [
                str(r.session.pid),
                md_escape(inert(r.session.user)),
                md_escape(inert(r.session.application, 40)),
                md_escape(inert(r.session.state) if r.session.state is not None else "hidden"),
                age_text(r.session.xact_age) if r.session.xact_age is not None else "-",
                md_escape(r.action.value + (f": {inert(r.detail, 120)}" if r.detail else "")),
            ]
            for r in self.records.values()
        ]
        table = md_table(["pid", "user", "application", "state", "transaction open", "what was done"], rows)
        blocked = "New connections were blocked during the restore.\n" if self.blocked else ""
        return head + table + "\n" + blocked

    # -- the steps ----------------------------------------------------------------------------------
    def settle(self, name: str) -> None:
        """Apply the chosen mode to the other sessions until none is left; raise _Abort when refusing."""
        act = self.live.look()
        first = True
        rounds = 0
        said = 0.0
        terminated: list[int] = []
        while True:
            others = list(act.sessions)
            for s in others:
                if s.pid not in self.records or self.records[s.pid].action is SessionAction.FOUND:
                    self._record(s, SessionAction.FOUND)
                if first:
                    locks = act.locks_of(s.pid)
                    lock_text = "; " + ", ".join(describe_lock(x) for x in locks[:4]) if locks else ""
                    self.steps.say(f"connected: {describe_session(s)}{lock_text}")
            first = False
            now = self.clock()
            waited = 0.0 if self._wait_started is None else now - self._wait_started
            plan = plan_sessions(self.opts.mode, others, act, waited=waited, wait_limit=self.opts.wait_seconds)
            still = {s.pid for s in others}
            if plan.action == "proceed":
                for rec in list(self.records.values()):
                    if rec.action is SessionAction.FOUND and rec.session.pid not in still:
                        self._record(rec.session, SessionAction.LEFT, f"disconnected within {waited:.0f}s")
                reason = plan.reason
                if terminated:
                    reason = f"{len(terminated)} terminated and confirmed gone (pid {', '.join(map(str, terminated))})"
                self.steps.add(Check(name, Status.PASS, reason))
                return
            if plan.action == "terminate":
                rounds += 1
                if rounds > _TERMINATE_ROUNDS:
                    self._refuse(
                        others,
                        name,
                        "sessions keep reconnecting after pg_terminate_backend; block new "
                        "connections (the default) or pass --scale-deployment",
                    )
                self.steps.say(plan.reason)
                self._terminate(others, terminated)
            elif plan.action == "wait":
                if self._wait_started is None:
                    self._wait_started = now
                if now - said >= self.opts.progress_every:
                    names = ", ".join(describe_session(s) for s in others[:3])
                    self.steps.say(f"waiting {waited:.0f}s of {self.opts.wait_seconds:.0f}s for {names} to disconnect")
                    said = now
                self.sleep(min(0.5, self.opts.progress_every))
            else:
                for s in others:
                    self._record(s, SessionAction.REFUSED, "still connected")
                raise _Abort(Check(name, Status.FAIL, plan.reason))
            act = self.live.look()

    def _refuse(self, others: list[DbSession], name: str, why: str) -> None:
        for s in others:
            self._record(s, SessionAction.REFUSED, "still connected")
        raise _Abort(Check(name, Status.FAIL, f"refused: {why}"))

    def _terminate(self, sessions: list[DbSession], terminated: list[int]) -> None:
        result = self.live.terminate([s.pid for s in sessions])
        failed = []
        for s in sessions:
            problem = result.get(s.pid, "no answer")
            if problem is None:
                self._record(s, SessionAction.TERMINATED, "pg_terminate_backend, confirmed gone")
                terminated.append(s.pid)
                self.steps.say(f"terminated {describe_session(s)}: gone")
            else:
                self._record(s, SessionAction.NOT_TERMINATED, problem)
                failed.append(f"pid {s.pid}: {inert(problem, 120)}")
        if failed:
            raise _Abort(
                Check(
                    "sessions",
                    Status.FAIL,
                    "refused: could not terminate " + "; ".join(failed) + " (terminating another role's session needs "
                    "membership in that role or pg_signal_backend)",
                )
            )

    def watch(self, op: PendingOperation, what: str, limit: float) -> None:
        """Poll ``op``; name who blocks it as soon as it waits and every few seconds; terminate those blockers under
        --sessions=terminate; raise _Abort on its error or after ``limit`` seconds."""
        started = self.clock()
        said = started
        waiting_said = -1e9
        while not op.poll(0.5):
            now = self.clock()
            try:
                waits = self.live.waits()
            except DatabaseError:
                waits = []
            if waits:
                self._last_wait = "; ".join(describe_wait(w) for w in waits[:2])
                if now - waiting_said >= self.opts.progress_every:
                    self.steps.say(f"{what}: {self._last_wait}")
                    waiting_said = now
                if self.opts.mode is SessionsMode.TERMINATE:
                    mine = f"hotfix-db/{self.live.token}/"
                    blockers = {b.pid: b for w in waits for b in w.blockers if not b.application.startswith(mine)}
                    if blockers:
                        self.steps.say(f"{what}: terminating the blocking sessions (--sessions=terminate)")
                        self._terminate(list(blockers.values()), [])
            elif now - said >= self.opts.progress_every:
                sent = f", {op.sent / 1e6:.0f} MB of script sent" if op.sent else ""
                self.steps.say(f"{what}: running for {now - started:.0f}s{sent}")
                said = now
            if now - started > limit:
                raise _Abort(Check(what, Status.ERROR, f"did not finish within {limit:.0f}s"))
        if op.error:
            blocked = f" ({self._last_wait})" if self._last_wait and "lock timeout" in op.error else ""
            raise _Abort(Check(what, Status.ERROR, f"{inert(op.error, 400)}{blocked}"))

    def take_pre(self) -> Manifest:
        try:
            pre = take_backup(
                self.db,
                self.pre_store,
                BackupKind.PRE_RESTORE,
                self.prov,
                self.steps,
                self.versions,
                compress=PRE_RESTORE_COMPRESS,
            )
        except HotfixError as exc:
            raise _Abort(Check("pre-restore backup", Status.ERROR, f"{exc.message}; restore aborted")) from None
        self.pre = pre
        self.outputs["pre-restore-backup"] = pre.name
        self.live.tell_guard(f"before {pre.name} {json.dumps(pre.rows)}")
        self.steps.add(
            Check(
                "pre-restore backup",
                Status.PASS,
                f"{pre.name} in {self.pre_store.describe()}: {total(pre.rows)}, verified; writes were held off from "
                "before it began, so it is exactly the data the restore replaces",
            )
        )
        return pre

    def note_in_manifest(self) -> None:
        """Record in the pre-restore backup's manifest the sessions found and what was done to them."""
        if self.pre is None:
            return
        data = self.pre.to_dict()
        data["restore"] = {
            "target": self.manifest.name,
            "sessions_mode": self.opts.mode.value,
            "connections_blocked": self.blocked,
            "sessions": [r.to_dict() for r in self.records.values()],
        }
        try:
            self.pre_store.update_manifest(self.pre.name, data)
        except HotfixError as exc:
            self.steps.add(
                Check("record", Status.WARN, f"could not record the sessions in {self.pre.name}: {exc.message}")
            )

    # -- the whole run ------------------------------------------------------------------------------
    def run(self) -> None:
        name = self.db.name
        tables = sorted(self.manifest.rows)
        try:
            self.settle("sessions")
            self.live.start_guard(name)
            self.live.tell_guard(f"target {self.manifest.name} {json.dumps(self.manifest.rows)}")
            self.began = True
            self.watch(self.live.begin(), "lock against writes", self.opts.lock_timeout + 60)
            self.steps.add(
                Check(
                    "lock against writes",
                    Status.PASS,
                    "every table the restore may write is locked "
                    "against writers (readers go on) until the restore ends",
                )
            )
            self.take_pre()
            if self.opts.block_connections:
                if not self.live.block_connections(name):
                    raise _Abort(Check("block connections", Status.ERROR, "ALLOW_CONNECTIONS false did not read back"))
                self.blocked = True
                self.steps.add(
                    Check(
                        "block connections",
                        Status.PASS,
                        f"new connections to {name} are refused until the "
                        "restore ends (ALLOW_CONNECTIONS false, read back)",
                    )
                )
            self.settle("sessions before restore")
            self.note_in_manifest()
            self.loading = True
            self.watch(self.live.load(self.entry.dump_path), "restore", self.opts.restore_timeout)
            counts = self.live.counts_in_transaction(tables)
            check = check_rows("row counts", self.manifest.rows, _known(counts), against=f"backup {self.manifest.name}")
            if check.status is not Status.PASS:
                raise _Abort(dataclasses.replace(check, reason=check.reason + " (before COMMIT: not committed)"))
            self.committed = self.live.commit(300.0)
            if self.committed is not True:
                raise _Abort(Check("restore", Status.ERROR, "COMMIT was sent but not acknowledged"))
        except _Abort as stop:
            self.steps.add(stop.check)
            self._clean_up(tables)
            return
        except DatabaseError as exc:
            self.steps.add(Check("restore", Status.ERROR, inert(exc.message, 400)))
            self._clean_up(tables)
            return
        except (Interrupted, KeyboardInterrupt) as exc:
            sig = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
            self.exit_code = exc.exit_code if isinstance(exc, Interrupted) else ExitCode.SIGINT
            self.steps.add(Check("stopped", Status.ERROR, f"stopped by {sig}; cleaning up before saying anything"))
            self._clean_up(tables)
            return
        self.outputs["restored"] = "true"
        self.state = EndState.RESTORED
        self.steps.add(
            Check(
                "restore",
                Status.PASS,
                f"{self.manifest.name} restored into {name} in one transaction (commit acknowledged)",
            )
        )
        self.steps.add(check)
        self.live.close_restore_session()
        self._finish_connections(clean=True)

    def _clean_up(self, tables: list[str]) -> None:
        """End our sessions, confirm they are gone, then state what the database is; allow connections again."""
        try:
            left: list[int] | None = self.live.end_restore_session()
        except (DatabaseError, Interrupted, KeyboardInterrupt):
            left = None
        if not self.began and left == []:
            self.state = EndState.UNCHANGED
            self.steps.add(
                Check(
                    "end state",
                    Status.PASS,
                    "data untouched: refused before any change to it (no lock taken, no "
                    "backup, no connection blocked); no session of ours is left",
                )
            )
        elif not self.loading and left == [] and self.committed is False:
            self.state = EndState.UNCHANGED
            self.steps.add(
                Check(
                    "end state",
                    Status.PASS,
                    "unchanged: the restore session ended (confirmed gone) before any restore statement was sent",
                )
            )
        else:
            counts: dict[str, int] | None = None
            pre_rows = self.pre.rows if self.pre else None
            if left == []:
                try:
                    counts = _known(self.live.count_rows(sorted(set(tables) | set(pre_rows or {}))))
                except (DatabaseError, Interrupted, KeyboardInterrupt):
                    counts = None
            self.state, check = end_state(
                committed=self.committed,
                ours_left=left,
                counts=counts,
                before=pre_rows,
                target=self.manifest.rows,
                before_name=f"the pre-restore backup {self.pre.name}" if self.pre else "the pre-restore backup",
                target_name=f"backup {self.manifest.name}",
            )
            self.steps.add(check)
        if self.state is EndState.RESTORED:
            self.outputs["restored"] = "true"
        self._finish_connections(clean=left == [])

    def _finish_connections(self, *, clean: bool) -> None:
        ok = True
        if self.blocked:
            try:
                ok = self.live.allow_connections(self.db.name)
            except (DatabaseError, Interrupted, KeyboardInterrupt) as exc:
                ok = False
                detail = exc.message if isinstance(exc, DatabaseError) else "interrupted"
                self.steps.add(
                    Check(
                        "allow connections",
                        Status.ERROR,
                        f"could not allow connections again: {detail}; the guard process retries",
                    )
                )
            else:
                self.steps.add(
                    Check(
                        "allow connections",
                        Status.PASS if ok else Status.ERROR,
                        f"connections to {self.db.name} allowed again (read back)"
                        if ok
                        else "ALLOW_CONNECTIONS true did not read back; the guard process retries",
                    )
                )
        left: list[int] | None
        try:
            left = self.live.wait_gone(self.live.ours(), 10.0)
        except (DatabaseError, Interrupted, KeyboardInterrupt):
            left = None
        if left == []:
            self.steps.add(Check("sessions of ours", Status.PASS, "none left on the server"))
        else:
            self.steps.add(Check("sessions of ours", Status.ERROR, f"still there: {left}" if left else "unknown"))
        self.live.release_guard(cleaned_up=clean and ok and left == [])
        self.outputs["sessions"] = self.sessions_json()
        self.outputs["end-state"] = self.state.value if self.state else ""


def _known(counts: dict[str, int | None]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v is not None}


def plan_text(mode: SessionsMode, others: list[DbSession], wait_seconds: float) -> str:
    """What a real run would do about ``others`` (for --dry-run)."""
    if not others:
        return "no other session is connected"
    pids = ", ".join(str(s.pid) for s in others)
    if mode is SessionsMode.TERMINATE:
        return f"would terminate {len(others)} session(s) (pid {pids})"
    if mode is SessionsMode.WAIT:
        return f"would wait up to {wait_seconds:.0f}s for {len(others)} session(s) (pid {pids}) to disconnect"
    return f"would refuse: {len(others)} other session(s) connected (pid {pids})"
