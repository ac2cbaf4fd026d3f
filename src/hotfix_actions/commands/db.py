"""`hotfix db backup | verify | restore | list`.

The connection comes from --database-url / HOTFIX_DATABASE_URL, else DATABASE_URL, else PGHOST, PGPORT, PGUSER and
PGDATABASE; the password from the URL, PGPASSWORD or a .pgpass (PGPASSFILE). It is masked before anything is printed
and handed to the PostgreSQL tools only through a private 0600 .pgpass, never in argv.
"""

from __future__ import annotations

import re
import secrets
import signal
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from hotfix_actions import __version__
from hotfix_actions.commands._cluster import check_names, cluster_options, open_cluster
from hotfix_actions.commands._common import Edge, hotfix_command, repo_root
from hotfix_actions.commands._duration import ANY_DURATION, POSITIVE_DURATION
from hotfix_actions.config.db import DbConfig
from hotfix_actions.db import ConnInfo, LiveRestore, LocalBackupStore, PgTools, conn_from_env
from hotfix_actions.decide.db import backup_name_problem
from hotfix_actions.decide.db_live import SessionsMode
from hotfix_actions.errors import ExitCode, HotfixError, Interrupted, UsageError
from hotfix_actions.ports import NullScaler, Scaler
from hotfix_actions.report import Outcome
from hotfix_actions.services import db as service
from hotfix_actions.services.db_live import LiveOptions

__all__ = ["command"]


@click.group("db")
def command() -> None:
    """Back up, verify, restore and list PostgreSQL backups (pg_dump custom format with a manifest).

    Every backup is read back in full before it is published; a restore first verifies the dump and takes a
    verified backup of the current database, then restores in one transaction.
    """


def _connection_options(fn: Callable[..., Any]) -> Callable[..., Any]:
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


def _store_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--backup-dir",
        envvar="HOTFIX_DB_BACKUP_DIR",
        default=None,
        type=click.Path(file_okay=False),
        help="Folder of dumps and manifests (default: db.backup_dir in .hotfix.yml). Env: HOTFIX_DB_BACKUP_DIR.",
    )(fn)


def _config(edge: Edge) -> DbConfig:
    return edge.config(repo_root(Path.cwd())).section(DbConfig)


def _store(cfg: DbConfig, backup_dir: str | None, *, pre_restore: bool = False) -> LocalBackupStore:
    folder = backup_dir or cfg.backup_dir
    if pre_restore and cfg.pre_restore_dir:
        folder = cfg.pre_restore_dir
    return LocalBackupStore(Path(folder).expanduser())


def _database(
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


def _provenance(edge: Edge) -> service.Provenance:
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
def _signals_interrupt() -> Iterator[None]:
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


def _expected_digest(value: str | None) -> str | None:
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


def _checked_name(name: str) -> str:
    if problem := backup_name_problem(name):
        raise UsageError(f"{name[:80]!r} {problem}", input_name="BACKUP", fix="use a name shown by `hotfix db list`")
    return name


@hotfix_command("db backup")
@_connection_options
@_store_option
@click.option(
    "--deep",
    is_flag=True,
    default=None,
    envvar="HOTFIX_DB_DEEP",
    help="Also restore into a scratch database and compare row counts (db.deep_verify). Env: HOTFIX_DB_DEEP.",
)
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=None,
    envvar="HOTFIX_DB_KEEP",
    help="Then keep the newest N and the newest verified (0: all; db.keep). Env: HOTFIX_DB_KEEP.",
)
def backup_cmd(
    *,
    edge: Edge,
    database_url: str | None,
    database: str | None,
    pg_bindir: str | None,
    backup_dir: str | None,
    deep: bool | None,
    keep: int | None,
) -> Outcome:
    """pg_dump -Fc into the backup folder; read it back in full; publish it with a manifest (SHA-256, size, rows)."""
    cfg = _config(edge)
    store = _store(cfg, backup_dir)
    with _database(edge, cfg, database_url, database, pg_bindir) as db:
        request = service.BackupRequest(
            deep=cfg.deep_verify if deep is None else deep,
            keep=(cfg.keep if keep is None else keep) or None,
            keep_quarantine=cfg.keep_quarantine,
        )
        return service.backup(request, db, store, edge.reporter, _provenance(edge))


