"""Prometheus instant queries (``GET /api/v1/query``), each under one wall-clock deadline.

The deadline covers everything a query does: name resolution, connect, TLS, sending, waiting for and reading every
byte of the answer. httpx's timeouts bound each socket operation only, so a server that trickles one byte a second
(or sends its headers slowly) would hold a poll as long as it likes; here the exchange runs in a worker thread, the
caller waits at most the deadline, and at the deadline the connection's socket is shut down so the worker ends too.
Every query opens its own connection (no keep-alive), which is what gives us the socket to shut.

Failures are typed: transport errors, the deadline, HTTP errors, ``status != "success"`` and unexpected result
types raise MetricsError (with the server's error type and message when it sent one). An empty vector is returned
as an empty list, so callers keep "no values found" apart from "query failed".

The URL passes the same allowlist as every other credentialed URL (``decide.names.url_problem``: https, or plain
http only to a loopback host), so a bearer token never crosses a network in clear text. ``allow_plain_http`` lets a
runner inside the cluster use plain http without a token (nothing secret travels then).
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from hotfix_actions.decide.names import url_problem
from hotfix_actions.errors import MetricsError, UsageError
from hotfix_actions.ports import MetricSample

__all__ = ["PrometheusMetrics", "curl_hint", "prometheus_url_problem"]

_MAX_BODY = 64 * 1024 * 1024  # a larger answer is not an instant vector a canary needs


def prometheus_url_problem(url: str, *, token: bool, allow_plain_http: bool = False) -> str | None:
    """Why ``url`` may not be used for Prometheus, or None. Plain http to another host only without a token and
    only when allowed explicitly (a runner inside the cluster); a token goes over https or to loopback only."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    if parts.username or parts.password:
        return "carries a user name or password, which would be logged; pass the token with --prometheus-token"
    problem = url_problem(url)
    if problem is None:
        return None
    if parts.scheme == "http" and allow_plain_http and not token:
        return None
    if parts.scheme == "http" and token:
        return (
            "is plain http to a host that is not loopback: the bearer token would cross the network in clear text; "
            "use https, or kubectl port-forward to 127.0.0.1"
        )
    if parts.scheme == "http":
        return (
            "is plain http to a host that is not loopback; use https, kubectl port-forward to 127.0.0.1, or set "
            "canary.allow_plain_http: true for a runner inside the cluster (never with a token)"
        )
    return problem


def curl_hint(base: str, deadline: float, *, token: bool = False) -> str:
    """The command that tests, from the runner, what the gate asks first."""
    header = ' -H "Authorization: Bearer $HOTFIX_PROMETHEUS_TOKEN"' if token else ""
    return f"curl -sS --max-time {deadline:g}{header} '{base}/api/v1/query?query=vector(1)'"


def _value(raw: Any) -> float:
    if not isinstance(raw, list | tuple) or len(raw) != 2 or not isinstance(raw[1], str):
        raise MetricsError(f"malformed sample value {raw!r}")
    try:
        return float(raw[1])  # "NaN", "+Inf" and "-Inf" parse; the judge refuses them
    except ValueError as exc:
        raise MetricsError(f"malformed sample value {raw[1]!r}") from exc


