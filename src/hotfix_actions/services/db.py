"""`hotfix db backup | verify | restore | list`: a verified backup before every change, a restore that cannot lose data.

backup   pg_dump -Fc to a temporary file, fsync, full read, then publish (atomic rename) with a manifest; a failed or
         empty dump is quarantined and never published.
verify   checksum against the manifest, pg_restore --list, a full read with per-table row counts; --deep restores into
         a scratch database and counts again.
restore  (services.db_restore) refuses an unverified or mismatching dump before touching anything; looks at the other
         sessions and does what the operator chose about them; takes a verified pre-restore backup of exactly the
         data it replaces; restores in one transaction that never waits silently for a lock; states only what it
         checked.
list     newest first, with manifests, and the quarantined files apart; --keep N never deletes the newest verified
         copy and also prunes the quarantine.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hotfix_actions.decide.db import BackupKind, Check, Manifest, RetentionEntry, check_versions, plan_retention
from hotfix_actions.decide.db_live import plan_quarantine
from hotfix_actions.decide.verdict import Status
from hotfix_actions.errors import DatabaseError
from hotfix_actions.ports import BackupStore, Database
from hotfix_actions.report import Outcome, Reporter
from hotfix_actions.services._dbsteps import (
    Provenance,
    Steps,
    check_dump,
    deep_check,
    get_entry,
    manifest_of,
    record_verification,
    take_backup,
    total,
)
from hotfix_actions.services.db_restore import RestoreRequest, restore

__all__ = [
    "KEEP_QUARANTINE",
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

KEEP_QUARANTINE = 3  # quarantined (failed) dumps kept for diagnosis when --keep prunes


@dataclass(frozen=True)
class BackupRequest:
    deep: bool = False
    keep: int | None = None
    keep_quarantine: int = KEEP_QUARANTINE


@dataclass(frozen=True)
class VerifyRequest:
    name: str
    deep: bool = False


@dataclass(frozen=True)
class ListRequest:
    keep: int | None = None
    dry_run: bool = False
    keep_quarantine: int = KEEP_QUARANTINE


def _retention(store: BackupStore, keep: int, keep_quarantine: int, dry_run: bool, steps: Steps) -> list[str]:
    entries = []
    for entry in store.list():
        parsed = manifest_of(entry)
        if isinstance(parsed, Manifest):
            entries.append(RetentionEntry(entry.name, parsed.created_at, parsed.verified))
        else:
            entries.append(RetentionEntry(entry.name, None, False))
    plan = plan_retention(entries, keep)
    reasons = list(plan.reasons)
    kept, doomed = plan_quarantine([(q.name, q.mtime) for q in store.list_quarantine()], keep_quarantine)
    if doomed:
        reasons.append(f"quarantine: keeping the newest {len(kept)} for diagnosis, deleting {len(doomed)}")
    if dry_run:
        steps.add(Check("retention", Status.PASS, "dry run: " + "; ".join(reasons)))
        return [*plan.delete, *(f"quarantine/{name}" for name in doomed)]
    for name in plan.delete:
        store.delete(name)
    for name in doomed:
        try:
            store.delete_quarantined(name)
        except DatabaseError as exc:
            steps.add(Check("retention", Status.WARN, f"could not delete quarantined {name}: {exc.message}"))
    steps.add(Check("retention", Status.PASS, "; ".join(reasons)))
    return [*plan.delete, *(f"quarantine/{name}" for name in doomed)]


def backup(req: BackupRequest, db: Database, store: BackupStore, reporter: Reporter, prov: Provenance) -> Outcome:
    steps = Steps(reporter)
    client, server = db.client_version(), db.server_version()
    outputs: dict[str, str] = {"backup": "", "sha256": "", "size": "", "dump": ""}
    fail = f"no backup of {db.name} was made"
    if steps.add(check_versions("backup", client=client, server=server)).status is not Status.PASS:
        return steps.outcome("db backup", passed="", failed=fail, outputs=outputs)
    try:
        manifest = take_backup(db, store, BackupKind.MANUAL, prov, steps, (client, server))
    except DatabaseError as exc:
        steps.add(Check("backup", Status.ERROR, exc.message))
        return steps.outcome("db backup", passed="", failed=fail, outputs=outputs)
    entry = get_entry(store, manifest.name)
    steps.add(
        Check(
            "backup", Status.PASS, f"{manifest.name}: {manifest.size} bytes, {total(manifest.rows)}, read back in full"
        )
    )
    outputs.update(backup=manifest.name, sha256=manifest.sha256, size=str(manifest.size), dump=entry.dump_path)
    if req.deep:
        record_verification(store, manifest, deep_check(db, entry.dump_path, manifest, steps), True, steps, prov)
    if req.keep:
        outputs["deleted"] = json.dumps(_retention(store, req.keep, req.keep_quarantine, False, steps))
    return steps.outcome(
        "db backup", passed=f"backup {manifest.name} of {db.name} verified", failed=fail, outputs=outputs
    )


def verify(req: VerifyRequest, db: Database, store: BackupStore, reporter: Reporter, prov: Provenance) -> Outcome:
    steps = Steps(reporter)
    entry = get_entry(store, req.name)
    outputs = {"backup": req.name, "verified": "false"}
    failed = f"backup {req.name} is not usable"
    manifest = manifest_of(entry)
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
    ok = check_dump(db, store, entry, manifest, steps, req.deep)
    record_verification(store, manifest, ok, req.deep, steps, prov)
    outputs["verified"] = "true" if ok else "false"
    return steps.outcome("db verify", passed=f"backup {req.name} verified", failed=failed, outputs=outputs)


def list_backups(req: ListRequest, store: BackupStore, reporter: Reporter) -> Outcome:
    steps = Steps(reporter)
    described = []
    for entry in store.list():
        parsed = manifest_of(entry)
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
                f"{total(parsed.rows)}, sha256 {parsed.sha256[:12]}, {state}",
            )
        )
        listing.append({"name": entry.name, "dump": entry.dump_path, "manifest": parsed.to_dict()})
    quarantined = sorted(store.list_quarantine(), key=lambda q: (q.mtime, q.name), reverse=True)
    for q in quarantined:
        steps.add(
            Check(f"quarantined: {q.name}", Status.SKIP, f"{q.size} bytes, not a backup (failed dump): {q.reason}")
        )
    outputs = {"backups": json.dumps(listing), "count": str(len(listing)), "newest": ""}
    outputs["quarantined"] = json.dumps(
        [{"name": q.name, "path": q.path, "size": q.size, "reason": q.reason} for q in quarantined]
    )
    usable = [d for d in described if isinstance(d[2], Manifest)]
    outputs["newest"] = usable[0][1].name if usable else ""
    verified = [d for d in usable if isinstance(d[2], Manifest) and d[2].verified]
    outputs["newest-verified"] = verified[0][1].name if verified else ""
    if req.keep:
        outputs["deleted"] = json.dumps(_retention(store, req.keep, req.keep_quarantine, req.dry_run, steps))
    where = store.describe()
    if not described:
        steps.add(Check("backups", Status.SKIP, f"none in {where}"))
    passed = f"{len(usable)} backups in {where}" + (
        f"; {len(quarantined)} quarantined files apart" if quarantined else ""
    )
    return steps.outcome("db list", passed=passed, failed="", outputs=outputs)
