"""Pure rules of a restore into a live database: who is connected, what to do about them, what the end state is.

Values in (sessions and locks as the server reported them, counts, the operator's choice), a decision with its reason
out. No clock: ages come in as seconds. Text from the server (application names, queries, user names) is data: it
passes ``inert`` before it is part of any reason.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from hotfix_actions.decide.validate import Check
from hotfix_actions.decide.verdict import Status

__all__ = [
    "Activity",
    "DbSession",
    "EndState",
    "HeldLock",
    "LockWait",
    "Preflight",
    "SessionAction",
    "SessionRecord",
    "SessionsMode",
    "SettlePlan",
    "age_text",
    "describe_lock",
    "describe_session",
    "describe_wait",
    "end_state",
    "inert",
    "plan_quarantine",
    "plan_sessions",
    "refusal_reason",
]

_MAX_TEXT = 80
_OTHER_RESTORE = re.compile(r"^hotfix-db/[0-9a-f]{6,32}/")
_COMMAND_START = re.compile(r"(::|##\[)")


def inert(text: object, limit: int = _MAX_TEXT) -> str:
    """Server-supplied text made safe to print: one line, no control characters, no workflow-command openers, short."""
    raw = "" if text is None else str(text)
    cleaned = "".join(
        " " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in raw.replace("\r\n", " ")
    )
    cleaned = _COMMAND_START.sub(lambda m: m.group(1)[0] + "\u200b" + m.group(1)[1:], " ".join(cleaned.split()))
    if len(cleaned) > limit:
        cleaned = cleaned[: limit - 3] + "..."
    return cleaned


@dataclass(frozen=True)
class Preflight:
    """What a first look at the target database showed, before anything was done."""

    user: str
    owner: str
    server_version_num: int
    allow_connections: bool
    can_block: bool  # we may ALTER DATABASE (owner or superuser) and reach the maintenance database
    block_problem: str  # why not, in words ("" when we can)
    tables: int  # tables the restore session locks against writers


class SessionsMode(StrEnum):
    """What a restore does about other sessions connected to the target database."""

    REFUSE = "refuse"  # the default: touch nothing while anyone else is connected
    WAIT = "wait"  # wait up to N seconds for them to disconnect, then refuse
    TERMINATE = "terminate"  # pg_terminate_backend each of them, and confirm they are gone


@dataclass(frozen=True)
class DbSession:
    """One backend connected to the target database, as pg_stat_activity showed it (ages in seconds)."""

    pid: int
    user: str = ""
    application: str = ""
    client: str = ""
    state: str | None = None  # None: hidden (another role's session without pg_read_all_stats)
    backend_type: str = "client backend"
    xact_age: float | None = None
    query_age: float | None = None
    state_age: float | None = None
    wait_event: str = ""
    query: str = ""

    @property
    def hidden(self) -> bool:
        return self.state is None


@dataclass(frozen=True)
class HeldLock:
    """A lock held (granted) or requested by another session on a relation of the target database."""

    pid: int
    relation: str
    mode: str
    granted: bool = True


@dataclass(frozen=True)
class Activity:
    """What a look at the target database found: the other sessions and the locks they hold or wait for."""

    sessions: tuple[DbSession, ...] = ()
    locks: tuple[HeldLock, ...] = ()

    def locks_of(self, pid: int) -> list[HeldLock]:
        return [lock for lock in self.locks if lock.pid == pid]


@dataclass(frozen=True)
class LockWait:
    """One of our sessions waiting for a lock: on what, for how long, and who holds it."""

    pid: int
    what: str  # e.g. "public.orders" or "transactionid"
    mode: str
    seconds: float
    blockers: tuple[DbSession, ...] = ()
    prepared: bool = False  # a prepared transaction (pg_prepared_xacts) is among the holders: no session to name
    queued_behind: int = 0  # other sessions waiting for this one (for at most the lock timeout)


class SessionAction(StrEnum):
    FOUND = "found"  # connected; nothing done (yet)
    LEFT = "left"  # disconnected on its own while we waited
    TERMINATED = "terminated"  # pg_terminate_backend, and it is gone
    NOT_TERMINATED = "not terminated"  # pg_terminate_backend failed or it did not go
    REFUSED = "refused"  # still connected when the restore refused


@dataclass(frozen=True)
class SessionRecord:
    """What happened to one other session during a restore: for the output, the summary and the manifest."""

    session: DbSession
    action: SessionAction
    detail: str = ""

    def to_dict(self) -> dict[str, object]:
        s = self.session
        return {
            "pid": s.pid,
            "user": inert(s.user),
            "application": inert(s.application),
            "client": inert(s.client),
            "state": inert(s.state) if s.state is not None else None,
            "transaction_age_seconds": None if s.xact_age is None else round(s.xact_age, 1),
            "action": self.action.value,
            "detail": inert(self.detail, 200),
        }


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{(seconds % 3600) // 60:02.0f}m"


def describe_session(session: DbSession) -> str:
    """'pid 123 (user app, application "web", 10.0.0.5, idle in transaction for 35s, transaction open 40s)'."""
    parts = [f"user {inert(session.user) or '?'}"]
    if session.application:
        parts.append(f'application "{inert(session.application, 40)}"')
    if session.client:
        parts.append(inert(session.client, 40))
    if session.backend_type and session.backend_type != "client backend":
        parts.append(inert(session.backend_type, 40))
    if session.hidden:
        parts.append("state hidden (needs pg_read_all_stats)")
    else:
        state = inert(session.state, 40) or "unknown state"
        parts.append(f"{state} for {age_text(session.state_age)}" if session.state_age is not None else state)
        if session.xact_age is not None:
            parts.append(f"transaction open {age_text(session.xact_age)}")
        if session.wait_event:
            parts.append(f"waiting on {inert(session.wait_event, 40)}")
        if session.query and session.state not in (None, "idle"):
            parts.append(f"query: {inert(session.query, 60)}")
    return f"pid {session.pid} (" + ", ".join(parts) + ")"


def describe_lock(lock: HeldLock) -> str:
    verb = "holds" if lock.granted else "waits for"
    return f"pid {lock.pid} {verb} {inert(lock.mode, 40)} on {inert(lock.relation, 80)}"


def describe_wait(wait: LockWait) -> str:
    named = [describe_session(b) for b in wait.blockers[:3]]
    if wait.prepared:
        named.append("a prepared transaction (see pg_prepared_xacts; COMMIT PREPARED or ROLLBACK PREPARED ends it)")
    who = "; ".join(named) or "a session we cannot see"
    more = f" and {len(wait.blockers) - 3} more" if len(wait.blockers) > 3 else ""
    behind = f"; {wait.queued_behind} other session(s) queued behind it" if wait.queued_behind else ""
    return (
        f"waiting {age_text(wait.seconds)} for {inert(wait.mode, 40)} on {inert(wait.what, 80)}, "
        f"blocked by {who}{more}{behind}"
    )


_OPTIONS = (
    "--sessions=wait (with --sessions-wait=SECONDS) to wait for them to disconnect, "
    "--sessions=terminate to end them with pg_terminate_backend, "
    "or --scale-deployment=NAME to stop the application first"
)


def refusal_reason(others: Sequence[DbSession], activity: Activity, *, why: str) -> str:
    """The refusal, naming each session (and its locks) and the options."""
    shown = []
    for s in others[:5]:
        locks = activity.locks_of(s.pid)
        lock_text = ""
        if locks:
            lock_text = " holding " + ", ".join(f"{inert(x.mode, 30)} on {inert(x.relation, 60)}" for x in locks[:3])
        shown.append(describe_session(s) + lock_text)
    more = f"; and {len(others) - 5} more" if len(others) > 5 else ""
    return f"{why}: " + "; ".join(shown) + more + f". Options: {_OPTIONS}"


@dataclass(frozen=True)
class SettlePlan:
    """What to do now about the other sessions: proceed, keep waiting, terminate these pids, or refuse."""

    action: str  # "proceed" | "wait" | "terminate" | "refuse"
    pids: tuple[int, ...]
    reason: str


def plan_sessions(
    mode: SessionsMode, others: Sequence[DbSession], activity: Activity, *, waited: float, wait_limit: float
) -> SettlePlan:
    """The next step about ``others`` (the sessions connected to the target that are not ours)."""
    if not others:
        what = "no other session is connected" if waited <= 0 else f"the other sessions left within {waited:.0f}s"
        return SettlePlan("proceed", (), what)
    count = f"{len(others)} other session{'s' if len(others) != 1 else ''} connected"
    pids = tuple(s.pid for s in others)
    restores = sorted({s.application.split("/")[1] for s in others if _OTHER_RESTORE.match(s.application)})
    if restores:  # never terminated, never waited for: two restores of one database must not interleave
        return SettlePlan(
            "refuse",
            pids,
            f"refused: another hotfix db restore is running on this database (run {', '.join(restores)}); "
            "let it finish, or stop that process (its guard then cleans up)",
        )
    if mode is SessionsMode.TERMINATE:
        return SettlePlan("terminate", pids, f"{count}: terminating them (--sessions=terminate)")
    if mode is SessionsMode.WAIT and waited < wait_limit:
        return SettlePlan("wait", pids, f"{count}: waiting up to {wait_limit:.0f}s for them to disconnect")
    if mode is SessionsMode.WAIT:
        why = f"refused: {count} after waiting {waited:.0f}s (--sessions-wait={wait_limit:.0f})"
    else:
        why = f"refused: {count} (the default --sessions=refuse touches nothing while others are connected)"
    return SettlePlan("refuse", pids, refusal_reason(others, activity, why=why))


class EndState(StrEnum):
    RESTORED = "restored"
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"


def _diff(expected: Mapping[str, int], actual: Mapping[str, int]) -> list[str]:
    out = []
    for table in sorted(expected):
        got = actual.get(table)
        if got is None:
            out.append(f"{table} missing")
        elif got != expected[table]:
            out.append(f"{table} {got} != {expected[table]}")
    return out


def end_state(
    *,
    committed: bool | None,
    ours_left: Sequence[int] | None,
    counts: Mapping[str, int] | None,
    before: Mapping[str, int] | None,
    target: Mapping[str, int] | None,
    before_name: str = "the pre-restore backup",
    target_name: str = "the backup",
) -> tuple[EndState, Check]:
    """What the database is after a restore that did not finish cleanly, stated only as far as it was checked.

    ``committed``: True when the COMMIT was acknowledged, False when it was certainly never sent, None when unknown.
    ``ours_left``: pids of our sessions still on the server (None: could not be checked). ``counts``: row counts
    read now (None: could not be read). ``before``/``target``: the counts of the pre-restore and restored backups.
    """
    if ours_left is None:
        return EndState.UNKNOWN, Check(
            "end state", Status.ERROR, "unknown: could not check whether a session of ours is still on the server"
        )
    if ours_left:
        pids = ", ".join(str(p) for p in ours_left)
        return EndState.UNKNOWN, Check(
            "end state",
            Status.ERROR,
            f"unknown: session(s) of ours still on the server (pid {pids}); they may still commit or roll back",
        )
    if counts is None:
        known = {True: "the commit was acknowledged", False: "no commit was sent", None: "the commit is unknown"}[
            committed
        ]
        return EndState.UNKNOWN, Check(
            "end state", Status.ERROR, f"unknown: no session of ours is left and {known}, but rows could not be counted"
        )
    same_before = before is not None and not _diff(before, counts)
    same_target = target is not None and not _diff(target, counts)
    tables = len(before or target or {})
    if committed is True and same_target:
        return EndState.RESTORED, Check(
            "end state",
            Status.PASS,
            f"restored: commit acknowledged; row counts of {tables} tables equal {target_name}",
        )
    if committed is not True and same_before and not same_target:
        return EndState.UNCHANGED, Check(
            "end state",
            Status.PASS,
            f"rolled back, unchanged: no session of ours is left and the row counts of {tables} tables equal "
            f"{before_name}",
        )
    if committed is None and same_target and not same_before:
        return EndState.RESTORED, Check(
            "end state",
            Status.WARN,
            f"restored, it seems: the commit was not acknowledged but the row counts equal {target_name}",
        )
    if same_before and same_target:
        return EndState.UNKNOWN, Check(
            "end state",
            Status.ERROR,
            f"unknown: no session of ours is left, but {before_name} and {target_name} have the same row counts, "
            "so counting cannot tell whether the restore committed",
        )
    detail = "; ".join(_diff(before or {}, counts)[:3]) or "counts differ from both backups"
    return EndState.UNKNOWN, Check(
        "end state",
        Status.ERROR,
        f"unknown: no session of ours is left, but the row counts match neither {before_name} nor {target_name} "
        f"({detail}): written by someone else since?",
    )


def plan_quarantine(entries: Sequence[tuple[str, float]], keep: int) -> tuple[list[str], list[str]]:
    """(kept, deleted) quarantined files: the newest ``keep`` (by modification time) are kept for diagnosis."""
    if keep < 0:
        raise ValueError("keep must be at least 0")
    ordered = sorted(entries, key=lambda e: (e[1], e[0]), reverse=True)
    return [name for name, _ in ordered[:keep]], [name for name, _ in ordered[keep:]]
