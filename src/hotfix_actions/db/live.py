"""A restore into a live database (the ``LiveRestore`` port), on psql sessions we keep open and control.

Sessions of one run, each named ``hotfix-db/<token>/<role>`` in pg_stat_activity:

- ``control``: looks (pg_stat_activity, pg_locks), terminates, counts rows, allows connections again. It is opened
  before connections are blocked, so it keeps working while nobody else can connect.
- ``restore``: holds the single transaction. Its own settings (lock_timeout, client_connection_check_interval, no
  idle or statement timeout) are set first and again right after the dump's header, which resets lock_timeout to 0.
  It first takes EXCLUSIVE locks on every table it may write (writers wait, readers and pg_dump do not), so the
  pre-restore backup is exactly the data the restore replaces; then it receives the script of ``pg_restore -f -``.
- ``guard`` (another process, ``db.guard``): allows connections again and ends our sessions if we die.

Blocking new connections (ALTER DATABASE ... ALLOW_CONNECTIONS false) must run from another database: a one-shot
psql on the maintenance database (``postgres`` unless configured).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import tempfile
import threading
import time

from hotfix_actions.db import activity
from hotfix_actions.db.guard import Guard
from hotfix_actions.db.pgtools import PgTools
from hotfix_actions.db.script import HeaderFilter
from hotfix_actions.db.session import PsqlSession, SessionEnded
from hotfix_actions.decide.db import database_name_problem
from hotfix_actions.decide.db_live import Activity, LockWait, Preflight
from hotfix_actions.errors import DatabaseError, UsageError

__all__ = ["LiveRestore", "Operation", "Preflight"]

_FREEZE = """DO $hotfix$ DECLARE r record; BEGIN
  FOR r IN SELECT c.oid::regclass AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      AND n.nspname NOT LIKE 'pg\\_%'
      AND (has_table_privilege(c.oid, 'UPDATE') OR has_table_privilege(c.oid, 'DELETE')
           OR has_table_privilege(c.oid, 'TRUNCATE'))
    ORDER BY c.oid
  LOOP EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', r.t); END LOOP;
END $hotfix$;"""


class Operation:
    """Something the restore session is doing: poll it while reporting who it waits for."""

    def __init__(self, session: PsqlSession, label: str, thread: threading.Thread | None = None) -> None:
        self.session = session
        self.label = label
        self.thread = thread
        self.error: str | None = None
        self.finished = False
        self.sent = 0  # bytes of script sent so far (load)

    def poll(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds; True once the operation has finished (well or not: see ``error``)."""
        if self.finished:
            return True
        deadline = time.monotonic() + timeout
        if self.thread is not None:
            self.thread.join(timeout)
            if self.thread.is_alive():
                return False
            if self.error is not None:
                self.finished = True
                return True
        try:
            answer = self.session.wait(self.label, max(0.0, deadline - time.monotonic()))
        except SessionEnded as exc:
            self.error, self.finished = exc.message, True
            return True
        if answer is None:
            return False
        if answer.error or any(m.startswith(("ERROR", "FATAL")) for m in answer.messages):
            self.error = answer.error_text
        self.finished = True
        return True