@dataclass
class _Exchange:
    """One query's worker state: the socket to shut at the deadline, and what the worker got."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sock: socket.socket | None = None
    expired: bool = False
    status: int = 0
    body: bytes = b""
    error: BaseException | None = None

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if event != "connection.connect_tcp.complete":
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self.lock:
            self.sock = sock if isinstance(sock, socket.socket) else None
            late = self.expired
        if late:
            self._shut()

    def expire(self) -> None:
        with self.lock:
            self.expired = True
        self._shut()

    def _shut(self) -> None:
        with self.lock:
            sock = self.sock
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked in the worker; close() alone would not


class PrometheusMetrics:
    """One Prometheus server. ``transport`` is the httpx seam for tests; production uses the default.

    ``deadline``: seconds one query may take in all (connect and every read). ``connect_timeout``: the part of it
    a TCP connect may take.
    """

    def __init__(
        self,
        url: str,
        *,
        deadline: float = 10.0,
        connect_timeout: float = 3.0,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        allow_plain_http: bool = False,
    ) -> None:
        if problem := prometheus_url_problem(url, token=bool(bearer_token), allow_plain_http=allow_plain_http):
            raise UsageError(f"{url!r} {problem}", input_name="--prometheus-url")
        if not (math.isfinite(deadline) and deadline > 0):
            raise UsageError(f"{deadline!r} must be a positive number of seconds", input_name="canary.query_timeout")
        self._base = url.rstrip("/")
        self.deadline = deadline
        self._token = bool(bearer_token)
        all_headers = {"Accept": "application/json", **(headers or {})}
        if bearer_token:
            all_headers["Authorization"] = f"Bearer {bearer_token}"
        self._client = httpx.Client(
            base_url=self._base,
            headers=all_headers,
            timeout=httpx.Timeout(deadline, connect=min(connect_timeout, deadline)),
            limits=httpx.Limits(max_keepalive_connections=0),
            transport=transport,
            follow_redirects=False,
        )

    def describe(self) -> str:
        return self._base

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusMetrics:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _deadline_error(self, elapsed: float) -> MetricsError:
        return MetricsError(
            f"Prometheus at {self._base} did not answer within {self.deadline:g}s (the query deadline, "
            f"canary.query_timeout; gave up after {elapsed:.1f}s)",
            fix=(
                f"test it from the runner: {curl_hint(self._base, self.deadline, token=self._token)}; a GitHub-hosted "
                "runner cannot reach an address inside the cluster (README: how the canary reaches Prometheus)"
            ),
        )

    def query(self, promql: str, *, at: float) -> list[MetricSample]:
        if not math.isfinite(at):
            raise ValueError("query time must be finite")
        params = {"query": promql, "time": f"{at:.3f}", "timeout": f"{round(max(0.5, self.deadline - 0.5) * 1000)}ms"}
        exchange = _Exchange()

        def work() -> None:
            try:
                with self._client.stream(
                    "GET", "/api/v1/query", params=params, extensions={"trace": exchange.trace}
                ) as response:
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > _MAX_BODY:
                            raise MetricsError(f"Prometheus answered more than {_MAX_BODY} bytes for one instant query")
                    exchange.status, exchange.body = response.status_code, bytes(body)
            except BaseException as exc:  # handed to the caller's thread
                exchange.error = exc

        began = time.monotonic()
        worker = threading.Thread(target=work, name="prometheus-query", daemon=True)
        worker.start()
        worker.join(self.deadline)
        if worker.is_alive():
            exchange.expire()
            raise self._deadline_error(time.monotonic() - began)
        if exchange.error is not None:
            exc = exchange.error
            if exchange.expired or isinstance(exc, httpx.TimeoutException):
                raise self._deadline_error(time.monotonic() - began) from exc
            if isinstance(exc, httpx.HTTPError):
                hint = curl_hint(self._base, self.deadline, token=self._token)
                fix = f"check that {self._base} is reachable from the runner: {hint}"
                raise MetricsError(f"Prometheus query failed: {exc}", fix=fix) from exc
            raise exc
        return self._answer(exchange.status, exchange.body)

    def _answer(self, status: int, content: bytes) -> list[MetricSample]:
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise MetricsError(f"Prometheus answered HTTP {status} without a JSON body")
        if body.get("status") != "success" or status != 200:
            kind = body.get("errorType") or f"HTTP {status}"
            raise MetricsError(f"Prometheus query failed: {kind}: {str(body.get('error') or 'no error text')[:300]}")
        return self._samples(body.get("data"))

    @staticmethod
    def _samples(data: Any) -> list[MetricSample]:
        if not isinstance(data, dict):
            raise MetricsError("Prometheus answer has no data")
        kind, result = data.get("resultType"), data.get("result")
        if kind == "scalar":
            return [MetricSample((), _value(result))]
        if kind != "vector":
            raise MetricsError(f"expected an instant vector, got a {kind} result", fix="use an instant-vector query")
        if not isinstance(result, list):
            raise MetricsError("Prometheus vector result is not a list")
        samples = []
        for item in result:
            if not isinstance(item, dict) or not isinstance(item.get("metric"), dict):
                raise MetricsError("malformed series in the Prometheus answer")
            labels = tuple(sorted((str(k), str(v)) for k, v in item["metric"].items()))
            samples.append(MetricSample(labels, _value(item.get("value"))))
        return samples
