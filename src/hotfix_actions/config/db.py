"""`db:` database backup and restore (`hotfix db ...`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig

__all__ = ["DbConfig"]


@dataclass(frozen=True)
class DbConfig(SectionConfig):
    SECTION: ClassVar[str] = "db"

    backup_dir: str = ".hotfix/db-backups"
    pre_restore_dir: str = ""  # "" = beside the other backups
    keep: int = 0  # 0 = no automatic retention after a backup
    pg_bindir: str = ""  # "" = pg_dump/pg_restore/psql from PATH
    timeout_seconds: int = 3600
    connect_timeout_seconds: int = 10
    lock_wait_timeout_seconds: int = 60
    check_sql: str = ""
    deep_verify: bool = False
    # restore into a live database (issue 14)
    sessions: str = "refuse"  # refuse | wait | terminate: what a restore does about other connected sessions
    sessions_wait_seconds: float = 60.0  # --sessions=wait: how long to wait for them to disconnect
    lock_timeout_seconds: float = 5.0  # longest wait for one lock (and so for readers queued behind it)
    block_connections: bool = True  # ALTER DATABASE ... ALLOW_CONNECTIONS false during the restore
    maintenance_db: str = "postgres"  # the database the connection block is set from
    keep_quarantine: int = 3  # failed dumps kept for diagnosis when retention runs
