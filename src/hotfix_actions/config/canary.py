"""`canary:` the canary gate and `hotfix monitor`: where the metrics are, how to judge, how to deploy and undo."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig
from hotfix_actions.decide.canary.policy import DEFAULT_GUARDRAILS
from hotfix_actions.decide.canary.templates import DEFAULT_QUERIES, DEFAULT_SELECTOR

__all__ = ["CanaryConfig", "EarlyPassConfig", "GuardrailConfig", "MetricQuery", "MonitorConfig"]


@dataclass(frozen=True)
class MetricQuery:
    """A PromQL template (variables: namespace, deployment, track, window, selector) and how to read it."""

    query: str
    kind: str = "counter"  # counter: cumulative per series, differenced with reset handling | increase: per window
    on_no_data: str = "fail"  # fail | inconclusive | ignore (not for requests)


def _default_metrics() -> Mapping[str, MetricQuery]:
    return MappingProxyType({name: MetricQuery(query) for name, query in DEFAULT_QUERIES.items()})


@dataclass(frozen=True)
class GuardrailConfig:
    """error_rate and p95: an absolute limit (``max``) watched by a sequential test; ready: pods ready (``min``),
    failing after ``consecutive`` polls below it. ``shared_incident`` (default true): a limit is judged against
    the baseline, so a canary over it fails only when it is also worse than the baseline; false makes the limit
    fail on its own, outside the false-rollback budget (see README)."""

    name: str
    signal: str  # error_rate | p95 | ready
    max: float | None = None
    min: float | None = None
    consecutive: int | None = None  # ready only (default 5)
    shared_incident: bool = True


def _default_guardrails() -> tuple[GuardrailConfig, ...]:
    out = []
    for g in DEFAULT_GUARDRAILS:
        consecutive = g.consecutive if g.max is None else None  # only pods ready counts polls in a row
        out.append(GuardrailConfig(g.name, g.signal.value, g.max, g.min, consecutive, g.shared_incident))
    return tuple(out)


@dataclass(frozen=True)
class EarlyPassConfig:
    enabled: bool = True
    margin: float = 2.0
    negligible_rate: float = 0.005
    alpha: float = 0.05


@dataclass(frozen=True)
class MonitorConfig:
    duration: str = "10m"
    interval: str = "15s"


@dataclass(frozen=True)
class CanaryConfig(SectionConfig):
    SECTION: ClassVar[str] = "canary"

    prometheus_url: str | None = None
    interval: str = "15s"
    duration: str = "10m"
    ready_timeout: str = "5m"
    replicas: int = 1
    suffix: str = "-canary"
    baseline: str | None = None  # a Deployment to compare with; default: the primary
    track_label: str = "track"
    rollback: str = "scale-to-zero"  # scale-to-zero | primary-image
    selector: str = DEFAULT_SELECTOR
    metrics: Mapping[str, MetricQuery] = field(default_factory=_default_metrics)
    alpha: float = 0.01  # split equally between the error and the latency e-processes
    latency_bounds: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    min_requests: int = 200
    consecutive_error_limit: int = 4
    query_timeout: float = 10.0  # seconds one Prometheus query may take in all (connect and every read)
    analysis_timeout: float | None = None  # the whole analysis; default duration + 2 intervals + query_timeout
    allow_plain_http: bool = False  # plain http to a non-loopback Prometheus, only without a token
    scrape_interval: float = 15.0  # Prometheus' scrape interval: the canary is read that much before the baseline
    require_power: bool = False  # a PASS at the end of the duration needs the power to see the early-pass margin
    early_pass: EarlyPassConfig = field(default_factory=EarlyPassConfig)
    guardrails: tuple[GuardrailConfig, ...] = field(default_factory=_default_guardrails)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
