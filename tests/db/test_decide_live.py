"""Pure rules of a live restore: what to do about other sessions, what the end state is, how server text is printed,
how the dump's script gets our settings after its header, and which quarantined files retention keeps."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotfix_actions.db.script import HeaderFilter, is_header_line
from hotfix_actions.decide.db_live import (
    Activity,
    DbSession,
    EndState,
    HeldLock,
    LockWait,
    SessionsMode,
    describe_session,
    describe_wait,
    end_state,
    inert,
    plan_quarantine,
    plan_sessions,
)
from hotfix_actions.decide.verdict import Status

IDLE_TX = DbSession(pid=41, user="app", application="web", state="idle in transaction", state_age=35, xact_age=40)
LOCKER = DbSession(pid=42, user="app", application="migrate", state="idle in transaction", xact_age=5)
ACT = Activity(sessions=(IDLE_TX, LOCKER), locks=(HeldLock(42, "public.orders", "AccessExclusiveLock"),))


@pytest.mark.parametrize(
    ("mode", "others", "waited", "action", "words"),
    [
        (SessionsMode.REFUSE, [], 0.0, "proceed", "no other session"),
        (SessionsMode.WAIT, [], 4.0, "proceed", "left within 4s"),
        (SessionsMode.TERMINATE, [IDLE_TX], 0.0, "terminate", "terminating"),
        (SessionsMode.WAIT, [IDLE_TX], 10.0, "wait", "waiting up to 60s"),
        (SessionsMode.WAIT, [IDLE_TX, LOCKER], 60.0, "refuse", "after waiting 60s"),
        (SessionsMode.REFUSE, [IDLE_TX, LOCKER], 0.0, "refuse", "AccessExclusiveLock on public.orders"),
        (SessionsMode.TERMINATE, [DbSession(pid=43, application="hotfix-db/a1b2c3/restore")], 0, "refuse", "another"),
        (SessionsMode.WAIT, [DbSession(pid=43, application="hotfix-db/a1b2c3/guard")], 0, "refuse", "another"),
    ],
)
def test_plan_sessions(mode: SessionsMode, others: list[DbSession], waited: float, action: str, words: str) -> None:
    plan = plan_sessions(mode, others, ACT, waited=waited, wait_limit=60)
    assert plan.action == action and words in plan.reason
    assert plan.pids == tuple(s.pid for s in others)
    if action == "refuse" and "another" not in words:  # names each session and the options
        assert all(f"pid {s.pid}" in plan.reason for s in others)
        assert "--sessions=terminate" in plan.reason and "--scale-deployment" in plan.reason


BEFORE = {"public.orders": 100, "public.accounts": 200}
TARGET = {"public.orders": 500, "public.accounts": 200}


@pytest.mark.parametrize(
    ("committed", "left", "counts", "state", "status", "words"),
    [
        (True, [], TARGET, EndState.RESTORED, Status.PASS, "restored: commit acknowledged"),
        (False, [], BEFORE, EndState.UNCHANGED, Status.PASS, "rolled back, unchanged"),
        (None, [], BEFORE, EndState.UNCHANGED, Status.PASS, "rolled back, unchanged"),
        (None, [], TARGET, EndState.RESTORED, Status.WARN, "not acknowledged"),
        (False, [77], BEFORE, EndState.UNKNOWN, Status.ERROR, "pid 77"),  # never "rolled back" with a session left
        (False, None, BEFORE, EndState.UNKNOWN, Status.ERROR, "could not check"),
        (False, [], None, EndState.UNKNOWN, Status.ERROR, "could not be counted"),
        (False, [], {"public.orders": 3, "public.accounts": 200}, EndState.UNKNOWN, Status.ERROR, "neither"),
        (True, [], BEFORE, EndState.UNKNOWN, Status.ERROR, "neither"),  # acknowledged but counts are the old ones
    ],
)
def test_end_state_says_only_what_was_checked(
    committed: bool | None,
    left: list[int] | None,
    counts: dict[str, int] | None,
    state: EndState,
    status: Status,
    words: str,
) -> None:
    got, check = end_state(committed=committed, ours_left=left, counts=counts, before=BEFORE, target=TARGET)
    assert got is state and check.status is status and words in check.reason
    if got is EndState.UNKNOWN:
        assert "rolled back" not in check.reason and "unchanged" not in check.reason.split(":")[0]


def test_equal_backups_cannot_be_told_apart() -> None:
    got, check = end_state(committed=None, ours_left=[], counts=BEFORE, before=BEFORE, target=BEFORE)
    assert got is EndState.UNKNOWN and "cannot tell" in check.reason


def _runner_command(line: str) -> bool:
    """Would the Actions runner read this output line as a workflow command (after trimming whitespace)?"""
    stripped = line.strip()
    return stripped.startswith("::") or "##[" in line


@given(st.text(max_size=300))
def test_inert_server_text_is_one_line_and_no_command(text: str) -> None:
    out = inert(text)
    assert "\n" not in out and "\r" not in out and len(out) <= 80
    assert not _runner_command(out)
    assert not _runner_command(describe_session(DbSession(pid=1, application=text, query=text, state=text)))


@given(st.text(max_size=200), st.text(max_size=200))
def test_a_wait_description_never_carries_a_command(app: str, relation: str) -> None:
    wait = LockWait(
        pid=1, what=relation, mode="AccessExclusiveLock", seconds=3, blockers=(DbSession(2, application=app),)
    )
    text = describe_wait(wait)
    assert not _runner_command(text) and "\n" not in text


HEADER = [
    b"--\n",
    b"-- PostgreSQL database dump\n",
    b"\\restrict abc123\n",
    b"SET statement_timeout = 0;\n",
    b"SET lock_timeout = 0;\n",
    b"SELECT pg_catalog.set_config('search_path', '', false);\n",
    b"\n",
]


@given(
    st.lists(st.sampled_from(HEADER), max_size=12),
    st.binary(max_size=2000),
    st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=40),
)
def test_the_settings_come_after_the_header_and_nothing_else_changes(
    header: list[bytes], body: bytes, cuts: list[int]
) -> None:
    settings = b"SET lock_timeout = '5000ms';\n"
    first = b"DROP TABLE IF EXISTS public.orders;\n"  # the first statement that takes a lock
    script = b"".join(header) + first + body
    f = HeaderFilter(settings)
    out, pos, i = b"", 0, 0
    while pos < len(script):
        size = cuts[i % len(cuts)]
        out += f.feed(script[pos : pos + size])
        pos, i = pos + size, i + 1
    out += f.finish()
    assert out == b"".join(header) + settings + first + body
    assert out.index(settings) > max((out.find(h) for h in header if h.startswith(b"SET lock")), default=-1)


def test_a_script_that_is_all_header_still_gets_the_settings() -> None:
    f = HeaderFilter(b"SET lock_timeout = '1s';")
    assert f.feed(b"SET lock_timeout = 0;\n") + f.finish() == b"SET lock_timeout = 0;\nSET lock_timeout = '1s';\n"
    assert is_header_line(b"  \n") and not is_header_line(b"COPY public.t (id) FROM stdin;\n")


@given(
    st.lists(st.tuples(st.text(min_size=1, max_size=8), st.floats(0, 1e9)), unique_by=lambda e: e[0]), st.integers(0, 5)
)
def test_quarantine_keeps_the_newest(entries: list[tuple[str, float]], keep: int) -> None:
    kept, deleted = plan_quarantine(entries, keep)
    assert sorted(kept + deleted) == sorted(name for name, _ in entries)
    assert len(kept) == min(keep, len(entries))
    times = dict(entries)
    if kept and deleted:
        assert min(times[k] for k in kept) >= max(times[d] for d in deleted)
