"""What a live restore does about the other sessions: record them, settle them as the operator chose (refuse, wait,
terminate), and watch an operation of the restore session, naming who blocks it while it waits for a lock.

``SessionKeeper`` holds that state for ``db_live.LiveRestoreFlow``; the rules themselves are in ``decide.db_live``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from hotfix_actions.decide.db import Check
from hotfix_actions.decide.db_live import (
    DbSession,
    SessionAction,
    SessionRecord,
    SessionsMode,
    age_text,
    describe_lock,
    describe_session,
    describe_wait,
    inert,
    plan_sessions,
)
from hotfix_actions.decide.verdict import Status
from hotfix_actions.errors import DatabaseError
from hotfix_actions.ports import Database, LiveDatabase, PendingOperation
from hotfix_actions.report import md_escape, md_table
from hotfix_actions.services._dbsteps import Steps

__all__ = ["Abort", "LiveOptions", "SessionKeeper", "plan_text"]

_TERMINATE_ROUNDS = 5


@dataclass(frozen=True)
class LiveOptions:
    mode: SessionsMode = SessionsMode.REFUSE
    wait_seconds: float = 60.0
    lock_timeout: float = 5.0
    block_connections: bool = True
    restore_timeout: float = 3600.0
    progress_every: float = 3.0


class Abort(Exception):
    """Stop the restore here: ``check`` says why (the caller cleans up, then states what the database is)."""

    def __init__(self, check: Check) -> None:
        super().__init__(check.reason)
        self.check = check


@dataclass
class SessionKeeper:
    """The other sessions of one restore and what was done to them."""

    db: Database
    live: LiveDatabase
    steps: Steps
    opts: LiveOptions
    clock: Callable[[], float] = field(default=time.monotonic, kw_only=True)
    sleep: Callable[[float], None] = field(default=time.sleep, kw_only=True)
    records: dict[int, SessionRecord] = field(default_factory=dict, kw_only=True)
    locks: dict[int, str] = field(default_factory=dict, kw_only=True)  # pid -> the relation locks it held
    blocked: bool = field(default=False, kw_only=True)
    _wait_started: float | None = field(default=None, kw_only=True)
    _last_wait: str = field(default="", kw_only=True)

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
                md_escape(inert(self.locks.get(r.session.pid, "-"), 160)),
                md_escape(r.action.value + (f": {inert(r.detail, 120)}" if r.detail else "")),
            ]
            for r in self.records.values()
        ]
        header = ["pid", "user", "application", "state", "transaction open", "locks held", "what was done"]
        table = md_table(header, rows)
        blocked = "New connections were blocked during the restore.\n" if self.blocked else ""
        return head + table + "\n" + blocked

    # -- the steps ----------------------------------------------------------------------------------
    def settle(self, name: str) -> None:
        """Apply the chosen mode to the other sessions until none is left; raise Abort when refusing."""
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
                if act.locks_of(s.pid):
                    self.locks[s.pid] = ", ".join(f"{x.mode} on {x.relation}" for x in act.locks_of(s.pid)[:4])
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
                raise Abort(Check(name, Status.FAIL, plan.reason))
            act = self.live.look()

    def _refuse(self, others: list[DbSession], name: str, why: str) -> None:
        for s in others:
            self._record(s, SessionAction.REFUSED, "still connected")
        raise Abort(Check(name, Status.FAIL, f"refused: {why}"))

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
            raise Abort(
                Check(
                    "sessions",
                    Status.FAIL,
                    "refused: could not terminate " + "; ".join(failed) + " (terminating another role's session needs "
                    "membership in that role or pg_signal_backend)",
                )
            )

    def watch(self, op: PendingOperation, what: str, limit: float) -> None:
        """Poll ``op``; name who blocks it as soon as it waits and every few seconds; terminate those blockers under
        --sessions=terminate; raise Abort on its error or after ``limit`` seconds."""
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
                raise Abort(Check(what, Status.ERROR, f"did not finish within {limit:.0f}s"))
        if op.error:
            blocked = f" ({self._last_wait})" if self._last_wait and "lock timeout" in op.error else ""
            raise Abort(Check(what, Status.ERROR, f"{inert(op.error, 400)}{blocked}"))


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
