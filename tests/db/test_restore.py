"""backup -> change -> restore on a real PostgreSQL server, and the ways a restore must refuse or fail safely."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hotfix_actions.errors import ClusterError
from tests.db.conftest import SEED_ROWS, AppDb, hotfix, manifests, run_json

pytestmark = pytest.mark.postgres


def _backup(appdb: AppDb) -> str:
    code, out, result = run_json(["db", "backup"], appdb.env())
    assert code == 0, result.output
    outputs = out["outputs"]
    assert isinstance(outputs, dict)
    return str(outputs["backup"])


def _change_data(appdb: AppDb) -> None:
    appdb.sql(
        "DELETE FROM orders WHERE id > 100; UPDATE accounts SET balance = -1 WHERE id < 50;"
        'INSERT INTO "Audit Log" ("Message") VALUES (\'written after the backup\');'
    )


def test_backup_writes_dump_and_manifest(appdb: AppDb) -> None:
    name = _backup(appdb)
    [manifest] = manifests(appdb.backups)
    dump = appdb.backups / f"{name}.dump"
    assert dump.read_bytes()[:5] == b"PGDMP"  # custom format
    assert manifest["name"] == name and manifest["database"] == appdb.name
    assert manifest["size"] == dump.stat().st_size and len(str(manifest["sha256"])) == 64
    assert manifest["tables"] == SEED_ROWS
    assert str(manifest["server_version"]).startswith("15") and manifest["hotfix_version"]
    assert manifest["verification"] and manifest["verification"]["ok"] is True  # type: ignore[index]
    assert not list(appdb.backups.glob(".*.partial")) and not list((appdb.backups / "quarantine").iterdir())


def test_backup_change_restore_brings_the_data_back(appdb: AppDb) -> None:
    before = appdb.fingerprint()
    name = _backup(appdb)
    _change_data(appdb)
    assert appdb.fingerprint() != before
    code, out, result = run_json(["db", "restore", name], appdb.env())
    assert code == 0, result.output
    assert appdb.fingerprint() == before
    outputs = out["outputs"]
    assert isinstance(outputs, dict) and outputs["restored"] == "true"
    # the data written since the backup was saved first, and verified
    pre = json.loads((appdb.backups / f"{outputs['pre-restore-backup']}.manifest.json").read_text())
    assert pre["kind"] == "pre-restore" and pre["verification"]["ok"] is True
    assert pre["tables"] == {"public.accounts": 200, "public.orders": 100, 'public."Audit Log"': 4}
    checks = [c["check"] for c in out["checks"]]  # type: ignore[union-attr]
    assert checks == [
        "manifest",
        "versions",
        "checksum",
        "table of contents",
        "full read",
        "sessions",
        "lock against writes",
        "block connections",
        "sessions before restore",
        "pre-restore backup",
        "restore",
        "row counts",
        "allow connections",
        "sessions of ours",
    ]
    # ... so the restore itself can be undone
    code, _, result = run_json(["db", "restore", str(outputs["pre-restore-backup"])], appdb.env())
    assert code == 0, result.output
    assert appdb.count("orders") == 100


def test_one_flipped_byte_is_refused_and_the_database_untouched(appdb: AppDb) -> None:
    name = _backup(appdb)
    _change_data(appdb)
    changed = appdb.fingerprint()
    dump = appdb.backups / f"{name}.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0x01
    dump.write_bytes(bytes(data))

    result = hotfix(["db", "restore", name], appdb.env())
    assert result.exit_code == 1, result.output
    assert "checksum" in result.stdout and "SHA-256" in result.stdout and "was not touched" in result.stdout
    assert appdb.fingerprint() == changed
    assert [m["kind"] for m in manifests(appdb.backups)] == ["manual"]  # no pre-restore backup was even taken

    result = hotfix(["db", "verify", name], appdb.env())
    assert result.exit_code == 1 and "SHA-256" in result.stdout
    [manifest] = manifests(appdb.backups)
    assert manifest["verification"]["ok"] is False  # type: ignore[index]


def test_a_dump_whose_checksum_matches_but_cannot_be_read_is_refused(appdb: AppDb) -> None:
    """Someone 'fixes' the manifest after the corruption: the full read still refuses it."""
    name = _backup(appdb)
    dump = appdb.backups / f"{name}.dump"
    data = bytearray(dump.read_bytes())
    del data[len(data) // 2 :]
    dump.write_bytes(bytes(data))
    manifest_path = appdb.backups / f"{name}.manifest.json"
    manifest = json.loads(manifest_path.read_text())
    import hashlib

    manifest.update(size=len(data), sha256=hashlib.sha256(data).hexdigest())
    manifest_path.write_text(json.dumps(manifest))
    before = appdb.fingerprint()
    result = hotfix(["db", "restore", name], appdb.env())
    assert result.exit_code == 1, result.output
    assert "checksum: pass" in result.stdout
    assert "full read: fail" in result.stdout or "table of contents: fail" in result.stdout
    assert appdb.fingerprint() == before


def test_a_restore_that_fails_halfway_leaves_the_database_unchanged(appdb: AppDb) -> None:
    """An event trigger (a DDL policy added after the backup) rejects CREATE INDEX: pg_restore has dropped, recreated
    and loaded every table by then, and fails in the post-data section. One transaction: nothing of it remains."""
    name = _backup(appdb)
    _change_data(appdb)
    appdb.sql(
        "CREATE FUNCTION public.no_new_indexes() RETURNS event_trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'index creation is blocked by policy'; END $$;"
        "CREATE EVENT TRIGGER no_new_indexes ON ddl_command_start WHEN TAG IN ('CREATE INDEX') "
        "EXECUTE FUNCTION public.no_new_indexes();"
    )
    before = appdb.fingerprint()
    code, out, result = run_json(["db", "restore", name], appdb.env())
    assert code == 3, result.output
    assert appdb.fingerprint() == before
    rows = {c["check"]: c for c in out["checks"]}  # type: ignore[union-attr]
    assert rows["restore"]["result"] == "error"
    assert "blocked by policy" in rows["restore"]["reason"] and "rolled back" not in rows["restore"]["reason"]
    # "rolled back" only from the check that proves it: no session of ours left, row counts as before
    assert rows["end state"]["result"] == "pass" and rows["end state"]["reason"].startswith("rolled back, unchanged")
    assert rows["sessions of ours"]["result"] == "pass"
    assert out["outputs"]["restored"] == "false"  # type: ignore[index]


def test_a_failing_pre_restore_backup_aborts_the_restore(appdb: AppDb) -> None:
    """A table the application role cannot read (a migration run as another owner): pg_dump of the current data
    fails, so the restore must not go on."""
    name = _backup(appdb)
    _change_data(appdb)
    appdb.sql("CREATE TABLE public.payroll (id int); INSERT INTO public.payroll VALUES (1);")  # owned by postgres
    before = appdb.fingerprint()
    code, out, result = run_json(["db", "restore", name], appdb.env())
    assert code == 3, result.output
    rows = {c["check"]: c for c in out["checks"]}  # type: ignore[union-attr]
    assert rows["pre-restore backup"]["result"] == "error"
    assert "permission denied" in rows["pre-restore backup"]["reason"]
    assert "restore aborted" in rows["pre-restore backup"]["reason"]
    assert "restore" not in rows
    assert appdb.fingerprint() == before
    assert [m["kind"] for m in manifests(appdb.backups)] == ["manual"]
    assert len(list((appdb.backups / "quarantine").glob("*pre-restore*.partial"))) == 1


def test_post_restore_sql_check(appdb: AppDb) -> None:
    name = _backup(appdb)
    env = appdb.env()
    ok = hotfix(["db", "restore", name, "--check-sql", "SELECT count(*) = 200 FROM accounts"], env)
    assert ok.exit_code == 0 and "sql check: pass" in ok.stdout
    bad = hotfix(["db", "restore", name, "--check-sql", "SELECT count(*) > 1000 FROM accounts"], env)
    assert bad.exit_code == 1 and "sql check: fail" in bad.stdout and "to undo: hotfix db restore" in bad.stdout
    # the check runs read-only: it cannot change data
    ro = hotfix(["db", "restore", name, "--check-sql", "DELETE FROM accounts RETURNING true"], env)
    assert ro.exit_code == 1 and "read-only transaction" in ro.stdout
    assert appdb.count("accounts") == 200


def test_dry_run_and_wrong_database_touch_nothing(appdb: AppDb, pg_server: object) -> None:
    name = _backup(appdb)
    _change_data(appdb)
    before = appdb.fingerprint()
    result = hotfix(["db", "restore", name, "--dry-run"], appdb.env())
    assert result.exit_code == 0 and "dry run" in result.stdout
    assert appdb.fingerprint() == before and len(manifests(appdb.backups)) == 1
    env = {**appdb.env(), "HOTFIX_DATABASE": "postgres"}
    result = hotfix(["db", "restore", name], env)
    assert result.exit_code == 2 and "--allow-other-database" in result.output


def test_a_dump_from_another_major_is_refused_before_anything(appdb: AppDb) -> None:
    name = _backup(appdb)
    path = appdb.backups / f"{name}.manifest.json"
    manifest = json.loads(path.read_text())
    manifest["server_version"] = "14.11"
    path.write_text(json.dumps(manifest))
    before = appdb.fingerprint()
    result = hotfix(["db", "restore", name], appdb.env())
    assert result.exit_code == 3 and "cross-major" in result.stdout
    assert appdb.fingerprint() == before and len(manifests(appdb.backups)) == 1


def test_deep_verify_restores_into_a_scratch_database_and_drops_it(appdb: AppDb, pg_server: object) -> None:
    name = _backup(appdb)
    code, out, result = run_json(["db", "verify", name, "--deep"], appdb.env())
    assert code == 0, result.output
    rows = {c["check"]: c for c in out["checks"]}  # type: ignore[union-attr]
    assert rows["deep restore"]["result"] == "pass" and "703 rows match" in rows["deep restore"]["reason"]
    leftovers = appdb.server.superuser_sql("SELECT count(*) FROM pg_database WHERE datname LIKE 'hotfix_verify_%';")
    assert leftovers.strip() == "0"
    [manifest] = manifests(appdb.backups)
    assert manifest["verification"]["deep"] is True  # type: ignore[index]


def test_verify_without_a_server_reads_the_file_only(appdb: AppDb) -> None:
    name = _backup(appdb)
    result = hotfix(["db", "verify", name], {"HOTFIX_DB_BACKUP_DIR": str(appdb.backups)})
    assert result.exit_code == 0, result.output
    assert "full read: pass" in result.stdout


class RecordingScaler:
    """A Scaler (the Kubernetes adapter implements the real one) that records what it was asked to do."""

    def __init__(self, replicas: int, fail_on: int | None = None) -> None:
        self.replicas = replicas
        self.fail_on = fail_on
        self.calls: list[int] = []

    def describe(self) -> str:
        return "deployment shop/web"

    def current_replicas(self) -> int:
        return self.replicas

    def scale(self, replicas: int) -> None:
        self.calls.append(replicas)
        if replicas == self.fail_on:
            raise ClusterError(f"scale to {replicas} timed out")
        self.replicas = replicas


def _service_restore(appdb: AppDb, name: str, scaler: RecordingScaler) -> tuple[str, list[str]]:
    import io
    import os
    from datetime import UTC, datetime

    from hotfix_actions.db import LocalBackupStore, PgTools, conn_from_env
    from hotfix_actions.report import Reporter
    from hotfix_actions.services import db as service

    out = io.StringIO()
    store = LocalBackupStore(appdb.backups)
    prov = service.Provenance("test", "", lambda: datetime.now(UTC), lambda: os.urandom(3).hex())
    from hotfix_actions.db import LiveRestore

    with PgTools(conn_from_env(appdb.env()), base_env=dict(os.environ)) as db:
        outcome = service.restore(
            service.RestoreRequest(name=name),
            db,
            store,
            store,
            scaler,
            Reporter(out=out, err=out),
            prov,
            lambda: LiveRestore(db, lock_timeout=5.0),
        )
    return outcome.verdict.value, [r.check for r in outcome.rows]


def test_restore_scales_the_application_down_and_back(appdb: AppDb) -> None:
    name = _backup(appdb)
    scaler = RecordingScaler(3)
    verdict, checks = _service_restore(appdb, name, scaler)
    assert verdict == "PASS" and scaler.calls == [0, 3]
    assert checks.index("scale down") < checks.index("restore") < checks.index("scale up")


def test_failed_restore_still_scales_back(appdb: AppDb) -> None:
    name = _backup(appdb)
    appdb.sql(
        "CREATE FUNCTION public.deny() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$;"
        "CREATE EVENT TRIGGER deny ON ddl_command_start WHEN TAG IN ('CREATE INDEX') EXECUTE FUNCTION public.deny();"
    )
    scaler = RecordingScaler(2)
    verdict, _ = _service_restore(appdb, name, scaler)
    assert verdict == "ERROR" and scaler.calls == [0, 2]


def test_scale_down_failure_aborts_before_the_restore(appdb: AppDb) -> None:
    name = _backup(appdb)
    _change_data(appdb)
    before = appdb.fingerprint()
    scaler = RecordingScaler(2, fail_on=0)
    verdict, checks = _service_restore(appdb, name, scaler)
    assert verdict == "ERROR" and "restore" not in checks and appdb.fingerprint() == before


def test_list_is_newest_first_with_manifests(appdb: AppDb) -> None:
    first = _backup(appdb)
    second = _backup(appdb)
    code, out, _ = run_json(["db", "list"], {"HOTFIX_DB_BACKUP_DIR": str(appdb.backups)})
    assert code == 0
    listing = json.loads(out["outputs"]["backups"])  # type: ignore[index]
    assert [b["name"] for b in listing] == [second, first]
    assert listing[0]["manifest"]["sha256"] and listing[0]["manifest"]["tables"] == SEED_ROWS
    assert out["outputs"]["newest-verified"] == second  # type: ignore[index]


def test_retention_never_deletes_the_newest_verified_copy(appdb: AppDb) -> None:
    env = {"HOTFIX_DB_BACKUP_DIR": str(appdb.backups)}
    oldest, middle, newest = _backup(appdb), _backup(appdb), _backup(appdb)
    for name in (middle, newest):  # both newer copies go bad and a verify records it
        dump = appdb.backups / f"{name}.dump"
        dump.write_bytes(dump.read_bytes()[:-10])
        assert hotfix(["db", "verify", name], env).exit_code == 1
    dry = hotfix(["db", "list", "--keep", "1", "--dry-run"], env)
    assert dry.exit_code == 0 and len(list(appdb.backups.glob("*.dump"))) == 3
    code, out, result = run_json(["db", "list", "--keep", "1"], env)
    assert code == 0, result.output
    assert json.loads(out["outputs"]["deleted"]) == [middle]  # type: ignore[index]
    assert sorted(p.name for p in appdb.backups.glob("*.dump")) == sorted([f"{oldest}.dump", f"{newest}.dump"])
    [retention] = [c for c in out["checks"] if c["check"] == "retention"]  # type: ignore[union-attr]
    assert f"also keeping {oldest}: the newest verified copy" in retention["reason"]


def test_backup_keep_applies_retention(appdb: AppDb) -> None:
    for _ in range(3):
        _backup(appdb)
    result = hotfix(["db", "backup", "--keep", "2"], appdb.env())
    assert result.exit_code == 0, result.output
    assert len(list(appdb.backups.glob("*.manifest.json"))) == 2


def test_unknown_backup_name_is_a_usage_error(appdb: AppDb) -> None:
    result = hotfix(["db", "restore", "nope"], appdb.env())
    assert result.exit_code == 2 and "hotfix db list" in result.output
    result = hotfix(["db", "restore", "../../etc/passwd"], appdb.env())
    assert result.exit_code == 2 and "BACKUP" in result.output


def test_the_dump_folder_is_private(appdb: AppDb) -> None:
    name = _backup(appdb)
    assert (appdb.backups.stat().st_mode & 0o077) == 0
    assert ((appdb.backups / f"{name}.dump").stat().st_mode & 0o077) == 0
    assert isinstance(Path(appdb.backups), Path)


def test_the_db_backup_action_environment(appdb: AppDb, tmp_path: Path) -> None:
    """Exactly what actions/db-backup/action.yml sets, unset inputs as empty strings."""
    env = {
        "HOTFIX_DATABASE_URL": appdb.url(),
        "PGPASSWORD": appdb.env()["PGPASSWORD"],
        "HOTFIX_DB_BACKUP_DIR": str(appdb.backups),
        "HOTFIX_DB_DEEP": "true",
        "HOTFIX_DB_KEEP": "",
        "HOTFIX_PG_BINDIR": "",
        "HOTFIX_CONFIG": "",
    }
    code, out, result = run_json(["db", "backup"], env)
    assert code == 0, result.output
    assert [c["check"] for c in out["checks"]] == ["versions", "backup", "deep restore"]  # type: ignore[union-attr]
    assert set(out["outputs"]) >= {"backup", "dump", "sha256", "size"}  # type: ignore[arg-type]


def test_pre_restore_backup_goes_to_its_own_folder(appdb: AppDb, tmp_path: Path) -> None:
    name = _backup(appdb)
    elsewhere = tmp_path / "other-disk"
    code, out, result = run_json(["db", "restore", name, "--pre-restore-dir", str(elsewhere)], appdb.env())
    assert code == 0, result.output
    pre = out["outputs"]["pre-restore-backup"]  # type: ignore[index]
    assert (elsewhere / f"{pre}.dump").is_file() and not (appdb.backups / f"{pre}.dump").exists()
