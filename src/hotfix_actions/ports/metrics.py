"""Metrics: instant queries against Prometheus (or a replay of recorded ones)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


# -- metrics (issue 4) ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricSample:
    """One series of an instant-query result: its sorted label pairs and its value (NaN and +-Inf kept as such)."""

    labels: tuple[tuple[str, str], ...]
    value: float


class Metrics(Protocol):
    """A Prometheus-compatible query API (``metrics.PrometheusMetrics``, httpx inside).

    ``query`` evaluates PromQL at the Unix time ``at``. An empty vector is an empty list ("no values found"),
    never an error; a failed query (transport, timeout, non-success status, a result that is not a vector or
    scalar) raises MetricsError.
    """

    def query(self, promql: str, *, at: float) -> list[MetricSample]: ...

    def describe(self) -> str:
        """The server URL, for logs (no credentials)."""
        ...


class NullMetrics:
    """No Prometheus configured: every query fails, so a gate can never pass without metrics."""

    def query(self, promql: str, *, at: float) -> list[MetricSample]:
        from hotfix_actions.errors import MetricsError

        raise MetricsError("no Prometheus URL configured", fix="pass --prometheus-url or set HOTFIX_PROMETHEUS_URL")

    def describe(self) -> str:
        return "no Prometheus"
