"""The metrics adapter: Prometheus' HTTP API through httpx (the only place httpx talks to Prometheus)."""

from __future__ import annotations

from hotfix_actions.metrics.prometheus import PrometheusMetrics

__all__ = ["PrometheusMetrics"]
