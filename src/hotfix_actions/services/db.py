"""`hotfix db backup | verify | restore | list`: a verified backup before every change, a restore that cannot lose data.

backup   pg_dump -Fc to a temporary file, fsync, full read, then publish (atomic rename) with a manifest; a failed or
         empty dump is quarantined and never published.
verify   checksum against the manifest, pg_restore --list, a full read with per-table row counts; --deep restores into
         a scratch database and counts again.
restore  refuses an unverified or mismatching dump before touching anything; takes and verifies a pre-restore backup;
         scales the application to zero and back; pg_restore --single-transaction --clean --if-exists; then checks.
list     newest first, with manifests; --keep N never deletes the newest verified copy.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from hotfix_actions.decide.db import (
    BackupKind,
    Check,
    Manifest,
    RetentionEntry,
    Verification,
    check_checksum,
    check_rows,
    check_sql_result,
    check_versions,
    make_backup_name,
    plan_retention,
)
from hotfix_actions.decide.verdict import Status, Verdict, worst_status
from hotfix_actions.errors import DatabaseError, HotfixError, UsageError
from hotfix_actions.ports import BackupStore, Database, Scaler, StoredBackup
from hotfix_actions.report import Outcome, Reporter, Row, problem_reasons

__all__ = [
    "BackupRequest",
    "ListRequest",
    "Provenance",
    "RestoreRequest",
    "VerifyRequest",
    "backup",
    "list_backups",
    "restore",
    "verify",
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


@dataclass(frozen=True)
class BackupRequest:
    deep: bool = False
    keep: int | None = None


@dataclass(frozen=True)
class VerifyRequest:
    name: str
    deep: bool = False


@dataclass(frozen=True)
class RestoreRequest:
    name: str
    check_sql: str | None = None
    dry_run: bool = False
    deep: bool = False
    allow_other_database: bool = False


@dataclass(frozen=True)
class ListRequest:
    keep: int | None = None
    dry_run: bool = False


class _Steps:
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

    def outcome(self, command: str, *, passed: str, failed: str, outputs: Mapping[str, str]) -> Outcome:
        verdict = worst_status(r.status for r in self.rows)
        bad = problem_reasons(self.rows)
        reasons = [passed, *bad] if verdict is Verdict.PASS else [failed, *bad]
        self.reporter.step(reasons[0])
        return Outcome(
            command=command, verdict=verdict, reasons=reasons, outputs=dict(outputs), rows=self.rows, title=command
        )


def _total(rows: Mapping[str, int]) -> str:
    return f"{len(rows)} tables, {sum(rows.values())} rows"


def _manifest_of(entry: StoredBackup) -> Manifest | str:
    if entry.manifest is None:
        return "no readable manifest beside the dump"
    return Manifest.parse(entry.manifest)


def _get(store: BackupStore, name: str) -> StoredBackup:
    entry = store.get(name)
    if entry is None:
        raise UsageError(
            f"no backup named {name!r} in {store.describe()}", input_name="backup", fix="see `hotfix db list`"
        )
    return entry


def _take_backup(
    db: Database, store: BackupStore, kind: BackupKind, prov: Provenance, steps: _Steps, versions: tuple[str, str]
) -> Manifest:
    """Dump, fsync, read back in full, then publish dump and manifest; on any failure quarantine and raise."""
    client, server = versions
    name = make_backup_name(db.name, prov.now(), kind, prov.token())
    temp = store.reserve(name)
    steps.say(f"pg_dump -Fc of {db.describe()} into {store.describe()} as {name}")
    try:
        db.dump(temp)
        size, sha = store.digest(temp)
        if size == 0:
            raise DatabaseError("pg_dump exited 0 but wrote an empty file")
        toc = db.toc_entries(temp)
        contents = db.read_all(temp)
    except HotfixError as exc:
        where = store.quarantine(temp, name, str(exc))
        aside = f"; the partial file was moved to {where}" if where else "; no partial file was left"
        raise DatabaseError(
            f"{kind.value} backup of {db.name} failed, nothing was published{aside}: {exc.message}"
        ) from exc
    rows = dict(contents.rows)
    manifest = Manifest(
        name=name,
        file=f"{name}.dump",
        database=db.name,
        host=db.describe(),
        server_version=contents.dumped_from or server,
        pg_dump_version=contents.dumped_by or client,
        created_at=prov.stamp(),
        hotfix_version=prov.hotfix_version,
        git_sha=prov.git_sha,
        size=size,
        sha256=sha,
        kind=kind,
        toc_entries=toc,
        tables=tuple(sorted(rows.items())),
        verification=Verification(
            ok=True,
            at=prov.stamp(),
            deep=False,
            checks=(
                f"checksum recorded: {size} bytes",
                f"table of contents: {toc} entries",
                f"full read: {_total(rows)}",
            ),
        ),
    )
    store.publish(temp, name, manifest.to_dict())
    return manifest


def _deep(db: Database, dump: str, manifest: Manifest, steps: _Steps) -> bool:
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


def _check_dump(
    db: Database, store: BackupStore, entry: StoredBackup, manifest: Manifest, steps: _Steps, deep: bool
) -> bool:
    """Checksum, table of contents and a full read with row counts (and a scratch restore when deep)."""
    size, sha = store.digest(entry.dump_path)
    if steps.add(check_checksum(manifest.size, manifest.sha256, size, sha)).status is not Status.PASS:
        return False
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
    return _deep(db, entry.dump_path, manifest, steps) if deep else True


def _record(store: BackupStore, manifest: Manifest, ok: bool, deep: bool, steps: _Steps, prov: Provenance) -> None:
    checks = tuple(f"{r.check}: {r.status.value} - {r.reason}" for r in steps.rows)
    done = dataclasses.replace(manifest, verification=Verification(ok=ok, at=prov.stamp(), deep=deep, checks=checks))
    try:
        store.update_manifest(manifest.name, done.to_dict())
    except HotfixError as exc:
        steps.add(Check("record", Status.WARN, f"could not record the verification in the manifest: {exc.message}"))


def _retention(store: BackupStore, keep: int, dry_run: bool, steps: _Steps) -> list[str]:
    entries = []
    for entry in store.list():
        parsed = _manifest_of(entry)
        if isinstance(parsed, Manifest):
            entries.append(RetentionEntry(entry.name, parsed.created_at, parsed.verified))
        else:
            entries.append(RetentionEntry(entry.name, None, False))
    plan = plan_retention(entries, keep)
    if not plan.delete:
        steps.add(Check("retention", Status.PASS, "; ".join(plan.reasons)))
        return []
    if dry_run:
        steps.add(Check("retention", Status.PASS, "dry run: " + "; ".join(plan.reasons)))
        return list(plan.delete)
    for name in plan.delete:
        store.delete(name)
    steps.add(Check("retention", Status.PASS, "; ".join(plan.reasons)))
    return list(plan.delete)


def backup(req: BackupRequest, db: Database, store: BackupStore, reporter: Reporter, prov: Provenance) -> Outcome:
    steps = _Steps(reporter)
    client, server = db.client_version(), db.server_version()
    outputs: dict[str, str] = {"backup": "", "sha256": "", "size": "", "dump": ""}
    fail = f"no backup of {db.name} was made"
    if steps.add(check_versions("backup", client=client, server=server)).status is not Status.PASS:
        return steps.outcome("db backup", passed="", failed=fail, outputs=outputs)
    try:
        manifest = _take_backup(db, store, BackupKind.MANUAL, prov, steps, (client, server))
    except DatabaseError as exc:
        steps.add(Check("backup", Status.ERROR, exc.message))
        return steps.outcome("db backup", passed="", failed=fail, outputs=outputs)
    entry = _get(store, manifest.name)
    steps.add(
        Check(
            "backup", Status.PASS, f"{manifest.name}: {manifest.size} bytes, {_total(manifest.rows)}, read back in full"
        )
    )
    outputs.update(backup=manifest.name, sha256=manifest.sha256, size=str(manifest.size), dump=entry.dump_path)
    if req.deep:
        _record(store, manifest, _deep(db, entry.dump_path, manifest, steps), True, steps, prov)
    if req.keep:
        outputs["deleted"] = json.dumps(_retention(store, req.keep, False, steps))
    return steps.outcome(
        "db backup", passed=f"backup {manifest.name} of {db.name} verified", failed=fail, outputs=outputs
    )


def verify(req: VerifyRequest, db: Database, store: BackupStore, reporter: Reporter, prov: Provenance) -> Outcome:
    steps = _Steps(reporter)
    entry = _get(store, req.name)
    outputs = {"backup": req.name, "verified": "false"}
    failed = f"backup {req.name} is not usable"
    manifest = _manifest_of(entry)
    if isinstance(manifest, str):
        steps.add(Check("manifest", Status.FAIL, manifest))
        return steps.outcome("db verify", passed="", failed=failed, outputs=outputs)
    steps.add(
        Check(
            "manifest", Status.PASS, f"{manifest.kind.value} backup of {manifest.database} from {manifest.created_at}"
        )
    )
    client = db.client_version()
    if steps.add(check_versions("verify", client=client, dumped_by=manifest.pg_dump_version)).status is not Status.PASS:
        return steps.outcome("db verify", passed="", failed=failed, outputs=outputs)
    ok = _check_dump(db, store, entry, manifest, steps, req.deep)
    _record(store, manifest, ok, req.deep, steps, prov)
    outputs["verified"] = "true" if ok else "false"
    return steps.outcome("db verify", passed=f"backup {req.name} verified", failed=failed, outputs=outputs)


def restore(
    req: RestoreRequest,
    db: Database,
    store: BackupStore,
    pre_store: BackupStore,
    scaler: Scaler,
    reporter: Reporter,
    prov: Provenance,
) -> Outcome:
    steps = _Steps(reporter)
    entry = _get(store, req.name)
    outputs = {"backup": req.name, "database": db.name, "restored": "false", "pre-restore-backup": ""}
    refused = f"refused: {db.name} was not touched"
    manifest = _manifest_of(entry)
    if isinstance(manifest, str):
        steps.add(Check("manifest", Status.FAIL, manifest))
        return steps.outcome("db restore", passed="", failed=refused, outputs=outputs)
    if manifest.database != db.name and not req.allow_other_database:
        raise UsageError(
            f"backup {req.name} is of database {manifest.database!r}, the connection is to {db.name!r}",
            input_name="backup",
            fix="connect to the right database, or pass --allow-other-database if this is intended",
        )
    steps.add(
        Check(
            "manifest", Status.PASS, f"{manifest.kind.value} backup of {manifest.database} from {manifest.created_at}"
        )
    )
    client, server = db.client_version(), db.server_version()
    version_check = check_versions(
        "restore", client=client, server=server, dumped_from=manifest.server_version, dumped_by=manifest.pg_dump_version
    )
    if steps.add(version_check).status is not Status.PASS:
        return steps.outcome("db restore", passed="", failed=refused, outputs=outputs)
    ok = _check_dump(db, store, entry, manifest, steps, req.deep)
    _record(store, manifest, ok, req.deep, steps, prov)
    if not ok:
        return steps.outcome("db restore", passed="", failed=refused + " (the dump did not verify)", outputs=outputs)
    if req.dry_run:
        steps.add(Check("dry run", Status.SKIP, f"would back up {db.name}, then restore {req.name} into it"))
        return steps.outcome("db restore", passed=f"dry run: {req.name} can be restored", failed="", outputs=outputs)

    try:
        pre = _take_backup(db, pre_store, BackupKind.PRE_RESTORE, prov, steps, (client, server))
    except HotfixError as exc:
        steps.add(Check("pre-restore backup", Status.ERROR, f"{exc.message}; restore aborted"))
        return steps.outcome("db restore", passed="", failed=refused, outputs=outputs)
    outputs["pre-restore-backup"] = pre.name
    steps.add(
        Check("pre-restore backup", Status.PASS, f"{pre.name} in {pre_store.describe()}: {_total(pre.rows)}, verified")
    )
    undo = f"to undo: hotfix db restore {pre.name}"

    try:
        before = scaler.current_replicas()
        if before > 0:
            scaler.scale(0)
            steps.add(Check("scale down", Status.PASS, f"{scaler.describe()}: {before} -> 0 replicas"))
    except HotfixError as exc:
        steps.add(Check("scale down", Status.ERROR, f"{scaler.describe()}: {exc.message}; restore aborted"))
        _scale_back(scaler, None, steps)
        return steps.outcome("db restore", passed="", failed=refused, outputs=outputs)
    try:
        _restore_and_check(req, db, entry, manifest, pre, steps, outputs, undo)
    finally:
        _scale_back(scaler, before if before > 0 else None, steps)
    return steps.outcome(
        "db restore",
        passed=f"{db.name} restored from {req.name}; {undo}",
        failed=f"restore of {db.name}",
        outputs=outputs,
    )


def _restore_and_check(
    req: RestoreRequest,
    db: Database,
    entry: StoredBackup,
    manifest: Manifest,
    pre: Manifest,
    steps: _Steps,
    outputs: dict[str, str],
    undo: str,
) -> None:
    try:
        db.restore(entry.dump_path, clean=True)
    except DatabaseError as exc:
        steps.add(
            Check("restore", Status.ERROR, f"pg_restore failed; its single transaction was rolled back: {exc.message}")
        )
        try:
            counts = db.count_rows(sorted(pre.rows))
            same = check_rows("unchanged", pre.rows, counts, against=f"the pre-restore backup {pre.name}")
            if same.status is not Status.PASS:
                same = Check("unchanged", Status.WARN, same.reason + " (written since the pre-restore backup?)")
            steps.add(same)
        except DatabaseError as exc2:
            steps.add(Check("unchanged", Status.ERROR, f"could not count rows after the failure: {exc2.message}"))
        return
    outputs["restored"] = "true"
    steps.add(Check("restore", Status.PASS, f"{req.name} restored into {db.name} in one transaction"))
    try:
        counts = db.count_rows(sorted(manifest.rows))
        check = check_rows("row counts", manifest.rows, counts, against=f"backup {req.name}")
    except DatabaseError as exc:
        check = Check("row counts", Status.ERROR, f"could not count rows: {exc.message}")
    if check.status is not Status.PASS:
        check = dataclasses.replace(check, reason=f"{check.reason}; {undo}")
    steps.add(check)
    if req.check_sql:
        try:
            sql_check = check_sql_result(db.query_value(req.check_sql))
        except DatabaseError as exc:
            sql_check = Check("sql check", Status.FAIL, f"the check query failed: {exc.message}")
        if sql_check.status is not Status.PASS:
            sql_check = dataclasses.replace(sql_check, reason=f"{sql_check.reason}; {undo}")
        steps.add(sql_check)


def _scale_back(scaler: Scaler, replicas: int | None, steps: _Steps) -> None:
    if replicas is None:
        return
    try:
        scaler.scale(replicas)
        steps.add(Check("scale up", Status.PASS, f"{scaler.describe()}: back to {replicas} replicas"))
    except HotfixError as exc:
        steps.add(
            Check(
                "scale up", Status.ERROR, f"{scaler.describe()}: could not restore {replicas} replicas: {exc.message}"
            )
        )


def list_backups(req: ListRequest, store: BackupStore, reporter: Reporter) -> Outcome:
    steps = _Steps(reporter)
    described: list[tuple[str, StoredBackup, Manifest | str]] = []
    for entry in store.list():
        parsed = _manifest_of(entry)
        described.append((parsed.created_at if isinstance(parsed, Manifest) else "", entry, parsed))
    described.sort(key=lambda item: (item[0], item[1].name), reverse=True)
    listing: list[dict[str, object]] = []
    for _, entry, parsed in described:
        if isinstance(parsed, str):
            steps.add(Check(entry.name, Status.WARN, f"{entry.size} bytes; not a usable backup: {parsed}"))
            listing.append({"name": entry.name, "dump": entry.dump_path, "manifest": None, "problem": parsed})
            continue
        state = "verified" + (" (deep)" if parsed.verification and parsed.verification.deep else "")
        if not parsed.verified:
            state = "NOT verified" if parsed.verification else "never verified"
        steps.add(
            Check(
                entry.name,
                Status.PASS if parsed.verified else Status.WARN,
                f"{parsed.created_at} {parsed.kind.value} of {parsed.database}, {parsed.size} bytes, "
                f"{_total(parsed.rows)}, sha256 {parsed.sha256[:12]}, {state}",
            )
        )
        listing.append({"name": entry.name, "dump": entry.dump_path, "manifest": parsed.to_dict()})
    outputs = {"backups": json.dumps(listing), "count": str(len(listing)), "newest": ""}
    usable = [d for d in described if isinstance(d[2], Manifest)]
    outputs["newest"] = usable[0][1].name if usable else ""
    verified = [d for d in usable if isinstance(d[2], Manifest) and d[2].verified]
    outputs["newest-verified"] = verified[0][1].name if verified else ""
    if req.keep:
        outputs["deleted"] = json.dumps(_retention(store, req.keep, req.dry_run, steps))
    where = store.describe()
    if not described:
        steps.add(Check("backups", Status.SKIP, f"none in {where}"))
    return steps.outcome("db list", passed=f"{len(usable)} backups in {where}", failed="", outputs=outputs)
