"""Application clients for the live-restore tests: psql sessions that hold transactions and locks, and streams of
readers and writers that measure how long each of their queries took."""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.db.pgserver import APP_PASSWORD, APP_USER, PgServer


def client_env(server: PgServer, database: str, app: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PGHOST": "127.0.0.1",
        "PGPORT": str(server.port),
        "PGUSER": APP_USER,
        "PGPASSWORD": APP_PASSWORD,
        "PGDATABASE": database,
        "PGAPPNAME": app,
        "PGCONNECT_TIMEOUT": "5",
        "LC_ALL": "C",
    }


class Client:
    """One psql session kept open (like an application's pooled connection). ``run`` waits for an answer."""

    def __init__(self, server: PgServer, database: str, app: str) -> None:
        self.app = app
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0", "-f", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=client_env(server, database, app),
            text=True,
            bufsize=1,
        )
        self.pid = int(self.run("SELECT pg_backend_pid();")[0])

    def send(self, sql: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(sql + "\n")
        self.proc.stdin.flush()

    def run(self, sql: str, timeout: float = 30.0) -> list[str]:
        """Run ``sql``; its output lines; raises TimeoutError when no answer comes (a blocked query)."""
        marker = f"@@done-{secrets.token_hex(4)}"
        self.send(f"{sql}\n\\echo {marker}")
        lines: list[str] = []
        box: list[bool] = []

        def read() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                if line.strip() == marker:
                    box.append(True)
                    return
                lines.append(line.rstrip("\n"))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not box:
            raise TimeoutError(f"{self.app}: no answer to {sql!r} within {timeout}s: {lines}")
        return lines

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Stream:
    """Readers and writers in threads, each query on its own short connection (and a few pooled readers that
    reconnect when terminated). Records every query's wall time and whether it got an answer."""

    server: PgServer
    database: str
    readers: int = 2
    writers: int = 1
    pooled: int = 0
    pause: float = 0.05
    read_times: list[float] = field(default_factory=list)
    write_times: list[float] = field(default_factory=list)
    refused: int = 0  # connection attempts refused (database not accepting connections)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _one(self, sql: str, app: str, times: list[float]) -> None:
        started = time.monotonic()
        proc = subprocess.run(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
            env=client_env(self.server, self.database, app),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        took = time.monotonic() - started
        if proc.returncode == 0:
            times.append(took)
        elif "not currently accepting connections" in proc.stderr:
            self.refused += 1
        else:
            self.errors.append(proc.stderr.strip()[:200])
            times.append(took)  # a query that failed after waiting still waited

    def _reader(self, n: int) -> None:
        while not self._stop.is_set():
            self._one("SELECT count(*) FROM orders;", f"shop-reader-{n}", self.read_times)
            time.sleep(self.pause)

    def _writer(self, n: int) -> None:
        while not self._stop.is_set():
            self._one(
                "INSERT INTO orders (account_id, note) VALUES (1, 'stream write');",
                f"shop-writer-{n}",
                self.write_times,
            )
            time.sleep(self.pause)

    def _pooled(self, n: int) -> None:
        client: Client | None = None
        while not self._stop.is_set():
            try:
                if client is None or client.proc.poll() is not None:
                    client = Client(self.server, self.database, f"shop-pool-{n}")
                started = time.monotonic()
                out = client.run("SELECT count(*) FROM orders;", timeout=120)
                took = time.monotonic() - started
                if out and out[-1].strip().isdigit():
                    self.read_times.append(took)
                else:  # terminated: the pool reconnects
                    client.close()
                    client = None
            except (ValueError, IndexError, TimeoutError, OSError):
                if client is not None:
                    client.close()
                client = None
                time.sleep(0.1)
            time.sleep(self.pause)
        if client is not None:
            client.close()

    def start(self) -> Stream:
        for n in range(self.readers):
            self._threads.append(threading.Thread(target=self._reader, args=(n,), daemon=True))
        for n in range(self.writers):
            self._threads.append(threading.Thread(target=self._writer, args=(n,), daemon=True))
        for n in range(self.pooled):
            self._threads.append(threading.Thread(target=self._pooled, args=(n,), daemon=True))
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(130)


@contextmanager
def stream(server: PgServer, database: str, **kwargs: object) -> Iterator[Stream]:
    s = Stream(server, database, **kwargs).start()  # type: ignore[arg-type]
    try:
        yield s
    finally:
        s.stop()


def ours_on_server(server: PgServer) -> list[str]:
    """Every server session a hotfix restore opened (any run), as 'pid application' lines."""
    out = server.superuser_sql(
        "SELECT pid || ' ' || application_name FROM pg_stat_activity WHERE application_name LIKE 'hotfix-db/%';"
    )
    return [line for line in out.splitlines() if line.strip()]


def wait_until(pred: object, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if pred():  # type: ignore[operator]
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
