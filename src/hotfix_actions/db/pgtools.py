"""The Database port on the PostgreSQL client tools: pg_dump, pg_restore and psql, run as argv lists with timeouts.

Connection details travel in the children's environment (PGHOST, PGPORT, PGUSER, PGDATABASE); the password in a
private 0600 .pgpass named by PGPASSFILE. Nothing secret is ever in argv, and every message we raise is scrubbed.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from hotfix_actions.db._conn import ConnInfo
from hotfix_actions.decide.db import database_name_problem, table_ident_problem
from hotfix_actions.errors import DatabaseError, UsageError
from hotfix_actions.ports import DumpContents

__all__ = ["PgTools"]

_TOOL_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+(?:\.\d+)*)")
_COPY = re.compile(rb'^COPY ((?:[^ ."]+|"(?:[^"]|"")*")\.(?:[^ ."(]+|"(?:[^"]|"")*")) (?:\(.*\) )?FROM stdin;$')
_DUMPED = re.compile(rb"^-- Dumped (from database|by pg_dump) version (\S+)")
_KEEP_ENV = ("PATH", "HOME", "TMPDIR", "LANG", "TZ", "SYSTEMROOT")


class PgTools:
    """pg_dump/pg_restore/psql for one database. Use as a context manager: it removes its private .pgpass."""

    def __init__(
        self,
        conn: ConnInfo,
        *,
        base_env: Mapping[str, str],
        bindir: str | None = None,
        timeout: float = 3600.0,
        query_timeout: float = 120.0,
        connect_timeout: int = 10,
        lock_wait_timeout: int = 60,
    ) -> None:
        self.conn = conn
        self.bindir = bindir or None
        self.timeout = timeout
        self.query_timeout = query_timeout
        self.connect_timeout = connect_timeout
        self.lock_wait_timeout = lock_wait_timeout
        self._base = {k: v for k, v in base_env.items() if k in _KEEP_ENV}
        self._secret_dir: str | None = None
        self.calls: list[list[str]] = []  # every argv run, for the record (and the tests)
        self.app_name: str | None = None  # application_name of our sessions (a live restore names each run's own)

    # -- lifecycle ----------------------------------------------------------------------------------
    def __enter__(self) -> PgTools:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._secret_dir:
            shutil.rmtree(self._secret_dir, ignore_errors=True)
            self._secret_dir = None

    @property
    def name(self) -> str:
        return self.conn.database

    def describe(self) -> str:
        return self.conn.describe()

    # -- plumbing -----------------------------------------------------------------------------------
    def _passfile(self) -> str | None:
        password = self.conn.password
        if not password:
            return None
        if "\n" in password or "\r" in password:
            raise UsageError("the database password contains a line break, which .pgpass cannot hold")
        if self._secret_dir is None:
            self._secret_dir = tempfile.mkdtemp(prefix="hotfix-pg-")  # 0700
        path = Path(self._secret_dir) / "pgpass"
        if path.is_file():  # written once: rewriting it while another child reads it would race
            return str(path)
        escaped = password.replace("\\", "\\\\").replace(":", "\\:")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(f"*:*:*:*:{escaped}\n")
        return str(path)

    def _env(self, database: str | None = None, options: str = "", app_name: str | None = None) -> dict[str, str]:
        env = dict(self._base)
        env.update(self.conn.env(database))
        env.setdefault("PGCONNECT_TIMEOUT", str(self.connect_timeout))
        env.setdefault("PGAPPNAME", "hotfix-db")
        if app_name or self.app_name:
            env["PGAPPNAME"] = app_name or self.app_name or "hotfix-db"
        env["LC_MESSAGES"] = "C"
        if options:
            env["PGOPTIONS"] = f"{env.get('PGOPTIONS', '')} {options}".strip()
        if passfile := self._passfile():
            env["PGPASSFILE"] = passfile
        return env

    def child_env(self, database: str | None = None, *, app_name: str | None = None) -> dict[str, str]:
        """The environment of a PostgreSQL client child (libpq variables, PGPASSFILE; never the password)."""
        return self._env(database, app_name=app_name)

    def tool(self, name: str) -> str:
        return self._tool(name)

    @property
    def secret_dir(self) -> str | None:
        """The private folder of the .pgpass (None until a password was needed)."""
        return self._secret_dir

    def scrub(self, text: str) -> str:
        return self._scrub(text)

    def _scrub(self, text: str) -> str:
        if self.conn.password:
            text = text.replace(self.conn.password, "***")
        return text

    def _tool(self, name: str) -> str:
        if self.bindir:
            path = Path(self.bindir) / name
            if not (path.is_file() and os.access(path, os.X_OK)):
                raise DatabaseError(
                    f"{name} not found in {self.bindir}", fix="set db.pg_bindir to a PostgreSQL bin folder"
                )
            return str(path)
        found = shutil.which(name, path=self._base.get("PATH"))
        if not found:
            raise DatabaseError(
                f"{name} is not installed",
                fix="install the PostgreSQL client tools (Debian: postgresql-client) or set db.pg_bindir",
            )
        return found

    def _failure(self, tool: str, stderr: str, code: int) -> DatabaseError:
        lines = [ln.strip() for ln in self._scrub(stderr).splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()] or lines
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            hint = " (file size limit or full disk)" if name == "SIGXFSZ" else ""
            errors = [f"killed by {name}{hint}", *errors]
        detail = " | ".join(errors[:3]) if errors else f"exit {code}"
        return DatabaseError(f"{tool} failed (exit {code}): {detail[:600]}")

    def _run(
        self,
        tool: str,
        args: Sequence[str],
        *,
        database: str | None = None,
        input_text: str | None = None,
        timeout: float | None = None,
        options: str = "",
    ) -> str:
        argv = [self._tool(tool), *args]
        self.calls.append(argv)
        limit = timeout if timeout is not None else self.timeout
        try:
            proc = subprocess.run(
                argv,
                env=self._env(database, options),
                input=input_text,
                capture_output=True,
                text=True,
                timeout=limit,
                check=False,
                stdin=None if input_text is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise DatabaseError(f"{tool} timed out after {limit:.0f}s") from None
        except OSError as exc:
            raise DatabaseError(f"{tool} could not start: {exc.strerror}") from None
        if proc.returncode != 0:
            raise self._failure(tool, proc.stderr, proc.returncode)
        return proc.stdout

    def _psql(self, sql: str, *, database: str | None = None, options: str = "", timeout: float | None = None) -> str:
        args = ["--no-psqlrc", "--quiet", "--no-align", "--tuples-only", "--no-password"]
        args += ["--set=ON_ERROR_STOP=1", "--file=-"]
        return self._run(
            "psql", args, database=database, input_text=sql, options=options, timeout=timeout or self.query_timeout
        )

    # -- the port -----------------------------------------------------------------------------------
    def client_version(self) -> str:
        found: dict[str, str] = {}
        for tool in ("pg_dump", "pg_restore"):
            out = self._run(tool, ["--version"], timeout=30)
            m = _TOOL_VERSION.search(out)
            if not m:
                raise DatabaseError(f"cannot read the version of {tool} from {out.strip()[:80]!r}")
            found[tool] = m.group(1)
        majors = {v.split(".")[0] for v in found.values()}
        if len(majors) != 1:
            raise DatabaseError(
                f"pg_dump {found['pg_dump']} and pg_restore {found['pg_restore']} are of different majors",
                fix="install one PostgreSQL client version or set db.pg_bindir",
            )
        return found["pg_dump"]

    def server_version(self) -> str:
        return self._psql("SELECT current_setting('server_version');").strip()

    def dump(self, target: str, *, compress: int | None = None) -> None:
        args = ["--format=custom", "--no-password", f"--lock-wait-timeout={self.lock_wait_timeout}s"]
        if compress is not None:
            args.append(f"--compress={int(compress)}")
        self._run("pg_dump", [*args, f"--file={target}"])

    def toc_entries(self, dump: str) -> int:
        out = self._run("pg_restore", ["--list", dump])
        return sum(1 for ln in out.splitlines() if ln.strip() and not ln.startswith(";"))

    def read_all(self, dump: str) -> DumpContents:
        """Decompress and read every entry, as ``pg_restore -f /dev/null`` does, counting COPY rows on the way."""
        argv = [self._tool("pg_restore"), "--file=-", dump]
        self.calls.append(argv)
        rows: dict[str, int] = {}
        header: dict[bytes, str] = {}
        with tempfile.TemporaryFile() as errfile:
            try:
                proc = subprocess.Popen(
                    argv, env=self._env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errfile
                )
            except OSError as exc:
                raise DatabaseError(f"pg_restore could not start: {exc.strerror}") from None
            timer = threading.Timer(self.timeout, proc.kill)
            timer.start()
            try:
                assert proc.stdout is not None
                table: str | None = None
                count = 0
                for line in proc.stdout:
                    if table is not None:
                        if line == b"\\.\n":
                            rows[table] = rows.get(table, 0) + count
                            table = None
                        else:
                            count += 1
                    elif line.startswith(b"COPY "):
                        m = _COPY.match(line.rstrip(b"\n"))
                        if m:
                            table, count = m.group(1).decode("utf-8", "replace"), 0
                    elif line.startswith(b"-- Dumped ") and (d := _DUMPED.match(line)):
                        header[d.group(1)] = d.group(2).decode("ascii", "replace")
                code = proc.wait()
            finally:
                timer.cancel()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if code != 0:
                errfile.seek(0)
                raise self._failure("pg_restore", errfile.read().decode("utf-8", "replace"), code)
            if table is not None:
                raise DatabaseError(f"pg_restore: the data of {table} ends before its end marker")
        return DumpContents(
            dumped_from=header.get(b"from database", ""),
            dumped_by=header.get(b"by pg_dump", ""),
            rows=tuple(sorted(rows.items())),
        )

    def count_rows(self, tables: Sequence[str], *, database: str | None = None) -> dict[str, int]:
        if not tables:
            return {}
        for table in tables:
            if problem := table_ident_problem(table):
                raise DatabaseError(f"table name {table[:80]!r} {problem}")
        sql = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n"
        # Each name passed table_ident_problem: a schema-qualified identifier, quoted where needed.
        sql += "".join(f"SELECT count(*) FROM {table};\n" for table in tables)  # noqa: S608
        sql += "COMMIT;\n"
        out = self._psql(sql, database=database, timeout=self.timeout).split()
        if len(out) != len(tables) or not all(v.isdigit() for v in out):
            raise DatabaseError(f"psql returned {len(out)} counts for {len(tables)} tables")
        return {table: int(value) for table, value in zip(tables, out, strict=True)}

    def restore(self, dump: str, *, database: str | None = None, clean: bool = True, owner: bool = True) -> None:
        target = database or self.conn.database
        if problem := database_name_problem(target):
            raise DatabaseError(f"database name {target!r} {problem}")
        args = ["--single-transaction", "--exit-on-error", "--no-password", f"--dbname={target}"]
        if clean:
            args += ["--clean", "--if-exists"]
        if not owner:
            args += ["--no-owner", "--no-privileges"]
        self._run("pg_restore", [*args, dump], database=target)

    def create_scratch(self) -> str:
        name = f"hotfix_verify_{secrets.token_hex(6)}"
        self._psql(f'CREATE DATABASE "{name}" TEMPLATE template0;')
        return name

    def drop_database(self, name: str) -> None:
        if problem := database_name_problem(name):
            raise DatabaseError(f"database name {name!r} {problem}")
        if name == self.conn.database:
            raise DatabaseError(f"refusing to drop the configured database {name}")
        self._psql(f'DROP DATABASE IF EXISTS "{name}";')

    def query_value(self, sql: str) -> str:
        options = f"-c default_transaction_read_only=on -c statement_timeout={int(self.query_timeout * 1000)}"
        out = self._psql(sql, options=options)
        return out.splitlines()[0].strip() if out.strip() else ""
