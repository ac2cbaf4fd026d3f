"""What the `hotfix db` commands share: the connection and folder options, the config, the adapter, provenance,
names, and the signal handling of a restore.

The connection comes from --database-url / HOTFIX_DATABASE_URL, else DATABASE_URL, else PGHOST, PGPORT, PGUSER and
PGDATABASE; the password from the URL, PGPASSWORD or a .pgpass (PGPASSFILE). It is masked before anything is printed
and handed to the PostgreSQL tools only through a private 0600 .pgpass, never in argv.
"""

from __future__ import annotations

import re
import secrets
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from hotfix_actions import __version__
from hotfix_actions.commands._common import Edge, repo_root
from hotfix_actions.config.db import DbConfig
from hotfix_actions.db import ConnInfo, LocalBackupStore, PgTools, conn_from_env
from hotfix_actions.decide.db import backup_name_problem
from hotfix_actions.errors import ExitCode, HotfixError, Interrupted, UsageError
from hotfix_actions.services import db as service

__all__ = [
    "checked_name",
    "config",
    "connection_options",
    "database",
    "expected_digest",
    "provenance",
    "signals_interrupt",
    "store",
    "store_option",
]


def connection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--pg-bindir",
        envvar="HOTFIX_PG_BINDIR",
        default=None,
        help="Folder of pg_dump/pg_restore/psql (default: db.pg_bindir, else PATH). Env: HOTFIX_PG_BINDIR.",
    )(fn)
    fn = click.option(
        "--database",
        envvar="HOTFIX_DATABASE",
        default=None,
        help="Database name, overriding the one in the URL or PGDATABASE. Env: HOTFIX_DATABASE.",
    )(fn)
    return click.option(
        "--database-url",
        envvar="HOTFIX_DATABASE_URL",
        default=None,
        help="postgresql://user@host:5432/dbname (default: DATABASE_URL, else PG* variables). Prefer the "
        "environment for a URL with a password: argv is visible to every user. Env: HOTFIX_DATABASE_URL.",
    )(fn)


def store_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--backup-dir",
        envvar="HOTFIX_DB_BACKUP_DIR",
        default=None,
        type=click.Path(file_okay=False),
        help="Folder of dumps and manifests (default: db.backup_dir in .hotfix.yml). Env: HOTFIX_DB_BACKUP_DIR.",
    )(fn)


def config(edge: Edge) -> DbConfig:
    return edge.config(repo_root(Path.cwd())).section(DbConfig)


def store(cfg: DbConfig, backup_dir: str | None, *, pre_restore: bool = False) -> LocalBackupStore:
    folder = backup_dir or cfg.backup_dir
    if pre_restore and cfg.pre_restore_dir:
        folder = cfg.pre_restore_dir
    return LocalBackupStore(Path(folder).expanduser())


def database(
    edge: Edge, cfg: DbConfig, url: str | None, database: str | None, bindir: str | None, *, need_server: bool = True
) -> PgTools:
    """Mask every password we can see first, then parse the connection and build the adapter."""
    edge.reporter.mask(edge.env.get("PGPASSWORD"))
    try:
        conn = conn_from_env(edge.env, url=url, database=database)
    except UsageError:
        if need_server:
            raise
        conn = ConnInfo(database="postgres")  # only pg_restore runs: it reads files and never connects
    edge.reporter.mask(conn.password)
    ctx = click.get_current_context()
    if url and conn.password and ctx.get_parameter_source("database_url") is click.core.ParameterSource.COMMANDLINE:
        edge.reporter.annotate(
            "warning",
            "the database password was passed on the command line, where other users can see it; "
            "pass the URL in DATABASE_URL or HOTFIX_DATABASE_URL, or the password in PGPASSWORD",
        )
    return PgTools(
        conn,
        base_env=edge.env,
        bindir=bindir or cfg.pg_bindir or None,
        timeout=float(cfg.timeout_seconds),
        connect_timeout=cfg.connect_timeout_seconds,
        lock_wait_timeout=cfg.lock_wait_timeout_seconds,
    )


def provenance(edge: Edge) -> service.Provenance:
    sha = edge.env.get("GITHUB_SHA", "")
    if not sha:
        root = repo_root(Path.cwd())
        if (root / ".git").exists():
            from hotfix_actions.git import GitCli

            try:
                sha = GitCli(root, env=edge.env, timeout=20).resolve("HEAD") or ""
            except HotfixError:
                sha = ""
    return service.Provenance(
        hotfix_version=__version__,
        git_sha=sha,
        now=lambda: datetime.now(UTC),
        token=lambda: secrets.token_hex(3),
    )


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_SIGNALS = {signal.SIGTERM: ExitCode.SIGTERM, signal.SIGINT: ExitCode.SIGINT, signal.SIGHUP: ExitCode.SIGTERM}


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """SIGTERM, SIGINT and SIGHUP raise ``Interrupted`` once, so the restore can clean up and say what the database
    is; later signals during that cleanup are ignored (SIGKILL is the guard process's business)."""
    fired: list[str] = []

    def handle(signum: int, frame: object) -> None:
        if fired:
            return
        name = signal.Signals(signum).name
        fired.append(name)
        raise Interrupted(name, _SIGNALS.get(signal.Signals(signum), ExitCode.SIGTERM))

    old = {sig: signal.signal(sig, handle) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)


def expected_digest(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not _SHA256.fullmatch(text):
        shown = repr(text[:70]) if text else "empty"
        raise UsageError(
            f"{shown} is not a SHA-256 digest (64 hexadecimal characters)",
            input_name="--expect-sha256",
            fix="pass the sha256 output of the backup job (db-backup action); an empty value means that digest "
            "did not reach this job",
        )
    return text.lower()


def checked_name(name: str) -> str:
    if problem := backup_name_problem(name):
        raise UsageError(f"{name[:80]!r} {problem}", input_name="BACKUP", fix="use a name shown by `hotfix db list`")
    return name
