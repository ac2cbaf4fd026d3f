"""Pure rules of `hotfix db`: backup names, manifests, version compatibility, checksums, row counts, retention.

Values in, a `Check` (with its reason and numbers) or a frozen plan out. No files, no clock, no environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hotfix_actions.decide.validate import Check
from hotfix_actions.decide.verdict import Status

__all__ = [
    "MANIFEST_FORMAT",
    "BackupKind",
    "Check",
    "Manifest",
    "RetentionEntry",
    "RetentionPlan",
    "Verification",
    "backup_name_problem",
    "check_checksum",
    "check_rows",
    "check_sql_result",
    "check_versions",
    "database_name_problem",
    "major_of",
    "make_backup_name",
    "plan_retention",
    "table_ident_problem",
]

MANIFEST_FORMAT = "hotfix-db-backup/1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_DBNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.$-]{0,62}$")
_IDENT = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"\x00]|"")+")'
_TABLE = re.compile(rf"^{_IDENT}\.{_IDENT}$")
_VERSION = re.compile(r"^\s*(\d+)(?:\.(\d+))?")
_TRUE = frozenset({"t", "true", "1", "yes", "on", "y"})


class BackupKind(StrEnum):
    MANUAL = "manual"
    PRE_RESTORE = "pre-restore"


def backup_name_problem(name: str) -> str | None:
    """Why ``name`` may not name a backup (it becomes a file name), or None."""
    if not _NAME.fullmatch(name):
        return (
            "must be 1-128 letters, digits, '_', '.' and '-', starting with a letter or digit "
            "(e.g. shop-20240501T120000Z)"
        )
    if ".." in name or name.endswith((".dump", ".json", ".partial")):
        return (
            "may not contain '..' or end in .dump, .json or .partial: name the backup, not its file "
            "(e.g. shop-20240501T120000Z)"
        )
    return None


def database_name_problem(name: str) -> str | None:
    """A database name that pg tools cannot mistake for a connection string or an option."""
    if not _DBNAME.fullmatch(name):
        return "must be 1-63 letters, digits, '_', '.', '$' and '-', not starting with '-', '.' or '$' (e.g. shop)"
    return None


def table_ident_problem(ident: str) -> str | None:
    """A schema-qualified table name exactly as pg_dump writes it (safe to put into SQL), or why not."""
    return None if _TABLE.match(ident) else "is not a schema-qualified SQL identifier"


def make_backup_name(database: str, when: datetime, kind: BackupKind, token: str) -> str:
    """``<database>-<UTC time>[-pre-restore]-<token>``: sortable, unique, safe as a file name."""
    safe_db = re.sub(r"[^A-Za-z0-9_-]", "_", database)[:48] or "db"
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    middle = "-pre-restore" if kind is BackupKind.PRE_RESTORE else ""
    return f"{safe_db}-{stamp}{middle}-{token}"


def major_of(version: str) -> int | None:
    """15 for "15.18 (Debian 15.18-0+deb12u1)"; 9 for "9.6.24" (pre-10 majors collapse to their first number)."""
    m = _VERSION.match(version)
    return int(m.group(1)) if m else None


def check_versions(
    operation: str,
    *,
    client: str,
    server: str | None = None,
    dumped_from: str | None = None,
    dumped_by: str | None = None,
) -> Check:
    """Can these client tools do ``operation`` (backup, verify, restore) here? Checked before any destructive step.

    - pg_dump refuses a server of a newer major, and its output may not load into a newer one: client >= server.
    - pg_restore cannot read an archive written by a newer pg_dump: client >= the dump's pg_dump.
    - restore puts data back into the same major it came from: a cross-major restore is an upgrade, not a rollback,
      and the client must match the server exactly so the SQL it emits is what that server speaks.
    """
    cmaj = major_of(client)
    if cmaj is None:
        return Check("versions", Status.ERROR, f"cannot read the client version {client!r}")
    smaj = major_of(server) if server is not None else None
    if server is not None and smaj is None:
        return Check("versions", Status.ERROR, f"cannot read the server version {server!r}")
    fix = f"install the PostgreSQL {smaj} client tools (Debian: postgresql-client-{smaj}) or set db.pg_bindir"
    if smaj is not None and cmaj < smaj:
        return Check(
            "versions",
            Status.ERROR,
            f"client tools {client} are older than the server {server} (major {cmaj} < {smaj}); {fix}",
        )
    by_major = major_of(dumped_by) if dumped_by else None
    if by_major is not None and cmaj < by_major:
        return Check(
            "versions",
            Status.ERROR,
            f"pg_restore {client} cannot read a dump written by pg_dump {dumped_by} (major {cmaj} < {by_major}); "
            f"install the PostgreSQL {by_major} client tools",
        )
    if operation == "restore":
        from_major = major_of(dumped_from) if dumped_from else None
        if smaj is not None and from_major is not None and from_major != smaj:
            return Check(
                "versions",
                Status.ERROR,
                f"the dump comes from server {dumped_from} but the target is {server} (major {from_major} != {smaj}); "
                "a cross-major restore is an upgrade, not a rollback: restore into a server of the dump's major",
            )
        if smaj is not None and cmaj != smaj:
            return Check(
                "versions", Status.ERROR, f"client tools {client} do not match the server {server} for a restore; {fix}"
            )
    detail = (
        f"client {client}" + (f", server {server}" if server else "") + (f", dump by {dumped_by}" if dumped_by else "")
    )
    return Check("versions", Status.PASS, f"compatible for {operation}: {detail}")


def check_checksum(expected_size: int, expected_sha256: str, size: int, sha256: str) -> Check:
    if size == 0:
        return Check("checksum", Status.FAIL, "the dump is empty (0 bytes)")
    if size != expected_size:
        return Check("checksum", Status.FAIL, f"size {size} bytes != {expected_size} in the manifest")
    if sha256 != expected_sha256:
        return Check("checksum", Status.FAIL, f"SHA-256 {sha256[:16]}... != {expected_sha256[:16]}... in the manifest")
    return Check("checksum", Status.PASS, f"SHA-256 {sha256[:16]}... and {size} bytes match the manifest")


def check_rows(name: str, expected: Mapping[str, int], actual: Mapping[str, int], *, against: str) -> Check:
    """Per-table row counts: every table of ``expected`` has exactly its count in ``actual``."""
    diffs = []
    for table in sorted(expected):
        got = actual.get(table)
        if got is None:
            diffs.append(f"{table} missing")
        elif got != expected[table]:
            diffs.append(f"{table} {got} != {expected[table]}")
    total = sum(expected.values())
    if diffs:
        shown = "; ".join(diffs[:5]) + (f"; ... {len(diffs) - 5} more" if len(diffs) > 5 else "")
        return Check(name, Status.FAIL, f"{len(diffs)} of {len(expected)} tables differ from {against}: {shown}")
    return Check(name, Status.PASS, f"{len(expected)} tables, {total} rows match {against}")


def check_sql_result(value: str) -> Check:
    shown = value if len(value) <= 60 else value[:57] + "..."
    if value.strip().lower() in _TRUE:
        return Check("sql check", Status.PASS, f"returned {shown!r}")
    return Check("sql check", Status.FAIL, f"returned {shown!r}; expected true")


@dataclass(frozen=True)
class Verification:
    ok: bool
    at: str
    deep: bool
    checks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "at": self.at, "deep": self.deep, "checks": list(self.checks)}


@dataclass(frozen=True)
class Manifest:
    """What we know of one backup; written beside the dump as JSON."""

    name: str
    file: str
    database: str
    server_version: str
    pg_dump_version: str
    created_at: str  # ISO 8601 UTC
    hotfix_version: str
    git_sha: str
    size: int
    sha256: str
    kind: BackupKind = BackupKind.MANUAL
    toc_entries: int = 0
    tables: tuple[tuple[str, int], ...] = ()
    host: str = ""
    verification: Verification | None = None

    @property
    def rows(self) -> dict[str, int]:
        return dict(self.tables)

    @property
    def verified(self) -> bool:
        return self.verification is not None and self.verification.ok

    def to_dict(self) -> dict[str, object]:
        return {
            "format": MANIFEST_FORMAT,
            "name": self.name,
            "file": self.file,
            "kind": self.kind.value,
            "database": self.database,
            "host": self.host,
            "server_version": self.server_version,
            "pg_dump_version": self.pg_dump_version,
            "created_at": self.created_at,
            "hotfix_version": self.hotfix_version,
            "git_sha": self.git_sha,
            "size": self.size,
            "sha256": self.sha256,
            "toc_entries": self.toc_entries,
            "tables": dict(self.tables),
            "verification": self.verification.to_dict() if self.verification else None,
        }

    @classmethod
    def parse(cls, data: Mapping[str, object]) -> Manifest | str:
        """A Manifest, or the reason this mapping is not one."""
        if data.get("format") != MANIFEST_FORMAT:
            return f"format is {data.get('format')!r}, expected {MANIFEST_FORMAT!r}"
        text = {}
        for key in ("name", "file", "database", "server_version", "pg_dump_version", "created_at", "sha256"):
            value = data.get(key)
            if not isinstance(value, str) or not value:
                return f"{key} is missing or not a string"
            text[key] = value
        size = data.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return "size is missing or not a non-negative integer"
        if not re.fullmatch(r"[0-9a-f]{64}", text["sha256"]):
            return "sha256 is not 64 lower-case hex digits"
        tables = data.get("tables") or {}
        if not isinstance(tables, Mapping) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) for k, v in tables.items()
        ):
            return "tables is not a mapping of table name to row count"
        kind_text = data.get("kind", BackupKind.MANUAL.value)
        try:
            kind = BackupKind(str(kind_text))
        except ValueError:
            return f"kind {kind_text!r} is unknown"
        verification = None
        raw = data.get("verification")
        if isinstance(raw, Mapping):
            checks = raw.get("checks")
            verification = Verification(
                ok=raw.get("ok") is True,
                at=str(raw.get("at", "")),
                deep=raw.get("deep") is True,
                checks=tuple(str(c) for c in checks) if isinstance(checks, list) else (),
            )
        toc = data.get("toc_entries", 0)
        return cls(
            name=text["name"],
            file=text["file"],
            database=text["database"],
            server_version=text["server_version"],
            pg_dump_version=text["pg_dump_version"],
            created_at=text["created_at"],
            hotfix_version=str(data.get("hotfix_version", "")),
            git_sha=str(data.get("git_sha", "")),
            size=size,
            sha256=text["sha256"],
            kind=kind,
            toc_entries=toc if isinstance(toc, int) else 0,
            tables=tuple(sorted((str(k), int(v)) for k, v in tables.items())),
            host=str(data.get("host", "")),
            verification=verification,
        )


@dataclass(frozen=True)
class RetentionEntry:
    name: str
    created_at: str | None  # None: no readable manifest
    verified: bool


@dataclass(frozen=True)
class RetentionPlan:
    keep: tuple[str, ...]
    delete: tuple[str, ...]
    reasons: tuple[str, ...]


def plan_retention(entries: Sequence[RetentionEntry], keep: int) -> RetentionPlan:
    """Keep the newest ``keep`` backups, and always the newest verified one; never touch one without a manifest."""
    if keep < 1:
        raise ValueError("keep must be at least 1")
    valid = sorted((e for e in entries if e.created_at), key=lambda e: (e.created_at or "", e.name), reverse=True)
    kept = [e.name for e in valid[:keep]]
    reasons = [f"keeping the newest {min(keep, len(valid))} of {len(valid)} backups"]
    newest_verified = next((e for e in valid if e.verified), None)
    if newest_verified is None:
        reasons.append("no verified backup: nothing beyond the newest to keep")
    elif newest_verified.name not in kept:
        kept.append(newest_verified.name)
        reasons.append(f"also keeping {newest_verified.name}: the newest verified copy")
    orphans = [e.name for e in entries if not e.created_at]
    if orphans:
        reasons.append(f"not touching {len(orphans)} without a readable manifest: {', '.join(sorted(orphans)[:5])}")
    delete = tuple(e.name for e in valid if e.name not in kept)
    if delete:
        reasons.append(f"deleting {len(delete)}: {', '.join(delete[:5])}" + (" ..." if len(delete) > 5 else ""))
    return RetentionPlan(keep=tuple(kept), delete=delete, reasons=tuple(reasons))
