"""The PostgreSQL adapter: pg_dump, pg_restore and psql behind the Database port, and the local BackupStore.

Only this package runs PostgreSQL tools. Object storage is not implemented: it would be another BackupStore.
"""

from __future__ import annotations

from hotfix_actions.db._conn import ConnInfo, conn_from_env, conn_from_url
from hotfix_actions.db.live import LiveRestore
from hotfix_actions.db.pgtools import PgTools
from hotfix_actions.db.store import LocalBackupStore

__all__ = ["ConnInfo", "LiveRestore", "LocalBackupStore", "PgTools", "conn_from_env", "conn_from_url"]
