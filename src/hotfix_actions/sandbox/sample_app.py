"""A small HTTP service for canary tests and the demo: real requests, real Prometheus metrics, knobs at run time.

Every path except the ones below is "the application": it waits a latency drawn from a lognormal (median and
sigma set at run time), answers 500 with the configured error probability and 200 otherwise, and counts it in
``http_requests_total{method,path,code}`` and ``http_request_duration_seconds`` (buckets 0.05 ... 5 s). The
labelled series for 200 and 500 exist from the start, so "no traffic" reads as zeros, not as a missing metric.

    GET  /metrics   Prometheus text format (this app's own registry)
    GET  /healthz   200 ok
    GET  /control   the knobs as JSON
    POST /control   {"error_rate": 0.05, "latency_median": 0.4, "latency_sigma": 0.3, "load_rps": 50}

``load_rps`` > 0 runs a built-in load generator: worker threads sending GET / to this app at that rate.

    python -m hotfix_actions.sandbox.sample_app --port 8080 --error-rate 0.01 --load 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from hotfix_actions.testing.http11 import KeepAliveHandler

__all__ = ["BUCKETS", "Knobs", "SampleApp", "main"]

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)
_MAX_BODY = 4096


@dataclass(frozen=True)
class Knobs:
    error_rate: float = 0.0
    latency_median: float = 0.02
    latency_sigma: float = 0.3
    load_rps: float = 0.0

    def checked(self) -> Knobs:
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError("error_rate must be within [0, 1]")
        if not (0.0 < self.latency_median <= 30.0 and 0.0 <= self.latency_sigma <= 3.0):
            raise ValueError("latency_median must be within (0, 30] s and latency_sigma within [0, 3]")
        if not 0.0 <= self.load_rps <= 2000.0:
            raise ValueError("load_rps must be within [0, 2000]")
        return self


class SampleApp:
    """One instance of the service on 127.0.0.1; ``start()`` binds a free port unless one is given."""

    def __init__(self, knobs: Knobs | None = None, *, port: int = 0, workers: int = 16, seed: int | None = None):
        self._knobs = (knobs or Knobs()).checked()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.restart_counters()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._workers = workers
        self._next_send = 0.0
        self.sent = 0
        self.send_failures = 0

    def restart_counters(self) -> None:
        """Counters from zero, as a new container's: what the app served before is no longer reported."""
        registry = CollectorRegistry()
        requests = Counter("http_requests_total", "HTTP requests.", ["method", "path", "code"], registry=registry)
        duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency.",
            ["method", "path"],
            buckets=BUCKETS,
            registry=registry,
        )
        for code in ("200", "500"):
            requests.labels("GET", "/", code)
        duration.labels("GET", "/")
        self.registry, self.requests, self.duration = registry, requests, duration

    # -- lifecycle -------------------------------------------------------------------------------------
    @classmethod
    def start(cls, knobs: Knobs | None = None, **kwargs: Any) -> SampleApp:
        app = cls(knobs, **kwargs)
        thread = threading.Thread(target=app._server.serve_forever, name="sample-app", daemon=True)
        thread.start()
        app._threads.append(thread)
        for i in range(app._workers):
            worker = threading.Thread(target=app._load_worker, name=f"sample-load-{i}", daemon=True)
            worker.start()
            app._threads.append(worker)
        return app

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> SampleApp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    # -- knobs -----------------------------------------------------------------------------------------
    @property
    def knobs(self) -> Knobs:
        with self._lock:
            return self._knobs

    def set(self, **changes: float) -> Knobs:
        with self._lock:
            self._knobs = replace(self._knobs, **changes).checked()
            return self._knobs

    # -- the application -------------------------------------------------------------------------------
    def serve_one(self, method: str, path: str) -> int:
        knobs = self.knobs
        with self._lock:
            latency = knobs.latency_median * math.exp(knobs.latency_sigma * self._random.gauss(0.0, 1.0))
            failed = self._random.random() < knobs.error_rate
        time.sleep(min(latency, 30.0))
        code = 500 if failed else 200
        label_path = path if path == "/" else "/other"
        self.requests.labels(method, label_path, str(code)).inc()
        self.duration.labels(method, label_path).observe(latency)
        return code

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        app = self

        class Handler(KeepAliveHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, code: int, body: bytes, content_type: str = "text/plain; charset=utf-8") -> None:
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(app.registry), CONTENT_TYPE_LATEST)
                elif path == "/healthz":
                    self._send(200, b"ok\n")
                elif path == "/control":
                    self._send(200, json.dumps(asdict(app.knobs)).encode(), "application/json")
                else:
                    code = app.serve_one("GET", path)
                    self._send(code, b"ok\n" if code == 200 else b"simulated failure\n")

            def do_POST(self) -> None:
                if self.path.split("?", 1)[0] != "/control":
                    self._send(404, b"not found\n")
                    return
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    if length > _MAX_BODY:
                        raise ValueError("body too large")
                    changes = json.loads(self.rfile.read(length) or b"{}")
                    if not isinstance(changes, dict) or set(changes) - set(asdict(app.knobs)):
                        raise ValueError(f"expected an object with keys from {sorted(asdict(app.knobs))}")
                    knobs = app.set(**{k: float(v) for k, v in changes.items()})
                except (ValueError, TypeError) as exc:
                    self._send(400, f"{exc}\n".encode())
                    return
                self._send(200, json.dumps(asdict(knobs)).encode(), "application/json")

        return Handler

    # -- load generator --------------------------------------------------------------------------------
    def _next_slot(self) -> float | None:
        """The time this worker should send its next request at; None while the load is off."""
        rate = self.knobs.load_rps
        if rate <= 0:
            return None
        with self._lock:
            now = time.monotonic()
            self._next_send = max(self._next_send + 1.0 / rate, now - 1.0)
            return self._next_send

    def _load_worker(self) -> None:
        conn: http.client.HTTPConnection | None = None
        while not self._stop.is_set():
            slot = self._next_slot()
            if slot is None:
                self._stop.wait(0.05)
                continue
            delay = slot - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=35)
                conn.request("GET", "/")
                conn.getresponse().read()
                self.sent += 1
            except (OSError, http.client.HTTPException):
                self.send_failures += 1
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run the sample app until interrupted.")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--latency-median", type=float, default=0.02)
    ap.add_argument("--latency-sigma", type=float, default=0.3)
    ap.add_argument("--load", type=float, default=0.0, help="requests per second from the built-in load generator")
    args = ap.parse_args(argv)
    knobs = Knobs(args.error_rate, args.latency_median, args.latency_sigma, args.load)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with SampleApp.start(knobs, port=args.port) as app:
        print(f"sample app on {app.url} (metrics at {app.url}/metrics)", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