@hotfix_command("db verify")
@_connection_options
@_store_option
@click.argument("name", metavar="BACKUP")
@click.option("--deep", is_flag=True, default=None, help="Restore into a scratch database and compare row counts.")
def verify_cmd(
    *,
    edge: Edge,
    name: str,
    database_url: str | None,
    database: str | None,
    pg_bindir: str | None,
    backup_dir: str | None,
    deep: bool | None,
) -> Outcome:
    """Checksum against the manifest, pg_restore --list, and a full read with per-table row counts."""
    _checked_name(name)
    cfg = _config(edge)
    deep_mode = cfg.deep_verify if deep is None else deep
    store = _store(cfg, backup_dir)
    with _database(edge, cfg, database_url, database, pg_bindir, need_server=deep_mode) as db:
        return service.verify(
            service.VerifyRequest(name=name, deep=deep_mode), db, store, edge.reporter, _provenance(edge)
        )


@hotfix_command("db restore")
@_connection_options
@_store_option
@click.argument("name", metavar="BACKUP")
@click.option(
    "--check-sql",
    envvar="HOTFIX_DB_CHECK_SQL",
    default=None,
    help="Read-only query run afterwards; its first value must be true (db.check_sql). Env: HOTFIX_DB_CHECK_SQL.",
)
@click.option("--deep", is_flag=True, default=None, help="Also verify the dump in a scratch database first.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Verify the dump, check versions, show the sessions and what would be done; touch nothing.",
)
@click.option(
    "--pre-restore-dir",
    envvar="HOTFIX_DB_PRE_RESTORE_DIR",
    default=None,
    type=click.Path(file_okay=False),
    help="Folder for the backup of the current data, best on another disk (db.pre_restore_dir; default: the backup "
    "folder). Env: HOTFIX_DB_PRE_RESTORE_DIR.",
)
@click.option("--allow-other-database", is_flag=True, help="Restore a dump taken from a differently named database.")
@click.option(
    "--expect-sha256",
    default=None,
    metavar="HEX",
    help="Refuse the dump unless its SHA-256 is this digest, e.g. the db-backup step's sha256 output passed through "
    "job outputs (not through the artifact that carries the dump).",
)
@click.option(
    "--sessions",
    type=click.Choice([m.value for m in SessionsMode]),
    envvar="HOTFIX_DB_SESSIONS",
    default=None,
    help="Other sessions connected to the database: refuse (default: touch nothing and name them), wait (up to "
    "--sessions-wait for them to disconnect, then refuse) or terminate (pg_terminate_backend, recorded). "
    "db.sessions. Env: HOTFIX_DB_SESSIONS.",
)
@click.option("--terminate", is_flag=True, help="Same as --sessions=terminate.")
@click.option(
    "--sessions-wait",
    type=ANY_DURATION,
    envvar="HOTFIX_DB_SESSIONS_WAIT",
    default=None,
    help="With --sessions=wait: how long to wait, e.g. 60 or 2m (db.sessions_wait_seconds, default 60s). "
    "Env: HOTFIX_DB_SESSIONS_WAIT.",
)
@click.option(
    "--lock-timeout",
    type=POSITIVE_DURATION,
    envvar="HOTFIX_DB_LOCK_TIMEOUT",
    default=None,
    help="Longest wait for any one lock, and so the longest an application query waits queued behind the restore "
    "(db.lock_timeout_seconds, default 5s). Env: HOTFIX_DB_LOCK_TIMEOUT.",
)
@click.option(
    "--block-connections/--no-block-connections",
    envvar="HOTFIX_DB_BLOCK_CONNECTIONS",
    default=None,
    help="Refuse new connections to the database while restoring (ALTER DATABASE ... ALLOW_CONNECTIONS false, "
    "allowed again on every path; db.block_connections, default on). Env: HOTFIX_DB_BLOCK_CONNECTIONS.",
)
@click.option(
    "--maintenance-db",
    envvar="HOTFIX_DB_MAINTENANCE_DB",
    default=None,
    help="Database the connection block is set from (db.maintenance_db, default postgres). "
    "Env: HOTFIX_DB_MAINTENANCE_DB.",
)
@click.option(
    "--scale-deployment",
    envvar="HOTFIX_DB_SCALE_DEPLOYMENT",
    default=None,
    help="Scale this Deployment to zero during the restore and back afterwards (cluster options below). "
    "Env: HOTFIX_DB_SCALE_DEPLOYMENT.",
)
@cluster_options
def restore_cmd(
    *,
    edge: Edge,
    name: str,
    database_url: str | None,
    database: str | None,
    pg_bindir: str | None,
    backup_dir: str | None,
    check_sql: str | None,
    deep: bool | None,
    dry_run: bool,
    pre_restore_dir: str | None,
    allow_other_database: bool,
    expect_sha256: str | None,
    sessions: str | None,
    terminate: bool,
    sessions_wait: float | None,
    lock_timeout: float | None,
    block_connections: bool | None,
    maintenance_db: str | None,
    scale_deployment: str | None,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    context: str | None,
    namespace: str | None,
) -> Outcome:
    """Restore BACKUP into the database: verify it, look at the connected sessions, back up the current data, then
    restore in one transaction that never waits silently for a lock."""
    _checked_name(name)
    digest = _expected_digest(expect_sha256)
    if terminate and sessions not in (None, SessionsMode.TERMINATE.value):
        raise UsageError(f"--terminate contradicts --sessions={sessions}", input_name="--terminate")
    cfg = _config(edge)
    mode_text = SessionsMode.TERMINATE.value if terminate else (sessions or cfg.sessions)
    try:
        mode = SessionsMode(mode_text)
    except ValueError:
        raise UsageError(f"{mode_text!r} is not refuse, wait or terminate", input_name="db.sessions") from None
    live_opts = LiveOptions(
        mode=mode,
        wait_seconds=cfg.sessions_wait_seconds if sessions_wait is None else sessions_wait,
        lock_timeout=cfg.lock_timeout_seconds if lock_timeout is None else lock_timeout,
        block_connections=cfg.block_connections if block_connections is None else block_connections,
        restore_timeout=float(cfg.timeout_seconds),
    )
    maint = maintenance_db or cfg.maintenance_db
    sql = cfg.check_sql if check_sql is None else check_sql
    store = _store(cfg, backup_dir)
    pre_store = (
        LocalBackupStore(Path(pre_restore_dir)) if pre_restore_dir else _store(cfg, backup_dir, pre_restore=True)
    )
    request = service.RestoreRequest(
        name=name,
        check_sql=sql.strip() or None,
        dry_run=dry_run,
        deep=cfg.deep_verify if deep is None else deep,
        allow_other_database=allow_other_database,
        expect_sha256=digest,
        live=live_opts,
    )
    with ExitStack() as stack:
        scaler: Scaler = NullScaler()
        if scale_deployment:
            from hotfix_actions.config.cluster import ClusterConfig
            from hotfix_actions.kube.scaler import KubeScaler

            check_names(deployment=scale_deployment, namespace=namespace)
            cluster = stack.enter_context(
                open_cluster(
                    edge,
                    edge.config().section(ClusterConfig),
                    kubeconfig=kubeconfig,
                    kubeconfig_data=kubeconfig_data,
                    context=context,
                    namespace=namespace,
                )
            )
            scaler = KubeScaler(cluster, cluster.namespace, scale_deployment)
        db = stack.enter_context(_database(edge, cfg, database_url, database, pg_bindir))
        stack.enter_context(_signals_interrupt())
        return service.restore(
            request,
            db,
            store,
            pre_store,
            scaler,
            edge.reporter,
            _provenance(edge),
            lambda: LiveRestore(db, lock_timeout=live_opts.lock_timeout, maintenance_db=maint),
        )


@hotfix_command("db list")
@_store_option
@click.option(
    "--keep", type=click.IntRange(min=1), default=None, help="Delete all but the newest N (and the newest verified)."
)
@click.option(
    "--keep-quarantine",
    type=click.IntRange(min=0),
    default=None,
    help="With --keep: failed dumps in quarantine/ to keep, newest first (db.keep_quarantine, default 3).",
)
@click.option("--dry-run", is_flag=True, help="With --keep: say what would be deleted.")
def list_cmd(
    *, edge: Edge, backup_dir: str | None, keep: int | None, keep_quarantine: int | None, dry_run: bool
) -> Outcome:
    """Backups with their manifests, newest first; failed dumps in quarantine/ listed apart."""
    cfg = _config(edge)
    store = _store(cfg, backup_dir)
    request = service.ListRequest(
        keep=keep, dry_run=dry_run, keep_quarantine=cfg.keep_quarantine if keep_quarantine is None else keep_quarantine
    )
    return service.list_backups(request, store, edge.reporter)


for _sub, _name in ((backup_cmd, "backup"), (verify_cmd, "verify"), (restore_cmd, "restore"), (list_cmd, "list")):
    command.add_command(_sub, _name)
