"""A Prometheus that answers instant queries (``GET /api/v1/query``) as the real one does for the tool's default
queries, about Deployments that run in a cluster: each Deployment serves ``rps`` requests a second, and the share
that fail is what ``health(namespace, deployment, image)`` says for the image the Deployment runs *now* (read from
the cluster at each query). Counters are cumulative and only grow, integrated over wall-clock time (a query
about a past time reads the history), so the canary judge and the monitor see a release turn bad the moment it is
rolled out and good again when it is rolled back. Binds 127.0.0.1; stopped by ``close()``.
"""

from __future__ import annotations

import bisect
import http.server
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

_DEPLOYMENT = re.compile(r'deployment="([^"]+)"')
_NAMESPACE = re.compile(r'namespace="([^"]+)"')

Health = Callable[[str, str, str], float]  # (namespace, deployment, image) -> share of requests that fail
ImageOf = Callable[[str, str], str]  # (namespace, deployment) -> image it runs now ("" when absent)


@dataclass
class _Series:
    """Cumulative counts at increasing times; a query in the past reads between two of them (linearly)."""

    at: float
    requests: float = 0.0
    errors: float = 0.0
    history: list[tuple[float, float, float]] = field(default_factory=list)

    def value(self, at: float) -> tuple[float, float]:
        if at >= self.at:
            return self.requests, self.errors
        points = self.history
        index = bisect.bisect_right(points, (at, math.inf, math.inf))
        if index == 0:
            return 0.0, 0.0
        t0, r0, e0 = points[index - 1]
        if index == len(points):
            return r0, e0
        t1, r1, e1 = points[index]
        w = (at - t0) / (t1 - t0) if t1 > t0 else 0.0
        return r0 + w * (r1 - r0), e0 + w * (e1 - e0)


@dataclass
class FakePrometheus:
    image_of: ImageOf
    health: Health = field(default=lambda ns, d, image: 0.0)
    rps: float = 80.0
    queries: int = 0
    asked: list[tuple[str, float]] = field(default_factory=list)
    _series: dict[tuple[str, str], _Series] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakePrometheus:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path != "/api/v1/query":
                    self.send_error(404)
                    return
                body = json.dumps(owner.answer(query.get("query", ""), float(query.get("time", "0")))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that hung up (a query past its deadline) is not news

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def _advance(self, namespace: str, deployment: str, at: float) -> _Series:
        key = (namespace, deployment)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _Series(at=at, history=[(at, 0.0, 0.0)])
        if at > series.at:
            image = self.image_of(namespace, deployment)
            share = self.health(namespace, deployment, image) if image else 0.0
            served = self.rps * (at - series.at) if image else 0.0
            series.requests += served
            series.errors += served * share
            series.at = at
            series.history.append((at, series.requests, series.errors))
        return series

    def answer(self, promql: str, at: float) -> dict[str, Any]:
        with self._lock:
            self.queries += 1
            self.asked.append((promql, at))
            if promql.strip() == "vector(1)":
                return _vector([({}, 1.0)])
            deployment = _DEPLOYMENT.search(promql)
            namespace = _NAMESPACE.search(promql)
            if deployment is None or namespace is None:
                return _vector([])
            series = self._advance(namespace.group(1), deployment.group(1), time.time())
            requests, errors = series.value(at)
            labels = {"instance": f"{deployment.group(1)}:8080"}
            if "http_request_duration_seconds_bucket" in promql:
                n = math.floor(requests)
                return _vector([({**labels, "le": le}, float(n)) for le in ("0.25", "0.5", "1", "2", "+Inf")])
            if "5.." in promql:
                return _vector([(labels, float(math.floor(errors)))])
            return _vector([(labels, float(math.floor(requests)))])


def _vector(samples: list[tuple[dict[str, str], float]]) -> dict[str, Any]:
    result = [{"metric": labels, "value": [0, repr(value)]} for labels, value in samples]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}
