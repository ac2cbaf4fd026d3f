"""`hotfix db restore` into a database the application is still using, on the real PostgreSQL server.

Each test runs the real command as a separate process (so it can be signalled by pid and so a hang is a failed test,
not a hung suite): an idle-in-transaction reader, a session holding an exclusive lock, a steady stream of readers
and writers, and the command killed (SIGTERM, SIGKILL) while it is queued on a lock. Afterwards: no session of ours
is left, the database is either fully restored or exactly as before, the application's readers never waited longer
than the configured lock timeout, and the output says which of the two happened.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.db.clients import Client, ours_on_server, stream, wait_until
from tests.db.conftest import AppDb, run_json
from tests.db.pgserver import APP_USER

pytestmark = pytest.mark.postgres

SLACK = 1.5  # seconds beyond the lock timeout a reader may take (connecting, scheduling on a 2-core machine)


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float
    summary: str = ""

    @property
    def text(self) -> str:
        return self.out + self.err


def _env(appdb: AppDb, tmp_path: Path, **extra: str) -> dict[str, str]:
    summary = tmp_path / "summary.md"
    return {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "GITHUB_STEP_SUMMARY": str(summary),
        **appdb.env(),
        **extra,
    }


def _start(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotfix_actions", *args],
        env=env,
        stdout=out.open("wb"),
        stderr=err.open("wb"),
        stdin=subprocess.DEVNULL,
    )
    return proc, out, err


def restore(appdb: AppDb, tmp_path: Path, args: list[str], *, timeout: float = 90, **extra: str) -> Run:
    env = _env(appdb, tmp_path, **extra)
    started = time.monotonic()
    proc, out, err = _start(["db", "restore", *args], env, tmp_path)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail(f"hotfix db restore still running after {timeout}s (a silent hang):\n{out.read_text()}")
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    return Run(
        code,
        out.read_text(),
        err.read_text(),
        time.monotonic() - started,
        summary.read_text() if summary.exists() else "",
    )


def backup(appdb: AppDb) -> tuple[str, str]:
    code, out, result = run_json(["db", "backup"], appdb.env())
    assert code == 0, result.output
    outputs = out["outputs"]
    assert isinstance(outputs, dict)
    return str(outputs["backup"]), str(outputs["sha256"])


def change(appdb: AppDb) -> None:
    appdb.sql("DELETE FROM orders WHERE id > 300; UPDATE accounts SET balance = -1 WHERE id < 20;")


def allowed(appdb: AppDb) -> bool:
    return (
        appdb.server.superuser_sql(f"SELECT datallowconn FROM pg_database WHERE datname = '{appdb.name}';").strip()
        == "t"
    )


def pre_restore_manifests(appdb: AppDb) -> list[dict[str, object]]:
    return [
        json.loads(p.read_text())
        for p in sorted(appdb.backups.glob("*.manifest.json"))
        if json.loads(p.read_text())["kind"] == "pre-restore"
    ]


@pytest.fixture
def clients(appdb: AppDb) -> Iterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for c in opened:
        c.close()


def _client(appdb: AppDb, clients: list[Client], app: str, sql: str) -> Client:
    c = Client(appdb.server, appdb.name, app)
    clients.append(c)
    c.run(sql)
    return c


def assert_clean(appdb: AppDb) -> None:
    """No session of ours on the server, connections allowed."""
    assert wait_until(lambda: not ours_on_server(appdb.server), 15), ours_on_server(appdb.server)
    assert allowed(appdb)


# -- an idle-in-transaction reader --------------------------------------------------------------------------------
def test_an_idle_in_transaction_reader_is_named_and_the_restore_refused_at_once(
    appdb: AppDb, tmp_path: Path, clients: list[Client]
) -> None:
    """Before: the restore waited silently behind it for db.timeout_seconds while blocking every other reader."""
    name, _ = backup(appdb)
    change(appdb)
    before = appdb.fingerprint()
    reader = _client(appdb, clients, "shop-web", "BEGIN; SELECT count(*) FROM orders;")
    with stream(appdb.server, appdb.name, readers=2, writers=0) as readers:
        run = restore(appdb, tmp_path, [name], timeout=60)
    assert run.code == 1, run.text
    assert run.seconds < 20, f"took {run.seconds:.1f}s"
    assert f"pid {reader.pid}" in run.out and 'application "shop-web"' in run.out
    assert "idle in transaction" in run.out and "AccessShareLock on orders" in run.out
    assert "--sessions=terminate" in run.out and "--sessions=wait" in run.out  # the options
    assert "data untouched" in run.out
    assert appdb.fingerprint() == before
    assert pre_restore_manifests(appdb) == []  # nothing was even backed up: nothing was started
    assert max(readers.read_times) < SLACK + 5, max(readers.read_times)
    assert_clean(appdb)


def test_terminate_ends_them_records_them_and_restores(appdb: AppDb, tmp_path: Path, clients: list[Client]) -> None:
    name, _ = backup(appdb)
    expected = appdb.fingerprint()
    change(appdb)
    idle_tx = _client(appdb, clients, "shop-web", "BEGIN; SELECT count(*) FROM accounts;")
    locker = _client(appdb, clients, "shop-migrate", "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;")
    idle = _client(appdb, clients, "shop-idle", "SELECT 1;")
    run = restore(appdb, tmp_path, [name, "--terminate"])
    assert run.code == 0, run.text
    assert appdb.fingerprint() == expected  # fully restored
    for c in (idle_tx, locker, idle):
        assert f"terminated pid {c.pid}" in run.out
    assert "AccessExclusiveLock on orders" in run.out  # the lock was shown before acting
    [pre] = pre_restore_manifests(appdb)
    recorded = {s["pid"]: s for s in pre["restore"]["sessions"]}  # type: ignore[index]
    assert {c.pid for c in (idle_tx, locker, idle)} <= set(recorded)
    assert all(recorded[c.pid]["action"] == "terminated" for c in (idle_tx, locker, idle))
    assert recorded[locker.pid]["application"] == "shop-migrate"
    # the job summary shows the sessions and what was done to them
    assert "### Sessions on" in run.summary and f"| {locker.pid} |" in run.summary and "terminated" in run.summary
    [row] = [line for line in run.summary.splitlines() if line.startswith(f"| {locker.pid} |")]
    assert "AccessExclusiveLock on orders" in row and "shop-migrate" in row
    assert_clean(appdb)


def test_wait_gives_up_after_the_limit_naming_who_stayed(appdb: AppDb, tmp_path: Path, clients: list[Client]) -> None:
    """A session holding an exclusive lock: before, 'canceling statement due to statement timeout' named nobody."""
    name, _ = backup(appdb)
    change(appdb)
    before = appdb.fingerprint()
    locker = _client(appdb, clients, "shop-migrate", "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;")
    run = restore(appdb, tmp_path, [name, "--sessions=wait", "--sessions-wait=3s"])
    assert run.code == 1, run.text
    assert 3 <= run.seconds < 25, run.seconds
    assert "waiting" in run.out and f"pid {locker.pid}" in run.out
    assert "after waiting 3s" in run.out and "AccessExclusiveLock on orders" in run.out
    locker.close()
    assert appdb.fingerprint() == before
    assert_clean(appdb)


def test_wait_goes_on_when_they_leave(appdb: AppDb, tmp_path: Path, clients: list[Client]) -> None:
    name, _ = backup(appdb)
    expected = appdb.fingerprint()
    change(appdb)
    leaver = _client(appdb, clients, "shop-batch", "BEGIN; SELECT count(*) FROM accounts;")
    leaver.send("SELECT pg_sleep(2); COMMIT;")
    leaver.proc.stdin.close()  # type: ignore[union-attr]  # psql quits after those statements
    run = restore(appdb, tmp_path, [name, "--sessions=wait", "--sessions-wait=30"])
    assert run.code == 0, run.text
    assert appdb.fingerprint() == expected
    [pre] = pre_restore_manifests(appdb)
    actions = {s["pid"]: s["action"] for s in pre["restore"]["sessions"]}  # type: ignore[index]
    assert actions[leaver.pid] == "left"
    assert_clean(appdb)


# -- a steady stream of readers and writers ------------------------------------------------------------------------
def test_steady_readers_and_writers_during_a_terminate_restore(appdb: AppDb, tmp_path: Path) -> None:
    name, _ = backup(appdb)
    expected_orders = appdb.sql("SELECT md5(string_agg(x::text, ',' ORDER BY id)) FROM orders x;").strip()
    max_id = int(appdb.sql("SELECT max(id) FROM orders;").strip())
    change(appdb)
    with stream(appdb.server, appdb.name, readers=2, writers=2, pooled=2) as load:
        time.sleep(1.0)
        run = restore(appdb, tmp_path, [name, "--terminate", "--lock-timeout=2s"])
        time.sleep(1.0)
    assert run.code == 0, run.text
    assert "restored into" in run.out and "commit acknowledged" in run.out
    # fully restored: every row of the backup is back as it was (rows written after the restore ended may follow)
    restored = appdb.sql(f"SELECT md5(string_agg(x::text, ',' ORDER BY id)) FROM orders x WHERE id <= {max_id};")
    assert restored.strip() == expected_orders
    assert appdb.count("accounts") == 200 and appdb.count('"Audit Log"') == 3
    assert load.read_times and load.write_times
    assert max(load.read_times) <= 2 + SLACK, sorted(load.read_times)[-5:]
    assert not [e for e in load.errors if "terminating connection" not in e and "server closed" not in e], load.errors
    assert_clean(appdb)


# -- queued on a lock: the lock timeout bounds the application's wait -----------------------------------------------
def _prepared_reader(appdb: AppDb, gid: str) -> None:
    """A prepared transaction holding a lock on orders: it blocks the restore's DROP and no session can be named
    or terminated for it (pg_blocking_pids reports it as pid 0)."""
    appdb.sql(f"BEGIN; SELECT count(*) FROM orders; PREPARE TRANSACTION '{gid}';")


@pytest.fixture
def prepared(appdb: AppDb) -> Iterator[str]:
    gid = f"hold-{appdb.name}"
    _prepared_reader(appdb, gid)
    yield gid
    if appdb.server.superuser_sql(f"SELECT count(*) FROM pg_prepared_xacts WHERE gid = '{gid}';").strip() != "0":
        appdb.server.superuser_sql(f"ROLLBACK PREPARED '{gid}';", appdb.name)


def test_the_lock_timeout_bounds_how_long_readers_wait(appdb: AppDb, tmp_path: Path, prepared: str) -> None:
    """Connections left open (--no-block-connections): readers queue behind the restore's waiting DROP for at most
    the lock timeout; then the restore gives up, ends its session and checks before it says 'rolled back'."""
    name, _ = backup(appdb)
    change(appdb)
    before = appdb.fingerprint()
    with stream(appdb.server, appdb.name, readers=3, writers=0) as readers:
        time.sleep(0.5)
        run = restore(appdb, tmp_path, [name, "--no-block-connections", "--lock-timeout=2", "--sessions=terminate"])
    assert run.code == 3, run.text
    assert "lock timeout" in run.out and "a prepared transaction" in run.out  # who blocked it
    assert "waiting" in run.out  # said while it waited, not only at the end
    assert "rolled back, unchanged" in run.out
    assert appdb.fingerprint() == before
    assert max(readers.read_times) <= 2 + SLACK, sorted(readers.read_times)[-5:]
    assert_clean(appdb)


# -- killed while queued on a lock ----------------------------------------------------------------------------------
@pytest.mark.parametrize("block", [True, False], ids=["connections-blocked", "connections-open"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_killed_while_queued_on_a_lock(
    appdb: AppDb, tmp_path: Path, prepared: str, sig: signal.Signals, block: bool
) -> None:
    name, _ = backup(appdb)
    change(appdb)
    before = appdb.fingerprint()
    lock_timeout = 8
    args = ["db", "restore", name, f"--lock-timeout={lock_timeout}"]
    if not block:
        args.append("--no-block-connections")
    proc, out, err = _start(args, _env(appdb, tmp_path), tmp_path)
    try:
        assert wait_until(lambda: "restore: waiting" in out.read_text(), 40), out.read_text() + err.read_text()
        # the application's readers arrive while the restore is queued on the lock (had they been connected at
        # its first look, the default would have refused before doing anything)
        with stream(appdb.server, appdb.name, readers=2, writers=0) as readers:
            time.sleep(1.0)
            queued = time.monotonic()
            if block:
                assert not allowed(appdb)  # the state the guard must undo
            os.kill(proc.pid, sig)
            code = proc.wait(60)
            assert wait_until(lambda: not ours_on_server(appdb.server), 15), ours_on_server(appdb.server)
            gone_after = time.monotonic() - queued
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = out.read_text() + err.read_text()
    assert allowed(appdb), text
    assert appdb.fingerprint() == before, text  # exactly as before (the restore never committed)
    if sig is signal.SIGTERM:
        assert code == 143, text
        assert "stopped by SIGTERM" in text and "rolled back, unchanged" in text
        # the pre-restore backup was read back and published before the command said anything
        [pre] = pre_restore_manifests(appdb)
        assert pre["verification"]["ok"] is True and not list(appdb.backups.glob(".*.partial"))  # type: ignore[index]
    else:
        assert code == -signal.SIGKILL
        assert wait_until(lambda: "guard: done" in err.read_text(), 20), err.read_text()
        text = out.read_text() + err.read_text()
        assert "guard: database: rolled back, unchanged" in text, text
        if block:
            assert "connections to" in text and "allowed again" in text
    assert gone_after < lock_timeout + 10, gone_after
    assert readers.read_times, readers.errors  # they got answers again once it was over
    assert max(readers.read_times) <= lock_timeout + SLACK, sorted(readers.read_times)[-5:]
    if block:
        assert readers.refused  # while connections were blocked they were refused at once, not queued


def test_the_operator_script_shows_the_sessions_before_asking(
    appdb: AppDb, tmp_path: Path, clients: list[Client]
) -> None:
    from tests.db.test_faults import _script

    name, _ = backup(appdb)
    change(appdb)
    before = appdb.fingerprint()
    reader = _client(appdb, clients, "shop-web", "BEGIN; SELECT count(*) FROM accounts;")
    declined = _script([name], appdb.env(), "ROLLBACK\n")
    assert declined.returncode == 1, declined.stderr
    assert f"pid {reader.pid}" in declined.stderr and "would refuse" in declined.stderr
    assert "Type ROLLBACK" not in declined.stderr  # the dry run refused: it never asked
    assert appdb.fingerprint() == before
    done = _script(["--terminate", name], appdb.env(), "ROLLBACK\n")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "would terminate 1 session" in done.stderr and f"terminated pid {reader.pid}" in done.stdout
    assert appdb.count("orders") == 500
    assert_clean(appdb)


def test_a_short_db_timeout_ends_our_sessions_before_saying_rolled_back(
    appdb: AppDb, tmp_path: Path, prepared: str
) -> None:
    """Before: with a short db.timeout_seconds the command said 'its single transaction was rolled back' while two
    of its server sessions were still queued on the lock."""
    name, _ = backup(appdb)
    change(appdb)
    before = appdb.fingerprint()
    Path(".hotfix.yml").write_text("version: 1\ndb:\n  timeout_seconds: 3\n  lock_timeout_seconds: 60\n")
    run = restore(appdb, tmp_path, [name])
    assert run.code == 3, run.text
    assert "did not finish within 3s" in run.out
    lines = run.out.splitlines()
    [verdict] = [i for i, line in enumerate(lines) if "rolled back, unchanged" in line and line.startswith("▶")]
    assert "no session of ours is left" in lines[verdict]
    assert not ours_on_server(appdb.server)  # at once: it was confirmed before the verdict was printed
    assert appdb.fingerprint() == before
    assert_clean(appdb)


def test_no_way_to_block_connections_refuses_before_anything(appdb: AppDb, tmp_path: Path) -> None:
    name, _ = backup(appdb)
    change(appdb)
    before = appdb.fingerprint()
    run = restore(appdb, tmp_path, [name, "--maintenance-db=no_such_db"])
    assert run.code == 1, run.text
    assert "cannot block new connections" in run.out and "no_such_db does not exist" in run.out
    assert "--no-block-connections" in run.out  # the way out, named
    assert appdb.fingerprint() == before and pre_restore_manifests(appdb) == []
    run = restore(appdb, tmp_path, [name, "--maintenance-db=no_such_db", "--no-block-connections"])
    assert run.code == 0, run.text
    assert_clean(appdb)


def test_a_second_restore_never_terminates_the_first(appdb: AppDb, tmp_path: Path, prepared: str) -> None:
    name, _ = backup(appdb)
    change(appdb)
    before = appdb.fingerprint()
    first_dir = tmp_path / "first"
    first_dir.mkdir()
    proc, out, _err = _start(
        ["db", "restore", name, "--lock-timeout=30", "--no-block-connections"], _env(appdb, first_dir), first_dir
    )
    try:
        assert wait_until(lambda: "restore: waiting" in out.read_text(), 40), out.read_text()
        second = restore(appdb, tmp_path, [name, "--terminate", "--no-block-connections"])
        assert second.code == 1, second.text
        assert "another hotfix db restore is running" in second.out and "terminated pid" not in second.out
        assert proc.poll() is None  # the first one is still there, still waiting
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(60) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert appdb.fingerprint() == before
    assert_clean(appdb)


def test_a_session_we_may_not_end_is_named_and_nothing_is_touched(appdb: AppDb, tmp_path: Path) -> None:
    """A superuser's open transaction: the application role sees no state for it and may not terminate it."""
    name, _ = backup(appdb)
    change(appdb)
    before = appdb.fingerprint()
    admin = subprocess.Popen(
        ["psql", "-X", "-q", "-h", str(appdb.server.socket_dir), "-p", str(appdb.server.port), "-U", "postgres",
         "-d", appdb.name, "-f", "-"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        env={"PATH": os.environ.get("PATH", ""), "PGAPPNAME": "dba-console"},
    )  # fmt: skip
    try:
        assert admin.stdin is not None
        admin.stdin.write("BEGIN; SELECT count(*) FROM accounts;\n")
        admin.stdin.flush()
        assert wait_until(
            lambda: "dba-console" in appdb.server.superuser_sql("SELECT application_name FROM pg_stat_activity;"), 10
        )
        run = restore(appdb, tmp_path, [name, "--terminate"])
        assert run.code == 1, run.text
        assert "state hidden (needs pg_read_all_stats)" in run.out
        assert "could not terminate" in run.out and "pg_signal_backend" in run.out
        assert "data untouched" in run.out
        assert appdb.fingerprint() == before and pre_restore_manifests(appdb) == []
    finally:
        admin.kill()
        admin.wait()
    assert_clean(appdb)


def test_a_server_restart_mid_restore_is_reported_as_unknown_and_connections_come_back(tmp_path: Path) -> None:
    """Every session of ours dies with the server; ALLOW_CONNECTIONS false outlives the restart. The command must
    not claim 'rolled back' without a check it could not make, and connections must be allowed again."""
    from tests.db.conftest import SEED
    from tests.db.pgserver import remove_server, start_server

    server = start_server()
    try:
        server.superuser_sql(f"CREATE DATABASE shop OWNER {APP_USER} TEMPLATE template0;")
        db = AppDb(server=server, name="shop", backups=tmp_path / "backups")
        db.sql(SEED)
        name, _ = backup(db)
        change(db)
        before = db.fingerprint()
        db.sql("BEGIN; SELECT count(*) FROM orders; PREPARE TRANSACTION 'survives';")  # outlives the restart too
        work = tmp_path / "run"
        work.mkdir()
        proc, out, err = _start(["db", "restore", name, "--lock-timeout=60"], _env(db, work), work)
        try:
            assert wait_until(lambda: "restore: waiting" in out.read_text(), 40), out.read_text()
            assert not allowed(db)
            pg_ctl = [str(server.bindir / "pg_ctl"), "-D", str(server.data), "-l", str(server.base / "log")]
            subprocess.run(
                server._as_owner([*pg_ctl, "-m", "fast", "-w", "restart"]),
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60,
            )  # fmt: skip
            code = proc.wait(120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = out.read_text() + err.read_text()
        assert code == 3, text
        assert "end state: error - unknown" in text and "rolled back" not in text and "unchanged" not in text, text
        assert wait_until(lambda: allowed(db), 60), text  # the command or its guard allowed them again
        server.superuser_sql("ROLLBACK PREPARED 'survives';", "shop")
        assert db.fingerprint() == before
        assert not ours_on_server(server)
    finally:
        remove_server(server)
