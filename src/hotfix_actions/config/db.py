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
