"""Prometheus instant queries (``GET /api/v1/query``) with a connect and a read timeout on every call.

Failures are typed: transport errors, timeouts, HTTP errors, ``status != "success"`` and unexpected result types
raise MetricsError (with the server's error type and message when it sent one). An empty vector is returned as
an empty list, so callers keep "no values found" apart from "query failed".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from hotfix_actions.errors import MetricsError, UsageError
from hotfix_actions.ports import MetricSample

__all__ = ["PrometheusMetrics"]


def _value(raw: Any) -> float:
    if not isinstance(raw, list | tuple) or len(raw) != 2 or not isinstance(raw[1], str):
        raise MetricsError(f"malformed sample value {raw!r}")
    try:
        return float(raw[1])  # "NaN", "+Inf" and "-Inf" parse; the judge refuses them
    except ValueError as exc:
        raise MetricsError(f"malformed sample value {raw[1]!r}") from exc


class PrometheusMetrics:
    """One Prometheus server. ``transport`` is the httpx seam for tests; production uses the default."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        bearer_token: str | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"{url!r} is not an http(s) URL", input_name="--prometheus-url")
        if parts.username or parts.password:
            raise UsageError(
                "credentials in the URL would be logged", input_name="--prometheus-url", fix="use --prometheus-token"
            )
        self._base = url.rstrip("/")
        self._read_timeout = read_timeout
        all_headers = {"Accept": "application/json", **(headers or {})}
        if bearer_token:
            all_headers["Authorization"] = f"Bearer {bearer_token}"
        self._client = httpx.Client(
            base_url=self._base,
            headers=all_headers,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
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

    def query(self, promql: str, *, at: float) -> list[MetricSample]:
        if not math.isfinite(at):
            raise ValueError("query time must be finite")
        params = {"query": promql, "time": f"{at:.3f}", "timeout": f"{max(1.0, self._read_timeout - 1):g}s"}
        try:
            response = self._client.get("/api/v1/query", params=params)
        except httpx.TimeoutException as exc:
            raise MetricsError(
                f"Prometheus query timed out: {type(exc).__name__}", fix="check the server load"
            ) from exc
        except httpx.HTTPError as exc:
            raise MetricsError(f"Prometheus query failed: {exc}", fix=f"check that {self._base} is reachable") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise MetricsError(f"Prometheus answered HTTP {response.status_code} without a JSON body")
        if body.get("status") != "success" or response.status_code != 200:
            kind = body.get("errorType") or f"HTTP {response.status_code}"
            raise MetricsError(f"Prometheus query failed: {kind}: {body.get('error') or 'no error text'}")
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
