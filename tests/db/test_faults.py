"""Fault injection: a disk that fills during the dump, the password in no output, client/server version mismatch,
and the operator script's typed confirmation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.db.conftest import AppDb, hotfix, manifests, run_json
from tests.db.pgserver import APP_PASSWORD, PgServer

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
SMALL_KIB = 256


@dataclass
class SmallDisk:
    folder: Path
    bindir: str | None  # set when the limit comes from `ulimit -f` in a pg_dump wrapper instead of a tmpfs
    how: str


def _wrapper_bindir(folder: Path, pg_bindir: Path, *, pg_dump_prelude: str = "", version: str | None = None) -> Path:
    """A bin folder with the real pg tools behind small shell wrappers."""
    folder.mkdir(parents=True, exist_ok=True)
    for tool in ("pg_dump", "pg_restore", "psql"):
        real = pg_bindir / tool
        lines = ["#!/bin/bash"]
        if version and tool != "psql":
            lines.append(f'if [ "${{1:-}}" = "--version" ]; then echo "{tool} (PostgreSQL) {version}"; exit 0; fi')
        if tool == "pg_dump" and pg_dump_prelude:
            lines.append(pg_dump_prelude)
        lines.append(f'exec {real} "$@"')
        path = folder / tool
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o755)
    return folder


@pytest.fixture(params=["tmpfs", "ulimit"])
def small_disk(request: pytest.FixtureRequest, tmp_path: Path, pg_server: PgServer) -> Iterator[SmallDisk]:
    """A folder that really fills after 256 KiB: a tmpfs mount (where we may mount: root), and pg_dump under
    `ulimit -f` (RLIMIT_FSIZE), which makes its writes fail the same way (also the fallback when mount is denied)."""
    folder = tmp_path / "small"
    folder.mkdir()
    if request.param == "tmpfs" and os.geteuid() == 0:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={SMALL_KIB}k,mode=0700", "tmpfs", str(folder)],
            capture_output=True,
            check=False,
        )
        if mounted.returncode == 0:
            try:
                yield SmallDisk(folder, None, "tmpfs")
            finally:
                subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)
            return
    bindir = _wrapper_bindir(tmp_path / "bin", pg_server.bindir, pg_dump_prelude=f"ulimit -f {SMALL_KIB}")
    yield SmallDisk(folder, str(bindir), "ulimit")


def _grow(appdb: AppDb) -> None:
    """About 1.3 MB of incompressible-ish text: the compressed dump is several times the small disk."""
    appdb.sql(
        "SET ROLE app; CREATE TABLE bulk AS SELECT g AS id, md5(random()::text) || md5(random()::text) AS v "
        "FROM generate_series(1, 20000) g;"
    )


def _looks_valid(folder: Path) -> list[str]:
    """Files anyone could mistake for a backup: a .dump or a manifest anywhere below the folder."""
    return [str(p) for p in folder.rglob("*") if p.name.endswith((".dump", ".manifest.json"))]


def test_a_disk_that_fills_during_the_dump_leaves_nothing_that_looks_valid(appdb: AppDb, small_disk: SmallDisk) -> None:
    _grow(appdb)
    env = {**appdb.env(), "HOTFIX_DB_BACKUP_DIR": str(small_disk.folder)}
    if small_disk.bindir:
        env["HOTFIX_PG_BINDIR"] = small_disk.bindir
    code, out, result = run_json(["db", "backup"], env)
    assert code == 3, result.output
    [row] = [c for c in out["checks"] if c["check"] == "backup"]  # type: ignore[union-attr]
    assert row["result"] == "error" and "nothing was published" in row["reason"]
    if small_disk.how == "tmpfs":
        assert "No space left on device" in row["reason"]
    else:
        assert "killed by SIGXFSZ" in row["reason"]
    assert _looks_valid(small_disk.folder) == []
    assert not [p for p in small_disk.folder.iterdir() if p.name != "quarantine"]  # no temporary file left behind
    for path in (small_disk.folder / "quarantine").iterdir():
        assert path.name.endswith((".partial", ".reason.txt"))
    listing = hotfix(["db", "list"], env)
    assert listing.exit_code == 0 and "none in" in listing.stdout


def test_a_full_pre_restore_folder_aborts_the_restore(appdb: AppDb, small_disk: SmallDisk) -> None:
    """db.pre_restore_dir on its own (small) disk, from .hotfix.yml: the restore is aborted, the data untouched."""
    _grow(appdb)
    code, out, result = run_json(["db", "backup"], appdb.env())
    assert code == 0, result.output
    name = str(out["outputs"]["backup"])  # type: ignore[index]
    appdb.sql("DELETE FROM bulk WHERE id > 10000;")
    before = appdb.fingerprint()
    Path(".hotfix.yml").write_text(f"version: 1\ndb:\n  pre_restore_dir: {small_disk.folder}\n")
    env = dict(appdb.env())
    if small_disk.bindir:
        env["HOTFIX_PG_BINDIR"] = small_disk.bindir
    code, out, result = run_json(["db", "restore", name], env)
    assert code == 3, result.output
    rows = {c["check"]: c for c in out["checks"]}  # type: ignore[union-attr]
    assert rows["pre-restore backup"]["result"] == "error" and "restore" not in rows
    assert appdb.fingerprint() == before
    assert _looks_valid(small_disk.folder) == []


def _all_text(*results: object) -> str:
    return "\n".join(getattr(r, "output", "") for r in results)


def test_the_password_appears_in_no_output(appdb: AppDb, tmp_path: Path) -> None:
    encoded = quote(APP_PASSWORD, safe="")
    secrets_ = (APP_PASSWORD, encoded)
    with_url = {"DATABASE_URL": appdb.url(password=True), "HOTFIX_DB_BACKUP_DIR": str(appdb.backups)}
    results = []
    for env in (appdb.env(), with_url):
        backup = hotfix(["db", "backup", "--deep"], env)
        assert backup.exit_code == 0, backup.output
        name = next(iter(sorted(appdb.backups.glob("*.manifest.json")))).name.removesuffix(".manifest.json")
        results += [backup, hotfix(["db", "verify", name, "--deep"], env), hotfix(["db", "restore", name], env)]
        results.append(hotfix(["db", "list", "--json"], env))
    # failures print the tools' error text: still no password
    results.append(hotfix(["db", "backup"], {**with_url, "DATABASE_URL": with_url["DATABASE_URL"] + "x"}))
    results.append(hotfix(["db", "backup"], {**appdb.env(), "PGPASSWORD": APP_PASSWORD + "-wrong"}))
    # a password on the command line: warned about, and masked
    argv = hotfix(
        ["db", "backup", "--database-url", appdb.url(password=True)], {"HOTFIX_DB_BACKUP_DIR": str(appdb.backups)}
    )
    results.append(argv)
    assert argv.exit_code == 0 and "other users can see it" in argv.output
    assert results[-2].exit_code == 3 and "password authentication failed" in results[-2].output
    assert results[-3].exit_code == 3 and "does not exist" in results[-3].output
    text = _all_text(*results)
    for secret in secrets_:
        assert secret not in text
    for path in appdb.backups.rglob("*.json"):
        assert not any(s in path.read_text() for s in secrets_)


def test_in_github_actions_the_password_is_masked_before_anything_is_printed(
    appdb: AppDb, gha: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"DATABASE_URL": appdb.url(password=True), "HOTFIX_DB_BACKUP_DIR": str(appdb.backups)}
    result = hotfix(["db", "backup"], env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    escaped = APP_PASSWORD.replace("%", "%25")
    assert lines[0] == f"::add-mask::{escaped}"
    assert all(escaped not in line for line in lines[1:]) and APP_PASSWORD not in result.output
    for path in gha.values():
        assert APP_PASSWORD not in path.read_text() and escaped not in path.read_text()


def test_no_password_in_any_argv(appdb: AppDb) -> None:
    from hotfix_actions.db import LocalBackupStore, PgTools, conn_from_env

    with PgTools(conn_from_env({"DATABASE_URL": appdb.url(password=True)}), base_env=dict(os.environ)) as db:
        store = LocalBackupStore(appdb.backups)
        temp = store.reserve("argv-check")
        db.dump(temp)
        db.read_all(temp)
        db.restore(temp)
        assert db.count_rows(["public.accounts"]) == {"public.accounts": 200}
        assert db.calls and not any(APP_PASSWORD in " ".join(argv) for argv in db.calls)
        assert not any(appdb.url(password=True) in " ".join(argv) for argv in db.calls)


def test_an_older_client_than_the_server_is_refused_before_any_dump(appdb: AppDb, tmp_path: Path) -> None:
    """Only PostgreSQL 15 is installable here, so the client's reported version is faked at the adapter boundary:
    wrappers that answer `--version` with 14.11 and run the real 15 tools otherwise."""
    bindir = _wrapper_bindir(tmp_path / "pg14", appdb.server.bindir, version="14.11")
    env = {**appdb.env(), "HOTFIX_PG_BINDIR": str(bindir)}
    result = hotfix(["db", "backup"], env)
    assert result.exit_code == 3
    assert "client tools 14.11 are older than the server 15" in result.output
    assert "postgresql-client-15" in result.output
    assert not appdb.backups.exists()  # not even the folder: nothing ran


def test_a_version_mismatch_stops_a_restore_before_anything_is_touched(appdb: AppDb, tmp_path: Path) -> None:
    code, out, result = run_json(["db", "backup"], appdb.env())
    assert code == 0, result.output
    name = str(out["outputs"]["backup"])  # type: ignore[index]
    appdb.sql("DELETE FROM orders;")
    before = appdb.fingerprint()
    for version in ("14.11", "16.3"):  # older: cannot serve the server; newer: not the server's major
        bindir = _wrapper_bindir(tmp_path / version, appdb.server.bindir, version=version)
        code, out, result = run_json(["db", "restore", name], {**appdb.env(), "HOTFIX_PG_BINDIR": str(bindir)})
        assert code == 3, result.output
        [row] = [c for c in out["checks"] if c["check"] == "versions"]  # type: ignore[union-attr]
        assert row["result"] == "error"
        assert [c["check"] for c in out["checks"]] == ["manifest", "versions"]  # type: ignore[union-attr]
    assert appdb.fingerprint() == before
    assert len(manifests(appdb.backups)) == 1


def _script(args: list[str], env: dict[str, str], stdin: str) -> subprocess.CompletedProcess[str]:
    path_env = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "database-rollback.sh"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": path_env, "HOME": os.environ.get("HOME", "/root"), **env},
    )


def test_rollback_script_needs_the_typed_word(appdb: AppDb) -> None:
    code, out, result = run_json(["db", "backup"], appdb.env())
    assert code == 0, result.output
    name = str(out["outputs"]["backup"])  # type: ignore[index]
    appdb.sql("DELETE FROM orders;")
    env = appdb.env()
    for answer in ("", "rollback\n", "yes\n"):
        declined = _script([name], env, answer)
        assert declined.returncode == 1, declined.stderr
        assert "Type ROLLBACK" in declined.stderr and "nothing was changed" in declined.stderr
        assert appdb.count("orders") == 0
    assert "dry run" in declined.stderr  # it verified the backup before asking
    done = _script([name], env, "ROLLBACK\n")
    assert done.returncode == 0, done.stderr + done.stdout
    assert appdb.count("orders") == 500
    appdb.sql("DELETE FROM orders;")
    assert _script(["--yes", name], env, "").returncode == 0 and appdb.count("orders") == 500
    assert APP_PASSWORD not in done.stdout + done.stderr


def test_rollback_script_usage_errors(appdb: AppDb) -> None:
    assert _script([], {}, "").returncode == 2
    assert _script(["a", "b"], {}, "").returncode == 2
    assert _script(["--bogus", "a"], {}, "").returncode == 2
    assert _script(["--yes", "nope"], appdb.env(), "").returncode == 2  # unknown backup: the CLI's usage error
    lint = subprocess.run(
        ["shellcheck", str(ROOT / "scripts" / "database-rollback.sh")], check=False, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout


def test_an_empty_dump_is_refused_even_when_pg_dump_exits_zero(appdb: AppDb, tmp_path: Path) -> None:
    bindir = _wrapper_bindir(
        tmp_path / "empty", appdb.server.bindir, pg_dump_prelude='[ "${1:-}" = "--version" ] || exit 0'
    )
    code, out, result = run_json(["db", "backup"], {**appdb.env(), "HOTFIX_PG_BINDIR": str(bindir)})
    assert code == 3, result.output
    [row] = [c for c in out["checks"] if c["check"] == "backup"]  # type: ignore[union-attr]
    assert "exited 0 but wrote an empty file" in row["reason"] and "nothing was published" in row["reason"]
    assert _looks_valid(appdb.backups) == []
    [quarantined] = list((appdb.backups / "quarantine").glob("*.partial"))
    assert quarantined.stat().st_size == 0


def test_password_from_a_pgpass_file(appdb: AppDb, tmp_path: Path) -> None:
    passfile = tmp_path / "pgpass"
    escaped = APP_PASSWORD.replace("\\", "\\\\").replace(":", "\\:")
    passfile.write_text(f"127.0.0.1:{appdb.server.port}:*:app:{escaped}\n")
    passfile.chmod(0o600)
    env = {"DATABASE_URL": appdb.url(), "PGPASSFILE": str(passfile), "HOTFIX_DB_BACKUP_DIR": str(appdb.backups)}
    result = hotfix(["db", "backup"], env)
    assert result.exit_code == 0, result.output
    passfile.write_text("")  # and without it, libpq has no password: a clear failure, no prompt
    result = hotfix(["db", "backup"], env)
    assert result.exit_code == 3 and "no password supplied" in result.output
