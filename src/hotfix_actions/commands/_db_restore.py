"""`hotfix db restore`: verify, look at the sessions, back up what is replaced, restore in one transaction."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import click

from hotfix_actions.commands import _db as common
from hotfix_actions.commands._cluster import check_names, cluster_options, open_cluster
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.commands._duration import ANY_DURATION, POSITIVE_DURATION
from hotfix_actions.db import LiveRestore, LocalBackupStore
from hotfix_actions.decide.db_live import SessionsMode
from hotfix_actions.errors import UsageError
from hotfix_actions.ports import NullScaler, Scaler
from hotfix_actions.report import Outcome
from hotfix_actions.services import db as service
from hotfix_actions.services.db_live import LiveOptions

__all__ = ["restore_cmd"]


@hotfix_command("db restore")
@common.connection_options
@common.store_option
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
    common.checked_name(name)
    digest = common.expected_digest(expect_sha256)
    if terminate and sessions not in (None, SessionsMode.TERMINATE.value):
        raise UsageError(f"--terminate contradicts --sessions={sessions}", input_name="--terminate")
    cfg = common.config(edge)
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
    store = common.store(cfg, backup_dir)
    pre_store = (
        LocalBackupStore(Path(pre_restore_dir)) if pre_restore_dir else common.store(cfg, backup_dir, pre_restore=True)
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
        db = stack.enter_context(common.database(edge, cfg, database_url, database, pg_bindir))
        stack.enter_context(common.signals_interrupt())
        return service.restore(
            request,
            db,
            store,
            pre_store,
            scaler,
            edge.reporter,
            common.provenance(edge),
            lambda: LiveRestore(db, lock_timeout=live_opts.lock_timeout, maintenance_db=maint),
        )
