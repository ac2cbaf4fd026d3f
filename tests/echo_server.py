"""A hostile HTTP server for the tests: records every request and answers with an error whose body echoes the request
back (method, path with query, every header, the body), as a careless or malicious server would. Binds 127.0.0.1,
stopped at the end of the test."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from hotfix_actions.testing.http11 import KeepAliveHandler

__all__ = ["EchoServer", "Request", "echo_server"]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class EchoServer:
    status: int = 500
    as_json: bool = False  # answer {"message": <echo>} (what API clients parse) instead of plain text
    straddle: int = 0  # > 0: the first line is this much padding, then every header value, so a cut at about this
    # many characters falls inside a secret
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        outer = self

        class Handler(KeepAliveHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                outer.requests.append(Request(self.command, self.path, headers, body))
                echo = f"{self.command} {self.path}\n" + "".join(f"{k}: {v}\n" for k, v in headers.items())
                echo += body.decode("utf-8", "replace")
                if outer.straddle:  # the credentials first, right where a cut at ~200 characters falls
                    secret_first = [headers.get("Authorization", ""), self.path, *headers.values()]
                    echo = "x" * outer.straddle + " ".join(filter(None, secret_first)) + "\n" + echo
                payload = (json.dumps({"message": echo}) if outer.as_json else echo).encode()
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json" if outer.as_json else "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()
    try:
        yield server
    finally:
        server.stop()
