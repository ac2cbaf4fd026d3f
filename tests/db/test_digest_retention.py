"""The digest the backup job reported (through job outputs) must match the dump the rollback job restores; failed
dumps in quarantine/ are listed apart from backups and pruned by --keep (the newest few kept)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.db.conftest import AppDb, hotfix, manifests, run_json
from tests.db.test_faults import _wrapper_bindir

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


def _backup(appdb: AppDb) -> tuple[str, str]:
    code, out, result = run_json(["db", "backup"], appdb.env())
    assert code == 0, result.output
    outputs = out["outputs"]
    assert isinstance(outputs, dict)
    return str(outputs["backup"]), str(outputs["sha256"])


def _rows(out: dict[str, object]) -> dict[str, dict[str, str]]:
    return {c["check"]: c for c in out["checks"]}  # type: ignore[union-attr, index]


def test_the_reported_digest_lets_the_restore_through(appdb: AppDb) -> None:
    name, digest = _backup(appdb)
    appdb.sql("DELETE FROM orders;")
    code, out, result = run_json(["db", "restore", name, f"--expect-sha256={digest.upper()}"], appdb.env())
    assert code == 0, result.output
    assert _rows(out)["expected digest"]["result"] == "pass"
    assert appdb.count("orders") == 500


def test_a_dump_and_manifest_swapped_in_the_artifact_are_refused(appdb: AppDb) -> None:
    """The attacker replaces both files consistently (the manifest's checksum matches its dump): only the digest that
    travelled through job outputs tells it apart. Nothing is touched, not even a pre-restore backup."""
    name, digest = _backup(appdb)
    appdb.sql("DELETE FROM orders WHERE id > 10;")
    other, _ = _backup(appdb)  # a real dump of other data: restorable, and wrong
    appdb.sql("INSERT INTO orders (account_id, note) VALUES (1, 'after');")
    before = appdb.fingerprint()
    dump, manifest = appdb.backups / f"{name}.dump", appdb.backups / f"{name}.manifest.json"
    dump.write_bytes((appdb.backups / f"{other}.dump").read_bytes())
    data = json.loads((appdb.backups / f"{other}.manifest.json").read_text())
    data.update(name=name, file=f"{name}.dump")
    manifest.write_text(json.dumps(data))
    code, out, result = run_json(["db", "restore", name, f"--expect-sha256={digest}"], appdb.env())
    assert code == 1, result.output
    rows = _rows(out)
    assert rows["checksum"]["result"] == "pass" and rows["expected digest"]["result"] == "fail"
    assert "reported by the backup job" in rows["expected digest"]["reason"]
    assert "sessions" not in rows and "pre-restore backup" not in rows
    assert appdb.fingerprint() == before
    assert [m["kind"] for m in manifests(appdb.backups)] == ["manual", "manual"]


@pytest.mark.parametrize("value", ["", "abc", "z" * 64, "a" * 63, " " + "a" * 65])
def test_a_missing_or_malformed_digest_is_a_usage_error(appdb: AppDb, value: str) -> None:
    name, _ = _backup(appdb)
    result = hotfix(["db", "restore", name, f"--expect-sha256={value}"], appdb.env())
    assert result.exit_code == 2, result.output
    assert "--expect-sha256" in result.output and "64 hexadecimal" in result.output


def test_the_digest_through_the_root_actions_args(appdb: AppDb, tmp_path: Path) -> None:
    """Exactly how the rollback job calls it: the root action, args one word per line, the digest from job outputs."""
    name, digest = _backup(appdb)
    appdb.sql("DELETE FROM orders;")
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "HOTFIX_ACTION_COMMAND": "db restore",
        "HOTFIX_DATABASE_URL": appdb.url(),
        "PGPASSWORD": appdb.env()["PGPASSWORD"],
        "HOTFIX_CONFIG": "",
    }
    wrong = hashlib.sha256(b"not the dump").hexdigest()
    for expected, code in ((wrong, 1), (digest, 0)):
        env["HOTFIX_ACTION_ARGS"] = (
            f"{name}\n--backup-dir={appdb.backups}\n--expect-sha256={expected}\n--sessions=wait\n"
        )
        proc = subprocess.run(
            ["bash", str(ROOT / "scripts" / "action-run.sh")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
        assert proc.returncode == code, proc.stdout + proc.stderr
        assert ("expected digest: fail" if code else "expected digest: pass") in proc.stdout
    assert appdb.count("orders") == 500


def _fail_backups(appdb: AppDb, tmp_path: Path, count: int) -> None:
    bindir = _wrapper_bindir(
        tmp_path / "empty", appdb.server.bindir, pg_dump_prelude='[ "${1:-}" = "--version" ] || exit 0'
    )
    for _ in range(count):
        code, _, result = run_json(["db", "backup"], {**appdb.env(), "HOTFIX_PG_BINDIR": str(bindir)})
        assert code == 3, result.output
        time.sleep(0.02)  # distinct modification times


def test_quarantine_is_listed_apart_and_pruned_keeping_the_newest(appdb: AppDb, tmp_path: Path) -> None:
    """Before: quarantine/ grew forever (--keep ignored it) and `db list` did not show it."""
    kept_backup, _ = _backup(appdb)
    _fail_backups(appdb, tmp_path, 5)
    quarantine = appdb.backups / "quarantine"
    files = sorted(quarantine.glob("*.partial"), key=lambda p: p.stat().st_mtime)
    assert len(files) == 5
    env = {"HOTFIX_DB_BACKUP_DIR": str(appdb.backups)}
    code, out, result = run_json(["db", "list"], env)
    assert code == 0, result.output
    listed = json.loads(out["outputs"]["quarantined"])  # type: ignore[index]
    assert [q["name"] for q in listed] == [p.name for p in reversed(files)]  # newest first
    assert all("empty file" in q["reason"] for q in listed)
    assert [b["name"] for b in json.loads(out["outputs"]["backups"])] == [kept_backup]  # type: ignore[index]
    text = hotfix(["db", "list"], env).stdout
    assert "quarantined: " in text and "not a backup" in text

    dry = hotfix(["db", "list", "--keep", "1", "--keep-quarantine", "2", "--dry-run"], env)
    assert dry.exit_code == 0 and len(list(quarantine.glob("*.partial"))) == 5
    code, out, result = run_json(["db", "list", "--keep", "1", "--keep-quarantine", "2"], env)
    assert code == 0, result.output
    left = sorted(p.name for p in quarantine.glob("*.partial"))
    assert left == sorted(p.name for p in files[-2:])  # the two newest, for diagnosis
    assert len(list(quarantine.glob("*.reason.txt"))) == 2  # their reasons go with them
    deleted = json.loads(out["outputs"]["deleted"])  # type: ignore[index]
    assert sorted(deleted) == sorted(f"quarantine/{p.name}" for p in files[:3])
    assert (appdb.backups / f"{kept_backup}.dump").exists()


def test_backup_keep_also_prunes_the_quarantine(appdb: AppDb, tmp_path: Path) -> None:
    _fail_backups(appdb, tmp_path, 5)
    Path(".hotfix.yml").write_text("version: 1\ndb:\n  keep_quarantine: 1\n")
    result = hotfix(["db", "backup", "--keep", "2"], appdb.env())
    assert result.exit_code == 0, result.output
    assert len(list((appdb.backups / "quarantine").glob("*.partial"))) == 1
