"""`hotfix db backup | verify | restore | list`.

The connection comes from --database-url / HOTFIX_DATABASE_URL, else DATABASE_URL, else PGHOST, PGPORT, PGUSER and
PGDATABASE; the password from the URL, PGPASSWORD or a .pgpass (PGPASSFILE). It is masked before anything is printed
and handed to the PostgreSQL tools only through a private 0600 .pgpass, never in argv.
"""

from __future__ import annotations

import click

from hotfix_actions.commands import _db as common
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.commands._db_restore import restore_cmd
from hotfix_actions.report import Outcome
from hotfix_actions.services import db as service

__all__ = ["command"]


@click.group("db")
def command() -> None:
    """Back up, verify, restore and list PostgreSQL backups (pg_dump custom format with a manifest).

    Every backup is read back in full before it is published; a restore first verifies the dump, looks at the
    sessions connected to the database, takes a verified backup of the current data, then restores in one
    transaction.
    """


@hotfix_command("db backup")
@common.connection_options
@common.store_option
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
    cfg = common.config(edge)
    store = common.store(cfg, backup_dir)
    with common.database(edge, cfg, database_url, database, pg_bindir) as db:
        request = service.BackupRequest(
            deep=cfg.deep_verify if deep is None else deep,
            keep=(cfg.keep if keep is None else keep) or None,
            keep_quarantine=cfg.keep_quarantine,
        )
        return service.backup(request, db, store, edge.reporter, common.provenance(edge))


@hotfix_command("db verify")
@common.connection_options
@common.store_option
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
    common.checked_name(name)
    cfg = common.config(edge)
    deep_mode = cfg.deep_verify if deep is None else deep
    store = common.store(cfg, backup_dir)
    with common.database(edge, cfg, database_url, database, pg_bindir, need_server=deep_mode) as db:
        return service.verify(
            service.VerifyRequest(name=name, deep=deep_mode), db, store, edge.reporter, common.provenance(edge)
        )


@hotfix_command("db list")
@common.store_option
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
    cfg = common.config(edge)
    store = common.store(cfg, backup_dir)
    request = service.ListRequest(
        keep=keep, dry_run=dry_run, keep_quarantine=cfg.keep_quarantine if keep_quarantine is None else keep_quarantine
    )
    return service.list_backups(request, store, edge.reporter)


for _sub, _name in ((backup_cmd, "backup"), (verify_cmd, "verify"), (restore_cmd, "restore"), (list_cmd, "list")):
    command.add_command(_sub, _name)
