"""What the `hotfix db` commands share: the step table, taking a verified backup, checking a dump."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from hotfix_actions.decide.db import (
    BackupKind,
    Check,
    Manifest,
    Verification,
    check_checksum,
    check_rows,
    make_backup_name,
)
from hotfix_actions.decide.verdict import Status, Verdict, worst_status
from hotfix_actions.errors import DatabaseError, HotfixError, UsageError
from hotfix_actions.ports import BackupStore, Database, StoredBackup
from hotfix_actions.report import Outcome, Reporter, Row, problem_reasons

__all__ = [
    "DumpedFile",
    "Provenance",
    "Steps",
    "check_dump",
    "deep_check",
    "dump_file",
    "get_entry",
    "manifest_of",
    "publish_file",
    "record_verification",
    "take_backup",
    "total",
]


@dataclass(frozen=True)
class Provenance:
    """What a manifest records about who made a backup, and the clock and randomness the service may use."""

    hotfix_version: str
    git_sha: str
    now: Callable[[], datetime]
    token: Callable[[], str]

    def stamp(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Steps:
    """The check table of one command, printed one line per step as it happens."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.rows: list[Row] = []

    def add(self, check: Check) -> Check:
        self.rows.append(Row(check.name, check.status, check.reason))
        self.reporter.step(f"{check.name}: {check.status.value} - {check.reason}")
        return check

    def say(self, text: str) -> None:
        self.reporter.info(text)

    def outcome(
        self, command: str, *, passed: str, failed: str, outputs: Mapping[str, str], markdown: str = ""
    ) -> Outcome:
        verdict = worst_status(r.status for r in self.rows)
        bad = problem_reasons(self.rows)
        reasons = [passed, *bad] if verdict is Verdict.PASS else [failed, *bad]
        self.reporter.step(reasons[0])
        return Outcome(
            command=command,
            verdict=verdict,
            reasons=reasons,
            outputs=dict(outputs),
            rows=self.rows,
            title=command,
            markdown=markdown,
        )


def total(rows: Mapping[str, int]) -> str:
    return f"{len(rows)} tables, {sum(rows.values())} rows"


def manifest_of(entry: StoredBackup) -> Manifest | str:
    if entry.manifest is None:
        return "no readable manifest beside the dump"
    return Manifest.parse(entry.manifest)


def get_entry(store: BackupStore, name: str) -> StoredBackup:
    entry = store.get(name)
    if entry is None:
        raise UsageError(
            f"no backup named {name!r} in {store.describe()}", input_name="backup", fix="see `hotfix db list`"
        )
    return entry


@dataclass(frozen=True)
class DumpedFile:
    """A dump written and fsynced but not yet read back or published (it is not a backup yet)."""

    name: str
    temp: str
    size: int
    sha256: str
    kind: BackupKind


def dump_file(
    db: Database, store: BackupStore, kind: BackupKind, prov: Provenance, steps: Steps, *, compress: int | None = None
) -> DumpedFile:
    """pg_dump into a reserved temporary file and fsync it; on any failure quarantine it and raise."""
    name = make_backup_name(db.name, prov.now(), kind, prov.token())
    temp = store.reserve(name)
    steps.say(f"pg_dump -Fc of {db.describe()} into {store.describe()} as {name}")
    try:
        db.dump(temp, compress=compress)
        size, sha = store.digest(temp)
        if size == 0:
            raise DatabaseError("pg_dump exited 0 but wrote an empty file")
    except HotfixError as exc:
        raise _quarantined(store, temp, name, kind, db.name, exc) from exc
    except BaseException:  # interrupted (a signal): nothing half-written may look like a backup
        store.quarantine(temp, name, "interrupted")
        raise
    return DumpedFile(name=name, temp=temp, size=size, sha256=sha, kind=kind)


def _quarantined(
    store: BackupStore, temp: str, name: str, kind: BackupKind, database: str, exc: HotfixError
) -> DatabaseError:
    where = store.quarantine(temp, name, str(exc))
    aside = f"; the partial file was moved to {where}" if where else "; no partial file was left"
    return DatabaseError(f"{kind.value} backup of {database} failed, nothing was published{aside}: {exc.message}")


