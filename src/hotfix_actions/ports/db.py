"""PostgreSQL: dumps, the backup store, the live database a restore runs on, and the app's scaler."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hotfix_actions.decide.db_live import Activity, LockWait, Preflight


# -- database (issue 6) --------------------------------------------------------------------------------
@dataclass(frozen=True)
class DumpContents:
    """What a full read of a custom-format dump found: its header and the rows of each table's data."""

    dumped_from: str  # server version the dump was taken from, e.g. "15.18"
    dumped_by: str  # pg_dump version, e.g. "15.18"
    rows: tuple[tuple[str, int], ...]  # (qualified table name as pg_dump writes it, row count)


class Database(Protocol):
    """One PostgreSQL database reached with pg_dump/pg_restore/psql. The password lives only in the children's
    environment (or a 0600 .pgpass); it never reaches argv, a log or an error message."""

    @property
    def name(self) -> str: ...
    def describe(self) -> str:
        """user@host:port/database, without the password."""
        ...

    def client_version(self) -> str:
        """The version of pg_dump and pg_restore, e.g. "15.18"; DatabaseError when they are missing or disagree."""
        ...

    def server_version(self) -> str:
        """The server's version, e.g. "15.18" (connects)."""
        ...

    def dump(self, target: str, *, compress: int | None = None) -> None:
        """pg_dump -Fc (at ``compress`` level, else pg_dump's default) into ``target``; DatabaseError on failure."""
        ...

    def toc_entries(self, dump: str) -> int:
        """pg_restore --list: the table of contents is readable; the number of entries."""
        ...

    def read_all(self, dump: str) -> DumpContents:
        """Read every block of the dump (what pg_restore -f /dev/null does) and count the rows of each table."""
        ...

    def count_rows(self, tables: Sequence[str], *, database: str | None = None) -> dict[str, int]: ...
    def restore(self, dump: str, *, database: str | None = None, clean: bool = True, owner: bool = True) -> None:
        """pg_restore --single-transaction (--clean --if-exists; without owner: --no-owner --no-privileges)."""
        ...

    def create_scratch(self) -> str:
        """A new empty database for a deep verify; returns its name."""
        ...

    def drop_database(self, name: str) -> None: ...
    def query_value(self, sql: str) -> str:
        """Run a read-only check and return the first column of the first row ("" when there is none)."""
        ...


@dataclass(frozen=True)
class StoredBackup:
    """One backup in a store: its name, the local dump path when readable, and its manifest (None when missing)."""

    name: str
    dump_path: str
    size: int
    manifest: dict[str, object] | None


@dataclass(frozen=True)
class QuarantinedFile:
    """A failed or partial dump moved aside: never a backup, kept a while for diagnosis."""

    name: str
    path: str
    size: int
    mtime: float  # seconds since the epoch
    reason: str


class BackupStore(Protocol):
    """Where dumps and their manifests live. A local folder today; object storage would implement the same port."""

    def describe(self) -> str: ...
    def reserve(self, name: str) -> str:
        """A fresh temporary path to write the dump of ``name`` to (on the same filesystem as the final file)."""
        ...

    def digest(self, path: str) -> tuple[int, str]:
        """fsync ``path`` and return (size in bytes, SHA-256 hex)."""
        ...

    def publish(self, temp: str, name: str, manifest: dict[str, object]) -> StoredBackup:
        """Atomically move the dump in place, then write its manifest (the manifest last: it marks a backup)."""
        ...

    def quarantine(self, temp: str, name: str, reason: str) -> str | None:
        """Move a failed or partial dump aside so nothing mistakes it for a backup; returns where it went."""
        ...

    def update_manifest(self, name: str, manifest: dict[str, object]) -> None: ...
    def get(self, name: str) -> StoredBackup | None: ...
    def list(self) -> list[StoredBackup]: ...
    def delete(self, name: str) -> None: ...
    def list_quarantine(self) -> Sequence[QuarantinedFile]: ...
    def delete_quarantined(self, name: str) -> None: ...


class PendingOperation(Protocol):
    """Something the restore session is doing; poll it (and report who it waits for) until it has finished."""

    error: str | None
    sent: int  # bytes of script sent so far

    def poll(self, timeout: float) -> bool: ...


class LiveDatabase(Protocol):
    """A restore into a database others may be using (``db.LiveRestore``): look at the other sessions, act on them,
    block new connections, and restore in one transaction that takes its locks with a timeout of its own. Our server
    sessions are named by ``token``; a guard process undoes a connection block and ends them if we die."""

    token: str

    def open(self) -> Preflight: ...
    def look(self) -> Activity: ...
    def waits(self) -> list[LockWait]: ...
    def terminate(self, pids: list[int]) -> dict[int, str | None]: ...
    def ours(self) -> list[int]: ...
    def wait_gone(self, pids: list[int], timeout: float) -> list[int]: ...
    def count_rows(self, tables: list[str]) -> dict[str, int | None]: ...
    def start_guard(self, database: str) -> None: ...
    def tell_guard(self, line: str) -> None: ...
    def block_connections(self, database: str) -> bool: ...
    def allow_connections(self, database: str) -> bool: ...
    def begin(self) -> PendingOperation: ...
    def load(self, dump: str, *, owner: bool = True) -> PendingOperation: ...
    def counts_in_transaction(self, tables: list[str]) -> dict[str, int | None]: ...
    def commit(self, timeout: float) -> bool | None: ...
    def end_restore_session(self, timeout: float = 15.0) -> list[int]: ...
    def close_restore_session(self) -> None: ...
    def release_guard(self, *, cleaned_up: bool) -> bool: ...
    def close(self) -> None: ...


class Scaler(Protocol):
    """The application that writes to the database: scaled to zero for a restore and back afterwards."""

    def describe(self) -> str: ...
    def current_replicas(self) -> int: ...
    def scale(self, replicas: int) -> None:
        """Set the replica count and wait until it holds; raises ClusterError when it does not in time."""
        ...


class NullScaler:
    """Nothing to scale: the restore runs while the application keeps running (or is stopped by hand)."""

    def describe(self) -> str:
        return "no application scaler"

    def current_replicas(self) -> int:
        return 0

    def scale(self, replicas: int) -> None:
        return None
