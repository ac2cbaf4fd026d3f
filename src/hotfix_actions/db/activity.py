"""What the server says about sessions and locks, and what we do to sessions, through one open ``PsqlSession``.

Every query returns one line of JSON built by the server, so names with any characters come back intact (they are
made printable later, by ``decide.db_live.inert``). Our own sessions carry the application name
``hotfix-db/<token>/<role>``; the token is hex, so it is safe inside a LIKE pattern.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from hotfix_actions.db.session import PsqlSession
from hotfix_actions.decide.db import database_name_problem, table_ident_problem
from hotfix_actions.decide.db_live import Activity, DbSession, HeldLock, LockWait
from hotfix_actions.errors import DatabaseError

__all__ = [
    "app_name",
    "count_rows",
    "count_rows_sql",
    "ours",
    "query_json",
    "quote_ident",
    "quote_literal",
    "read_activity",
    "read_waits",
    "set_allow_connections",
    "terminate",
    "wait_gone",
]

_TOKEN = re.compile(r"^[0-9a-f]{6,32}$")

_SESSION_JSON = """json_build_object(
  'pid', {a}.pid, 'user', {a}.usename, 'application', {a}.application_name, 'client', host({a}.client_addr),
  'state', {a}.state, 'backend_type', {a}.backend_type,
  'xact_age', extract(epoch FROM clock_timestamp() - {a}.xact_start)::float8,
  'query_age', extract(epoch FROM clock_timestamp() - {a}.query_start)::float8,
  'state_age', extract(epoch FROM clock_timestamp() - {a}.state_change)::float8,
  'wait_event', CASE WHEN {a}.state = 'active' THEN concat_ws(':', {a}.wait_event_type, {a}.wait_event) END,
  'query', left({a}.query, 200))"""


def app_name(token: str, role: str) -> str:
    if not _TOKEN.match(token):
        raise ValueError("token must be hex")
    return f"hotfix-db/{token}/{role}"


def _pattern(token: str) -> str:
    return app_name(token, "%")


def quote_literal(text: str) -> str:
    """A standard SQL string literal (the session runs with standard_conforming_strings on)."""
    if "\x00" in text:
        raise DatabaseError("a name contains a NUL character")
    return "'" + text.replace("'", "''") + "'"


def quote_ident(name: str) -> str:
    if problem := database_name_problem(name):
        raise DatabaseError(f"database name {name[:70]!r} {problem}")
    return '"' + name.replace('"', '""') + '"'


def query_json(session: PsqlSession, sql: str, timeout: float = 30.0) -> Any:
    rows = session.execute(sql, timeout=timeout)
    text = "".join(rows).strip()
    try:
        return json.loads(text) if text else None
    except ValueError:
        raise DatabaseError(f"the server's answer is not JSON: {text[:80]!r}") from None


def _session(data: Mapping[str, Any]) -> DbSession:
    def num(key: str) -> float | None:
        value = data.get(key)
        return float(value) if isinstance(value, int | float) else None

    return DbSession(
        pid=int(data["pid"]),
        user=str(data.get("user") or ""),
        application=str(data.get("application") or ""),
        client=str(data.get("client") or ""),
        state=None if data.get("state") is None else str(data["state"]),
        backend_type=str(data.get("backend_type") or ""),
        xact_age=num("xact_age"),
        query_age=num("query_age"),
        state_age=num("state_age"),
        wait_event=str(data.get("wait_event") or ""),
        query=str(data.get("query") or ""),
    )


def read_activity(session: PsqlSession, token: str) -> Activity:
    """The client sessions on this database that are not ours, and the relation locks they hold or wait for."""
    sql = f"""
SELECT json_build_object(
  'sessions', (SELECT coalesce(json_agg({_SESSION_JSON.format(a="a")} ORDER BY a.pid), '[]')
               FROM pg_stat_activity a
               WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
                 AND coalesce(a.backend_type, 'client backend') = 'client backend'
                 AND coalesce(a.application_name, '') NOT LIKE {quote_literal(_pattern(token))}),
  'locks', (SELECT coalesce(json_agg(json_build_object(
                 'pid', l.pid, 'relation', coalesce(c.oid::regclass::text, l.relation::text), 'mode', l.mode,
                 'granted', l.granted) ORDER BY l.pid, c.oid::regclass::text), '[]')
            FROM pg_locks l
            JOIN pg_stat_activity a ON a.pid = l.pid
            LEFT JOIN pg_class c ON c.oid = l.relation
            WHERE l.locktype = 'relation'
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND a.pid <> pg_backend_pid()
              AND coalesce(a.application_name, '') NOT LIKE {quote_literal(_pattern(token))}
              AND (c.oid IS NULL OR (c.relkind IN ('r', 'p', 'm', 'v', 'S', 'f')
                   AND c.relnamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)))));
"""  # noqa: S608 (only quoted literals, identifiers and ints are interpolated)
    data = query_json(session, sql)
    if not isinstance(data, dict):
        raise DatabaseError("pg_stat_activity gave no answer")
    sessions = tuple(_session(s) for s in data.get("sessions") or [])
    locks = tuple(
        HeldLock(pid=int(x["pid"]), relation=str(x["relation"]), mode=str(x["mode"]), granted=bool(x["granted"]))
        for x in data.get("locks") or []
    )
    return Activity(sessions=sessions, locks=locks)


def read_waits(session: PsqlSession, token: str, *, waitstart: bool = True) -> list[LockWait]:
    """Our sessions that are waiting for a lock: on what, since when, and the sessions blocking them."""
    since = "coalesce(l.waitstart, w.state_change)" if waitstart else "w.state_change"
    sql = f"""
