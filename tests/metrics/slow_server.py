"""A misbehaving Prometheus for deadline tests, run as its own process on 127.0.0.1 (stopped by pid).

    python -m tests.metrics.slow_server MODE        # prints the port on the first line, then serves until killed

Modes: ``hang`` reads the request and never answers; ``trickle`` sends a valid status line and headers, then one
byte of body every 0.2 s for ever; ``slow-headers`` sends the status line and headers one byte every 0.2 s for ever;
``ok`` answers a valid empty vector at once. Every connection is handled in its own thread.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BODY = b'{"status":"success","data":{"resultType":"vector","result":[]}}'


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def _drip(conn: socket.socket, data: bytes) -> None:
    for i in range(len(data)):
        conn.sendall(data[i : i + 1])
        time.sleep(0.2)


def _handle(conn: socket.socket, mode: str) -> None:
    try:
        _read_request(conn)
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        if mode == "ok":
            conn.sendall(head + b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)
        elif mode == "hang":
            while conn.recv(4096):
                pass
        elif mode == "trickle":
            conn.sendall(head + b"Content-Length: 1000000\r\n\r\n")
            while True:
                _drip(conn, b" ")
        elif mode == "slow-headers":
            while True:
                _drip(conn, head + b"X-Padding: " + b"x" * 1000)
    except OSError:
        pass
    finally:
        conn.close()


def serve(mode: str) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    print(server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=_handle, args=(conn, mode), daemon=True).start()


@contextmanager
def running(mode: str) -> Iterator[str]:
    """Start the server in its own process; yield its base URL; stop it by pid."""
    import os
    import signal
    import subprocess

    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.metrics.slow_server", mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    serve(sys.argv[1])