class LiveRestore:
    """One restore run against the database of ``tools``. Use as a context manager: ``close`` ends every session."""

    def __init__(self, tools: PgTools, *, lock_timeout: float, maintenance_db: str = "postgres") -> None:
        if problem := database_name_problem(maintenance_db):
            raise UsageError(f"maintenance database {maintenance_db[:70]!r} {problem}", input_name="--maintenance-db")
        self.tools = tools
        self.lock_timeout_ms = max(1, int(lock_timeout * 1000))
        self.maintenance_db = maintenance_db
        self.token = secrets.token_hex(6)
        self.control: PsqlSession | None = None
        self.restore_session: PsqlSession | None = None
        self.guard: Guard | None = None
        self.preflight: Preflight | None = None
        self._load: Operation | None = None
        self._restore_proc: subprocess.Popen[bytes] | None = None
        self._armed = False  # the restore session began: a guard not released must clean up

    # -- lifecycle ----------------------------------------------------------------------------------
    def __enter__(self) -> LiveRestore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _session(self, role: str, *, stop_on_error: bool = False) -> PsqlSession:
        name = activity.app_name(self.token, role)
        env = self.tools.child_env(app_name=name)
        return PsqlSession(
            [self.tools.tool("psql")], env, name=role, stop_on_error=stop_on_error, scrub=self.tools.scrub
        )

    @property
    def _control(self) -> PsqlSession:
        if self.control is None or not self.control.alive():
            raise DatabaseError("the control session is not open")
        return self.control

    def open(self) -> Preflight:
        """Open the control session and learn what may be done (ownership, the maintenance database, versions)."""
        self.tools.app_name = activity.app_name(self.token, "tool")
        # the pre-restore pg_dump waits for a lock no longer than the restore's own statements do
        self.tools.lock_wait_timeout = min(self.tools.lock_wait_timeout, max(1, -(-self.lock_timeout_ms // 1000)))
        self.control = self._session("control")
        sql = f"""
SELECT json_build_object(
  'user', current_user, 'owner', pg_get_userbyid(d.datdba), 'allow', d.datallowconn,
  'version', current_setting('server_version_num')::int,
  'alter', pg_has_role(d.datdba, 'MEMBER') OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
  'maintenance', (SELECT m.datallowconn AND has_database_privilege(m.oid, 'CONNECT') FROM pg_database m
                  WHERE m.datname = {activity.quote_literal(self.maintenance_db)}),
  'tables', (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg\\_%'))
FROM pg_database d WHERE d.datname = current_database();"""  # noqa: S608 (only quoted literals, identifiers and ints are interpolated)
        data = activity.query_json(self._control, sql)
        if not isinstance(data, dict):
            raise DatabaseError("could not read the database's settings")
        problem = ""
        if not data.get("alter"):
            problem = f"{data.get('user')} does not own the database (owner: {data.get('owner')})"
        elif data.get("maintenance") is None:
            problem = f"the maintenance database {self.maintenance_db} does not exist"
        elif not data.get("maintenance"):
            problem = f"{data.get('user')} cannot connect to the maintenance database {self.maintenance_db}"
        self.preflight = Preflight(
            user=str(data.get("user") or ""),
            owner=str(data.get("owner") or ""),
            server_version_num=int(data.get("version") or 0),
            allow_connections=bool(data.get("allow")),
            can_block=not problem,
            block_problem=problem,
            tables=int(data.get("tables") or 0),
        )
        return self.preflight

    # -- looking and acting on others ---------------------------------------------------------------
    def look(self) -> Activity:
        return activity.read_activity(self._control, self.token)

    def waits(self) -> list[LockWait]:
        version = self.preflight.server_version_num if self.preflight else 0
        return activity.read_waits(self._control, self.token, waitstart=version >= 140000)

    def terminate(self, pids: list[int]) -> dict[int, str | None]:
        version = self.preflight.server_version_num if self.preflight else 0
        if version and version < 140000:  # pragma: no cover - PostgreSQL 13 and older: no wait argument
            out: dict[int, str | None] = {}
            for pid in pids:
                try:
                    self._control.execute(f"SELECT pg_terminate_backend({int(pid)});")
                    out[pid] = None
                except DatabaseError as exc:
                    out[pid] = exc.message
            left = set(activity.wait_gone(self._control, pids, timeout=5.0))
            return {p: ("still connected" if p in left and out[p] is None else out[p]) for p in pids}
        return activity.terminate(self._control, pids)

    def ours(self) -> list[int]:
        """Our sessions on the server besides the control session and the guard's."""
        return activity.ours(self._control, self.token, roles=["guard"] if self.guard else [])

    def wait_gone(self, pids: list[int], timeout: float) -> list[int]:
        return activity.wait_gone(self._control, pids, timeout=timeout)

    def count_rows(self, tables: list[str]) -> dict[str, int | None]:
        return activity.count_rows(self._control, tables)

    # -- connections --------------------------------------------------------------------------------
    def start_guard(self, database: str) -> None:
        """Start the guard process (it opens its own session while connections are allowed); it is waited for before
        anything it would have to undo."""
        if self.guard is not None:
            return
        config = {
            "psql": self.tools.tool("psql"),
            "env": self.tools.child_env(app_name=activity.app_name(self.token, "guard")),
            "database": database,
            "token": self.token,
            "secret_dir": self.tools.secret_dir or "",
            "parent": os.getpid(),
            "maintenance_db": self.maintenance_db,
        }
        self.guard = Guard(config)

    def tell_guard(self, line: str) -> None:
        if self.guard is not None:
            with contextlib.suppress(DatabaseError):  # a guard that died is noticed when it is released
                self.guard.tell(line)

    def _guard_ready(self) -> None:
        if self.guard is None:
            raise DatabaseError("the restore guard was not started")
        self.guard.ready()

    def block_connections(self, database: str) -> bool:
        """ALTER DATABASE ... ALLOW_CONNECTIONS false from the maintenance database; True when it reads back false."""
        self._guard_ready()
        self.tell_guard("blocked")  # first: a death between the ALTER and this line must still be undone
        sql = f"ALTER DATABASE {activity.quote_ident(database)} ALLOW_CONNECTIONS false;"
        self.tools._psql(sql, database=self.maintenance_db, timeout=60)
        rows = self._control.execute(
            f"SELECT datallowconn FROM pg_database WHERE datname = {activity.quote_literal(database)};"  # noqa: S608
        )
        return bool(rows) and rows[0].strip() == "f"

    def allow_connections(self, database: str) -> bool:
        """Allow connections again (from the control session; the maintenance database if it is gone)."""
        try:
            ok = activity.set_allow_connections(self._control, database, True)
        except DatabaseError:
            self.tools._psql(
                f"ALTER DATABASE {activity.quote_ident(database)} ALLOW_CONNECTIONS true;",
                database=self.maintenance_db,
                timeout=60,
            )
            rows = self.tools._psql(
                f"SELECT datallowconn FROM pg_database WHERE datname = {activity.quote_literal(database)};",  # noqa: S608
                database=self.maintenance_db,
            )
            ok = rows.strip() == "t"
        if ok:
            self.tell_guard("allowed")
        return ok

    # -- the restore session ------------------------------------------------------------------------
    def begin(self) -> Operation:
        """Open the restore session, start its transaction and lock every table it may write (EXCLUSIVE)."""
        self._guard_ready()  # from here on there is something to undo if we die
        self._armed = True
        session = self._session("restore", stop_on_error=True)
        self.restore_session = session
        version = self.preflight.server_version_num if self.preflight else 0
        settings = [
            f"SET lock_timeout = '{self.lock_timeout_ms}ms';",
            "SET statement_timeout = 0;",
            "SET idle_in_transaction_session_timeout = 0;",
        ]
        if version >= 140000:
            settings.append("SET client_connection_check_interval = '1s';")
        session.send("\n".join([*settings, "BEGIN;", _FREEZE, ""]))
        return Operation(session, session.mark("frozen"))

    def load(self, dump: str, *, owner: bool = True) -> Operation:
        """Stream ``pg_restore -f -`` of ``dump`` into the restore session's transaction (not committed)."""
        session = self.restore_session
        if session is None:
            raise DatabaseError("the restore session is not open")
        argv = [self.tools.tool("pg_restore"), "--file=-", "--clean", "--if-exists"]
        if not owner:
            argv += ["--no-owner", "--no-privileges"]
        argv.append(dump)
        self.tools.calls.append(argv)
        op = Operation(session, "loaded")
        header = HeaderFilter(f"SET lock_timeout = '{self.lock_timeout_ms}ms';\n".encode())
        thread = threading.Thread(target=self._stream, args=(argv, header, op), name="restore-writer", daemon=True)
        op.thread = thread
        self._load = op
        thread.start()
        return op

    def _stream(self, argv: list[str], header: HeaderFilter, op: Operation) -> None:
        session = self.restore_session
        assert session is not None and session.proc.stdin is not None
        stdin = session.proc.stdin
        with tempfile.TemporaryFile() as errfile:
            try:
                proc = subprocess.Popen(
                    argv, env=self.tools.child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errfile
                )
            except OSError as exc:
                op.error = f"pg_restore could not start: {exc.strerror}"
                return
            self._restore_proc = proc
            assert proc.stdout is not None
            try:
                while chunk := proc.stdout.read(1 << 20):
                    out = header.feed(chunk)
                    stdin.write(out)
                    op.sent += len(out)
                stdin.write(header.finish())
                stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                proc.kill()
                proc.wait()
                op.error = f"the restore session ended: {session.last_error()}"
                return
            code = proc.wait()
            if code != 0:
                errfile.seek(0)
                detail = self.tools.scrub(errfile.read().decode("utf-8", "replace")).strip().splitlines()
                op.error = f"pg_restore failed (exit {code}): " + " | ".join(detail[:3])
                return
            try:
                session.mark("loaded")
            except SessionEnded as exc:
                op.error = exc.message

    def counts_in_transaction(self, tables: list[str]) -> dict[str, int | None]:
        """Row counts as the restore's own uncommitted transaction sees them."""
        if self.restore_session is None:
            raise DatabaseError("the restore session is not open")
        return activity.count_rows(self.restore_session, tables, in_transaction=True)

    def commit(self, timeout: float) -> bool | None:
        """COMMIT; True when acknowledged, None when the session ended or did not answer (unknown)."""
        session = self.restore_session
        if session is None:
            raise DatabaseError("the restore session is not open")
        self.tell_guard("commit-sent")
        try:
            session.send("COMMIT;\n")
            answer = session.wait(session.mark("committed"), timeout)
        except SessionEnded:
            return None
        if answer is None or answer.error or any(m.startswith(("ERROR", "FATAL")) for m in answer.messages):
            return None
        self.tell_guard("commit-acked")
        return True

    def end_restore_session(self, timeout: float = 15.0) -> list[int]:
        """End the restore session on every path: stop our writer, kill psql, terminate its server session (and any
        other of ours but control and guard), and wait until they are gone. Returns the pids still there."""
        if self._restore_proc is not None and self._restore_proc.poll() is None:
            self._restore_proc.kill()
        session = self.restore_session
        if session is not None:
            session.kill()
        if self._load is not None and self._load.thread is not None:
            self._load.thread.join(5)
        ours = self.ours()
        if ours:
            self.terminate(ours)
        return self.wait_gone(ours, timeout) if ours else []

    def close_restore_session(self) -> None:
        """End the restore session after a COMMIT (psql quits on end of input)."""
        if self.restore_session is not None:
            self.restore_session.close()

    def release_guard(self, *, cleaned_up: bool) -> bool:
        """End the guard: ``done`` when we cleaned up ourselves, else let it clean up (it sees its input end)."""
        guard, self.guard = self.guard, None
        if guard is None:
            return True
        if cleaned_up:
            return guard.finish()
        return guard.abandon()

    def close(self) -> None:
        if self._restore_proc is not None and self._restore_proc.poll() is None:
            self._restore_proc.kill()
            self._restore_proc.wait()
        for session in (self.restore_session, self.control):
            if session is not None:
                session.close(5)
        if self.guard is not None:  # not released: if anything began, let the guard check and clean up
            self.release_guard(cleaned_up=not self._armed)
        self.tools.app_name = None
