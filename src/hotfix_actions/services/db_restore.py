"""`hotfix db restore`: refuse a bad or unexpected dump before touching anything, then restore into the live database.

Order: manifest, versions, checksum (and the digest the backup job reported, when given), table of contents, full
read; --dry-run stops here after a look at the connected sessions. Then the application is scaled to zero (when a
Deployment is named) and ``db_live`` does the rest; the application is scaled back on every path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from hotfix_actions.decide.db import Check, check_sql_result, check_versions
from hotfix_actions.decide.db_live import SessionsMode, describe_lock, describe_session
from hotfix_actions.decide.verdict import Status
from hotfix_actions.errors import DatabaseError, HotfixError, UsageError
from hotfix_actions.ports import BackupStore, Database, LiveDatabase, Scaler
from hotfix_actions.report import Outcome, Reporter
from hotfix_actions.services._dbsteps import (
    Provenance,
    Steps,
    check_dump,
    get_entry,
    manifest_of,
    record_verification,
)
from hotfix_actions.services.db_live import LiveOptions, LiveRestoreFlow, plan_text

__all__ = ["LiveOptions", "RestoreRequest", "restore"]


@dataclass(frozen=True)
class RestoreRequest:
    name: str
    check_sql: str | None = None
    dry_run: bool = False
    deep: bool = False
    allow_other_database: bool = False
    expect_sha256: str | None = None  # the digest the backup job reported (job outputs), checked against the file
    live: LiveOptions = field(default_factory=LiveOptions)


def _dry_run(req: RestoreRequest, db: Database, live: LiveDatabase, steps: Steps) -> None:
    """Look at the sessions and say what a real run would do (refuse mode with others connected fails here too)."""
    try:
        pre = live.open()
        activity = live.look()
    except DatabaseError as exc:
        steps.add(Check("sessions", Status.ERROR, f"could not look at the sessions: {exc.message}"))
        return
    for s in activity.sessions:
        locks = activity.locks_of(s.pid)
        lock_text = "; " + ", ".join(describe_lock(x) for x in locks[:4]) if locks else ""
        steps.say(f"connected: {describe_session(s)}{lock_text}")
    others = list(activity.sessions)
    text = plan_text(req.live.mode, others, req.live.wait_seconds)
    status = Status.PASS if not others else (Status.FAIL if req.live.mode is SessionsMode.REFUSE else Status.WARN)
    steps.add(Check("sessions", status, f"dry run: {text}"))
    if req.live.block_connections and not pre.can_block:
        steps.add(Check("connections", Status.FAIL, _cannot_block(pre.block_problem)))
    steps.add(Check("dry run", Status.SKIP, f"would back up {db.name}, then restore {req.name} into it"))


def _cannot_block(problem: str) -> str:
    return (
        f"refused: cannot block new connections during the restore: {problem}; run as the database owner, name a "
        "reachable database with --maintenance-db, or pass --no-block-connections (then clients that connect during "
        "the restore wait for it to finish)"
    )


def restore(
    req: RestoreRequest,
    db: Database,
    store: BackupStore,
    pre_store: BackupStore,
    scaler: Scaler,
    reporter: Reporter,
    prov: Provenance,
    live: Callable[[], LiveDatabase],
) -> Outcome:
    steps = Steps(reporter)
    entry = get_entry(store, req.name)
    outputs = {"backup": req.name, "database": db.name, "restored": "false", "pre-restore-backup": ""}
    refused = f"refused: {db.name} was not touched"
    manifest = manifest_of(entry)
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
    ok = check_dump(db, store, entry, manifest, steps, req.deep, expect_sha256=req.expect_sha256)
    record_verification(store, manifest, ok, req.deep, steps, prov)
    if not ok:
        return steps.outcome("db restore", passed="", failed=refused + " (the dump did not verify)", outputs=outputs)

    target = live()
    try:
        if req.dry_run:
            _dry_run(req, db, target, steps)
            return steps.outcome(
                "db restore", passed=f"dry run: {req.name} can be restored", failed=refused, outputs=outputs
            )
        try:
            preflight = target.open()
        except DatabaseError as exc:
            hint = ""
            if "not currently accepting connections" in exc.message:
                hint = (
                    f"; if a restore was stopped with its guard process gone too, allow connections again from another "
                    f"database: ALTER DATABASE {db.name} ALLOW_CONNECTIONS true"
                )
            steps.add(Check("sessions", Status.ERROR, f"could not open the control session: {exc.message}{hint}"))
            return steps.outcome("db restore", passed="", failed=refused, outputs=outputs)
        if req.live.block_connections and not preflight.can_block:
            steps.add(Check("connections", Status.FAIL, _cannot_block(preflight.block_problem)))
            return steps.outcome("db restore", passed="", failed=refused, outputs=outputs)
        target.start_guard(db.name)  # it starts (and opens its session) while we look at the sessions

        before = 0
        try:
            before = scaler.current_replicas()
            if before > 0:
                scaler.scale(0)
                steps.add(Check("scale down", Status.PASS, f"{scaler.describe()}: {before} -> 0 replicas"))
        except HotfixError as exc:
            steps.add(Check("scale down", Status.ERROR, f"{scaler.describe()}: {exc.message}; restore aborted"))
            _scale_back(scaler, before if before > 0 else None, steps)
            return steps.outcome("db restore", passed="", failed=refused, outputs=outputs)
        flow = LiveRestoreFlow(
            db=db,
            live=target,
            entry=entry,
            manifest=manifest,
            pre_store=pre_store,
            prov=prov,
            steps=steps,
            opts=req.live,
            versions=(client, server),
            outputs=outputs,
        )
        try:
            flow.run()
        finally:
            _scale_back(scaler, before if before > 0 else None, steps)
    finally:
        target.close()
    undo = f"to undo: hotfix db restore {flow.pre.name}" if flow.pre else ""
    if flow.state is not None and flow.state.value == "restored" and req.check_sql:
        _check_sql(db, req.check_sql, undo, steps)
    outputs["sessions"] = flow.sessions_json()
    state = flow.state.value if flow.state else "unknown"
    failed = f"restore of {db.name}: {state}" if flow.began else refused
    outcome = steps.outcome(
        "db restore",
        passed=f"{db.name} restored from {req.name}; {undo}",
        failed=failed,
        outputs=outputs,
        markdown=flow.markdown(),
    )
    return dataclasses.replace(outcome, exit_code=flow.exit_code) if flow.exit_code is not None else outcome


def _check_sql(db: Database, sql: str, undo: str, steps: Steps) -> None:
    try:
        check = check_sql_result(db.query_value(sql))
    except DatabaseError as exc:
        check = Check("sql check", Status.FAIL, f"the check query failed: {exc.message}")
    if check.status is not Status.PASS:
        check = Check(check.name, check.status, f"{check.reason}; {undo}")
    steps.add(check)


def _scale_back(scaler: Scaler, replicas: int | None, steps: Steps) -> None:
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