SELECT coalesce(json_agg(json_build_object(
  'pid', w.pid, 'what', coalesce(l.relation::regclass::text, l.locktype), 'mode', l.mode,
  'seconds', extract(epoch FROM clock_timestamp() - {since})::float8,
  'blockers', (SELECT coalesce(json_agg({_SESSION_JSON.format(a="b")} ORDER BY b.pid), '[]')
               FROM pg_stat_activity b WHERE b.pid = ANY (pg_blocking_pids(w.pid))),
  'prepared', 0 = ANY (pg_blocking_pids(w.pid)),
  'queued', (SELECT count(*) FROM pg_stat_activity q WHERE w.pid = ANY (pg_blocking_pids(q.pid))))), '[]')
FROM pg_stat_activity w JOIN pg_locks l ON l.pid = w.pid AND NOT l.granted
WHERE w.application_name LIKE {quote_literal(_pattern(token))};
"""  # noqa: S608 (only quoted literals, identifiers and ints are interpolated)
    data = query_json(session, sql) or []
    return [
        LockWait(
            pid=int(x["pid"]),
            what=str(x.get("what") or "?"),
            mode=str(x.get("mode") or "?"),
            seconds=float(x.get("seconds") or 0.0),
            blockers=tuple(_session(b) for b in x.get("blockers") or []),
            prepared=bool(x.get("prepared")),
            queued_behind=int(x.get("queued") or 0),
        )
        for x in data
    ]


def ours(session: PsqlSession, token: str, *, exclude: Sequence[int] = (), roles: Sequence[str] = ()) -> list[int]:
    """Pids of the server sessions carrying our token (anywhere in the cluster), besides ``exclude`` and the
    sessions of the ``roles`` named (e.g. the guard's)."""
    skip = ", ".join(str(int(p)) for p in (session.pid, *exclude))
    names = "".join(f" AND application_name <> {quote_literal(app_name(token, r))}" for r in roles)
    sql = (
        "SELECT coalesce(json_agg(pid ORDER BY pid), '[]') FROM pg_stat_activity "  # noqa: S608
        f"WHERE application_name LIKE {quote_literal(_pattern(token))} AND pid NOT IN ({skip}){names};"
    )
    data = query_json(session, sql) or []
    return [int(p) for p in data]


def terminate(session: PsqlSession, pids: Sequence[int], *, wait_ms: int = 5000) -> dict[int, str | None]:
    """pg_terminate_backend every pid at once, then wait up to ``wait_ms`` until they are gone: pid -> None when it
    is gone, else the reason (permission denied, still connected)."""
    if not pids:
        return {}
    result: dict[int, str | None] = {}
    listed = ", ".join(str(int(p)) for p in pids)
    try:
        session.execute(f"SELECT count(pg_terminate_backend(p)) FROM unnest(ARRAY[{listed}]::int[]) AS p;")  # noqa: S608
    except DatabaseError:  # one of them may not be ended by us (another role's): ask one by one to say which
        for pid in pids:
            try:
                session.execute(f"SELECT pg_terminate_backend({int(pid)});")
            except DatabaseError as exc:
                result[pid] = exc.message
    still = set(wait_gone(session, list(pids), timeout=wait_ms / 1000))
    for pid in pids:
        if pid not in still:
            result[pid] = None
        elif result.get(pid) is None:
            result[pid] = f"still connected {wait_ms / 1000:.0f}s after pg_terminate_backend"
    return result


def wait_gone(session: PsqlSession, pids: Sequence[int], *, timeout: float) -> list[int]:
    """Poll pg_stat_activity until none of ``pids`` is there (or the timeout); the pids still there."""
    if not pids:
        return []
    listed = ", ".join(str(int(p)) for p in pids)
    deadline = time.monotonic() + timeout
    while True:
        data = query_json(
            session,
            f"SELECT coalesce(json_agg(pid), '[]') FROM pg_stat_activity WHERE pid IN ({listed});",  # noqa: S608
        )
        left = [int(p) for p in data or []]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def set_allow_connections(session: PsqlSession, database: str, allow: bool) -> bool:
    """ALTER DATABASE ... ALLOW_CONNECTIONS, then read it back; returns the value the server now has."""
    value = "true" if allow else "false"
    session.execute(f"ALTER DATABASE {quote_ident(database)} ALLOW_CONNECTIONS {value};")
    rows = session.execute(f"SELECT datallowconn FROM pg_database WHERE datname = {quote_literal(database)};")  # noqa: S608
    return bool(rows) and rows[0].strip() == "t"


def count_rows_sql(tables: Sequence[str]) -> str:
    """One statement giving a JSON object table -> row count (null for a table that does not exist)."""
    for table in tables:
        if problem := table_ident_problem(table):
            raise DatabaseError(f"table name {table[:80]!r} {problem}")
    listed = ", ".join(quote_literal(t) for t in tables)
    return (
        "SELECT coalesce(json_object_agg(t, CASE WHEN to_regclass(t) IS NULL THEN NULL ELSE "  # noqa: S608
        "(xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM ' || t, false, true, '')))[1]::text::bigint "
        f"END), '{{}}') FROM unnest(ARRAY[{listed}]::text[]) AS t;"
    )


def count_rows(session: PsqlSession, tables: Sequence[str], *, in_transaction: bool = False) -> dict[str, int | None]:
    """Row counts of ``tables`` in one snapshot (None for a missing table); inside the session's own transaction
    when ``in_transaction``."""
    if not tables:
        return {}
    sql = count_rows_sql(tables)
    if not in_transaction:
        sql = f"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n{sql}\nCOMMIT;"
    data = query_json(session, sql, timeout=3600)
    if not isinstance(data, dict):
        raise DatabaseError("row counts: no answer")
    return {str(k): (None if v is None else int(v)) for k, v in data.items()}
