"""Item 6: a bounded time on a hung or dead API server. Every cluster command gives up within the cluster deadline
(default 15 s) with "cluster unreachable or not answering" and exit 3, however many calls it still had to make:
a server that accepts and never answers, a port nobody listens on, and a server that stops answering in the middle
of a rollback (a proxy in front of the sandbox that goes silent). Real `hotfix` processes, default settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.sandbox.cluster import write_kubeconfig
from tests.kube.kubefix import GOOD, GOOD2, NS, deployment, image_of, start_sandbox

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 15.0  # cluster.api_deadline's default
SLACK = 4.0  # interpreter start-up and the last short try, on a busy 2-core machine


class Silent:
    """A TCP server on 127.0.0.1 that forwards to ``upstream`` until ``hang()``; then it accepts and holds every
    connection without a byte of answer (a hung API server). Without an upstream it never answers at all."""

    def __init__(self, upstream: tuple[str, int] | None = None) -> None:
        self.upstream = upstream
        self.hung = threading.Event()
        if upstream is None:
            self.hung.set()
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def hang(self) -> None:
        self.hung.set()

    def _accept(self) -> None:
        self.server.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.held.append(conn)
            if not self.hung.is_set() and self.upstream is not None:
                threading.Thread(target=self._pipe, args=(conn,), daemon=True).start()

    def _pipe(self, conn: socket.socket) -> None:
        assert self.upstream is not None
        up = socket.create_connection(self.upstream)
        self.held.append(up)

        def copy(src: socket.socket, dst: socket.socket) -> None:
            src.settimeout(0.1)
            while not self.stop.is_set():
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                while self.hung.is_set() and not self.stop.is_set():  # silent from now on: hold the bytes
                    time.sleep(0.05)
                try:
                    dst.sendall(data)
                except OSError:
                    return

        threading.Thread(target=copy, args=(up, conn), daemon=True).start()
        copy(conn, up)

    def close(self) -> None:
        self.stop.set()
        self.server.close()
        for conn in self.held:
            conn.close()
        self.thread.join(timeout=5)


@pytest.fixture
def silent() -> Iterator[Silent]:
    server = Silent()
    try:
        yield server
    finally:
        server.close()


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", url)
    (tmp_path / ".hotfix.yml").write_text("version: 1\n")  # every cluster setting at its default
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTFIX_", "GITHUB_", "KUBECONFIG"))}
    return {**env, "HOTFIX_KUBECONFIG": str(kubeconfig), "HOTFIX_CONFIG": str(tmp_path / ".hotfix.yml"),
            "PYTHONPATH": str(ROOT / "src")}  # fmt: skip


def _hotfix(args: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "hotfix_actions", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    return done, time.monotonic() - began


COMMANDS = [
    ["rollback", "-d", "web", "--to-image", GOOD],
    ["promote", "-d", "web", "--image", GOOD2],
    ["status", "-d", "web"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_a_hung_server_costs_one_deadline(silent: Silent, tmp_path: Path, args: list[str]) -> None:
    done, took = _hotfix(args, _env(tmp_path, f"http://127.0.0.1:{silent.port}"))
    said = done.stdout + done.stderr
    assert done.returncode == 3, said
    assert "cluster unreachable or not answering" in said and f"127.0.0.1:{silent.port}" in said
    assert DEADLINE - 1 <= took <= DEADLINE + SLACK, f"{took:.1f}s"


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0])
def test_a_dead_server_is_named_within_the_deadline(tmp_path: Path, args: list[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    done, took = _hotfix(args, _env(tmp_path, f"http://127.0.0.1:{port}"))
    said = done.stdout + done.stderr
    assert done.returncode == 3, said
    assert "cluster unreachable or not answering" in said and "ConnectionRefusedError" in said
    assert took <= DEADLINE + SLACK, f"{took:.1f}s"


def test_a_server_that_goes_silent_mid_rollback_ends_it_within_the_deadline(tmp_path: Path) -> None:
    with start_sandbox() as sb:
        _slow_release(sb)
        proxy = Silent(("127.0.0.1", sb.port))
        try:
            env = _env(tmp_path, f"http://127.0.0.1:{proxy.port}")
            proc = subprocess.Popen([sys.executable, "-m", "hotfix_actions", "rollback", "-d", "web", "--to-image",
                                     GOOD, "--fail-fast-after", "300"], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)  # fmt: skip
            try:
                sb.wait_for(lambda: image_of(sb) == GOOD or proc.poll() is not None, timeout=30)
                assert proc.poll() is None, proc.communicate()
                time.sleep(1.0)  # waiting on the slow pods
                proxy.hang()
                hung = time.monotonic()
                out, err = proc.communicate(timeout=60)
                took = time.monotonic() - hung
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
        finally:
            proxy.close()
    said = out + err
    assert proc.returncode == 3, said
    assert "cluster unreachable or not answering" in said
    assert took <= DEADLINE + SLACK, f"{took:.1f}s after the server went silent\n{said}"


def _slow_release(sb: Sandbox) -> None:
    """The bad release's template has pods that take a minute to turn Ready: a rollback to another image waits."""
    manifest = deployment(image=GOOD2)
    sb.apply(manifest)
    sb.wait_rollout(NS, "web")
    manifest["spec"]["template"]["metadata"]["annotations"] = {"hotfix.test/ready-delay": "60s"}
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example/web:2.1"
    sb.apply(manifest)
