"""`hotfix db restore --terminate` of a ~116 MB database with 20 idle connected clients, against what it replaces:
ending the sessions by hand (pg_terminate_backend) and a plain ``pg_restore --single-transaction --clean``.

Both run as separate processes on the same throwaway PostgreSQL server (tests/db/pgserver.py: 127.0.0.1, stopped at
the end), alternating, from the same dump. The hotfix run goes through the command people run (``python -m
hotfix_actions db restore``), so it pays what they pay: Python start-up, verifying the dump (checksum, table of
contents, full read), looking at the sessions, holding off writers, the verified pre-restore backup, blocking new
connections, the restore through its own session with a lock timeout, row counts before COMMIT, allowing connections
again and confirming none of its sessions is left. Its steps are timed from its own output lines.

    .venv/bin/python benchmarks/db_restore_live.py [--rounds 3] [--clients 20] [--scale 1.0]

Not a test: it prints the figures, nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.db.clients import Client, client_env  # noqa: E402
from tests.db.pgserver import APP_PASSWORD, APP_USER, PgServer, remove_server, start_server  # noqa: E402

DB = "bench"


def build(server: PgServer, scale: float) -> str:
    n = lambda base: int(base * scale)  # noqa: E731
    server.superuser_sql(f"CREATE DATABASE {DB} OWNER {APP_USER} TEMPLATE template0;")
    server.superuser_sql(
        f"""
SET ROLE {APP_USER};
CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL UNIQUE, balance numeric(12,2) NOT NULL,
                       created timestamptz NOT NULL DEFAULT now());
INSERT INTO accounts SELECT g, 'user' || g || '@example.com', g * 1.5 FROM generate_series(1, {n(260_000)}) g;
CREATE TABLE orders (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts(id), note text,
                     amount numeric(12,2));
INSERT INTO orders (account_id, note, amount)
  SELECT 1 + (g % {n(260_000)}), md5(g::text) || ' order', g % 1000 FROM generate_series(1, {n(600_000)}) g;
CREATE INDEX orders_account_idx ON orders (account_id);
CREATE TABLE events (id bigserial PRIMARY KEY, payload jsonb NOT NULL);
INSERT INTO events (payload) SELECT jsonb_build_object('k', g, 'v', md5(g::text)) FROM generate_series(1, {n(130_000)}) g;
VACUUM ANALYZE;
""",
        DB,
    )
    return server.superuser_sql(f"SELECT pg_size_pretty(pg_database_size('{DB}'));").strip()


def env(server: PgServer, backups: Path) -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": os.environ.get("HOME", "/root"),
        "DATABASE_URL": f"postgresql://{APP_USER}@127.0.0.1:{server.port}/{DB}",
        "PGPASSWORD": APP_PASSWORD,
        "HOTFIX_DB_BACKUP_DIR": str(backups),
    }


def idle_clients(server: PgServer, count: int) -> list[Client]:
    return [Client(server, DB, f"shop-idle-{i}") for i in range(count)]


def close(clients: list[Client]) -> None:
    for c in clients:
        c.close()


def plain(server: PgServer, dump: Path) -> float:
    """What an operator would do by hand: end every other session, then pg_restore in one transaction."""
    e = client_env(server, DB, "by-hand")
    started = time.monotonic()
    subprocess.run(
        ["psql", "-X", "-q", "-c",
         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
         f"WHERE datname = '{DB}' AND pid <> pg_backend_pid();"],
        env=e, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(
        ["pg_restore", "--single-transaction", "--exit-on-error", "--clean", "--if-exists", "--no-password",
         f"--dbname={DB}", str(dump)],
        env=e, check=True, capture_output=True,
    )  # fmt: skip
    return time.monotonic() - started


def hotfix(server: PgServer, backups: Path, name: str) -> tuple[float, list[tuple[float, str]]]:
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotfix_actions", "db", "restore", name, "--terminate"],
        env=env(server, backups),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[tuple[float, str]] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append((time.monotonic() - started, line.rstrip()))
    code = proc.wait()
    took = time.monotonic() - started
    if code != 0:
        sys.exit("hotfix db restore failed:\n" + "\n".join(text for _, text in lines))
    return took, lines


def steps(lines: list[tuple[float, str]]) -> dict[str, float]:
    """Seconds from the previous step line to each step line (▶ name: ...)."""
    out: dict[str, float] = {}
    last = 0.0
    for at, text in lines:
        if text.startswith("▶ ") and ":" in text:
            name = text[2:].split(":", 1)[0]
            out[name] = out.get(name, 0.0) + at - last
            last = at
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    server = start_server()
    work = Path(tempfile.mkdtemp(prefix="hotfix-bench-db-"))
    try:
        size = build(server, args.scale)
        backups = work / "backups"
        made = subprocess.run(
            [sys.executable, "-m", "hotfix_actions", "db", "backup", "--json"],
            env=env(server, backups), capture_output=True, text=True, check=True,
        )  # fmt: skip
        outputs = json.loads(made.stdout)["outputs"]
        name, dump = outputs["backup"], Path(outputs["dump"])
        print(f"database {DB}: {size}; dump {dump.stat().st_size / 1e6:.1f} MB; {args.clients} idle clients per run")
        plain_times: list[float] = []
        hotfix_times: list[float] = []
        breakdowns: list[dict[str, float]] = []
        for round_ in range(args.rounds):
            order = ("plain", "hotfix") if round_ % 2 == 0 else ("hotfix", "plain")
            for which in order:
                clients = idle_clients(server, args.clients)
                try:
                    if which == "plain":
                        plain_times.append(plain(server, dump))
                    else:
                        took, lines = hotfix(server, backups, name)
                        hotfix_times.append(took)
                        breakdowns.append(steps(lines))
                finally:
                    close(clients)
                for pre in backups.glob("*pre-restore*"):  # keep the disk use of the rounds flat
                    pre.unlink()
            print(f"round {round_ + 1}: plain {plain_times[-1]:.2f}s, hotfix {hotfix_times[-1]:.2f}s")
        p, h = statistics.median(plain_times), statistics.median(hotfix_times)
        print(f"\nplain pg_terminate_backend + pg_restore --single-transaction: median {p:.2f}s  {plain_times}")
        print(f"hotfix db restore --terminate:                              median {h:.2f}s  {hotfix_times}")
        print(f"ratio: {h / p:.2f}x (target <= 1.3x)")
        print("\nhotfix steps (median seconds until each step line):")
        for key in breakdowns[0]:
            print(f"  {key:28s} {statistics.median(b.get(key, 0.0) for b in breakdowns):6.2f}")
        # The step line after the pre-restore pg_dump is "block connections"; the restore itself (its script through
        # our session, the pre-restore read-back beside it, counts, COMMIT) ends at the "pre-restore backup" line.
        safety = statistics.median(
            sum(b.get(k, 0.0) for k in ("checksum", "table of contents", "full read", "block connections"))
            for b in breakdowns
        )
        print(f"\nverifying the dump and the pre-restore pg_dump (which the plain procedure skips): {safety:.2f}s")
        print(f"without them: {h - safety:.2f}s = {(h - safety) / p:.2f}x the plain procedure")
    finally:
        remove_server(server)
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