def publish_file(
    db: Database, store: BackupStore, dumped: DumpedFile, prov: Provenance, versions: tuple[str, str]
) -> Manifest:
    """Read the dump back in full (table of contents, every block, row counts), then publish it with its manifest;
    on any failure quarantine it and raise. Safe to run in a thread: it only reads the file and writes the store."""
    client, server = versions
    try:
        toc = db.toc_entries(dumped.temp)
        contents = db.read_all(dumped.temp)
    except HotfixError as exc:
        raise _quarantined(store, dumped.temp, dumped.name, dumped.kind, db.name, exc) from exc
    except BaseException:
        store.quarantine(dumped.temp, dumped.name, "interrupted")
        raise
    rows = dict(contents.rows)
    manifest = Manifest(
        name=dumped.name,
        file=f"{dumped.name}.dump",
        database=db.name,
        host=db.describe(),
        server_version=contents.dumped_from or server,
        pg_dump_version=contents.dumped_by or client,
        created_at=prov.stamp(),
        hotfix_version=prov.hotfix_version,
        git_sha=prov.git_sha,
        size=dumped.size,
        sha256=dumped.sha256,
        kind=dumped.kind,
        toc_entries=toc,
        tables=tuple(sorted(rows.items())),
        verification=Verification(
            ok=True,
            at=prov.stamp(),
            deep=False,
            checks=(
                f"checksum recorded: {dumped.size} bytes",
                f"table of contents: {toc} entries",
                f"full read: {total(rows)}",
            ),
        ),
    )
    store.publish(dumped.temp, dumped.name, manifest.to_dict())
    return manifest


def take_backup(
    db: Database,
    store: BackupStore,
    kind: BackupKind,
    prov: Provenance,
    steps: Steps,
    versions: tuple[str, str],
    *,
    compress: int | None = None,
) -> Manifest:
    """Dump, fsync, read back in full, then publish dump and manifest; on any failure quarantine and raise."""
    return publish_file(db, store, dump_file(db, store, kind, prov, steps, compress=compress), prov, versions)


def deep_check(db: Database, dump: str, manifest: Manifest, steps: Steps) -> bool:
    scratch = db.create_scratch()
    try:
        db.restore(dump, database=scratch, clean=False, owner=False)
        counts = db.count_rows(sorted(manifest.rows), database=scratch)
        check = check_rows("deep restore", manifest.rows, counts, against=f"the manifest (scratch database {scratch})")
    except DatabaseError as exc:
        check = Check("deep restore", Status.FAIL, f"restore into scratch database {scratch} failed: {exc.message}")
    finally:
        try:
            db.drop_database(scratch)
        except DatabaseError as exc:
            steps.add(Check("scratch cleanup", Status.WARN, f"could not drop {scratch}: {exc.message}"))
    return steps.add(check).status is Status.PASS


def check_dump(
    db: Database,
    store: BackupStore,
    entry: StoredBackup,
    manifest: Manifest,
    steps: Steps,
    deep: bool,
    *,
    expect_sha256: str | None = None,
) -> bool:
    """Checksum (and the digest the backup job reported), table of contents, a full read with row counts, and a
    scratch restore when deep."""
    size, sha = store.digest(entry.dump_path)
    if steps.add(check_checksum(manifest.size, manifest.sha256, size, sha)).status is not Status.PASS:
        return False
    if expect_sha256 is not None:
        if sha != expect_sha256:
            steps.add(
                Check(
                    "expected digest",
                    Status.FAIL,
                    f"SHA-256 {sha[:16]}... of the dump != {expect_sha256[:16]}... reported by the backup job "
                    "(--expect-sha256): the file was replaced or is not the one that job made",
                )
            )
            return False
        steps.add(Check("expected digest", Status.PASS, f"SHA-256 {sha[:16]}... equals the digest from the backup job"))
    try:
        toc = db.toc_entries(entry.dump_path)
    except DatabaseError as exc:
        steps.add(Check("table of contents", Status.FAIL, f"pg_restore --list cannot read it: {exc.message}"))
        return False
    steps.add(Check("table of contents", Status.PASS, f"{toc} entries readable"))
    try:
        contents = db.read_all(entry.dump_path)
    except DatabaseError as exc:
        steps.add(Check("full read", Status.FAIL, f"pg_restore cannot read every block: {exc.message}"))
        return False
    if steps.add(check_rows("full read", manifest.rows, dict(contents.rows), against="the manifest")).status is not (
        Status.PASS
    ):
        return False
    return deep_check(db, entry.dump_path, manifest, steps) if deep else True


def record_verification(
    store: BackupStore, manifest: Manifest, ok: bool, deep: bool, steps: Steps, prov: Provenance
) -> None:
    checks = tuple(f"{r.check}: {r.status.value} - {r.reason}" for r in steps.rows)
    done = dataclasses.replace(manifest, verification=Verification(ok=ok, at=prov.stamp(), deep=deep, checks=checks))
    try:
        store.update_manifest(manifest.name, done.to_dict())
    except HotfixError as exc:
        steps.add(Check("record", Status.WARN, f"could not record the verification in the manifest: {exc.message}"))
