"""What the canary judge is told: the policy (thresholds, limits, alphas) and one observation per interval."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from hotfix_actions.decide.canary.eprocess import PSI_GRID

__all__ = [
    "DEFAULT_GUARDRAILS",
    "METRICS",
    "Arm",
    "EarlyPass",
    "Guardrail",
    "NoData",
    "Observation",
    "Policy",
    "Problem",
    "ProblemKind",
    "Signal",
]

METRICS = ("requests", "errors", "latency")


class Signal(StrEnum):
    """What a guardrail looks at, per interval, on the canary."""

    ERROR_RATE = "error_rate"  # errors / requests
    P95 = "p95"  # seconds, interpolated from the histogram buckets
    READY = "ready"  # ready pods / desired pods


class NoData(StrEnum):
    """What an empty result means for a metric."""

    FAIL = "fail"  # a failed measurement: counts toward consecutive_error_limit, ends in ERROR
    INCONCLUSIVE = "inconclusive"  # an inconclusive interval: no evidence, no early pass
    IGNORE = "ignore"  # the metric is left out of the decision for that interval


class ProblemKind(StrEnum):
    QUERY_FAILED = "query failed"  # transport error, timeout, non-success status
    NO_DATA = "no data"  # an empty vector
    NOT_FINITE = "not finite"  # NaN or +-Inf
    MANY_SERIES = "several series"  # where one was expected
    BAD_DATA = "bad data"  # inconsistent counts, negative values, missing labels


@dataclass(frozen=True)
class Problem:
    metric: str  # requests | errors | latency | ready
    arm: str  # canary | baseline
    kind: ProblemKind
    detail: str

    def text(self) -> str:
        return f"{self.arm} {self.metric}: {self.kind.value}: {self.detail}"


@dataclass(frozen=True)
class Arm:
    """One arm's counts over one interval (already differenced), plus its pod readiness at the end of it."""

    requests: float
    errors: float | None = None  # None: no usable error data this interval
    buckets: Mapping[float, float] | None = None  # le -> cumulative count over the interval; None: no data
    ready: int | None = None
    desired: int | None = None


@dataclass(frozen=True)
class Observation:
    """One poll: seconds since the analysis started, both arms, and what went wrong reading them."""

    elapsed: float
    canary: Arm | None
    baseline: Arm | None = None
    problems: tuple[Problem, ...] = ()
    ahead: Arm | None = None  # the baseline's next counts (read later than both arms): shows a change coming
    behind: Arm | None = None  # first interval only: the baseline's counts just before the starting point


@dataclass(frozen=True)
class Guardrail:
    """A limit on the canary.

    ``error_rate`` and ``p95`` (``max``): a sequential test of "the canary's rate is above the limit" (limits.py),
    never a raw ratio on a handful of requests. With ``shared_incident`` (the default) the limit is judged against
    the baseline: over it, the canary fails only when the split test of the same signal also shows it worse than
    the baseline, so the limit spends none of the false-rollback budget; over it without that, it is a shared
    incident, and the limit only holds back a PASS while it lasts. ``shared_incident=False`` fails on the limit
    alone, at the signal's alpha, outside the budget (documented, off by default). In one-arm mode (monitor) the
    limit is the test, at the signal's alpha.

    ``ready`` (``min``): ready pods / desired pods, a fact read from the cluster, not an estimate; fails after
    ``consecutive`` polls below ``min``.
    """

    name: str
    signal: Signal
    max: float | None = None
    min: float | None = None
    consecutive: int = 5  # ready only
    shared_incident: bool = True


DEFAULT_GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail("error rate", Signal.ERROR_RATE, max=0.05),
    Guardrail("p95 latency", Signal.P95, max=2.0),
    Guardrail("pods ready", Signal.READY, min=1.0, consecutive=5, shared_incident=False),
)


@dataclass(frozen=True)
class EarlyPass:
    """PASS before the duration is over once the canary is shown not worse (anytime-valid, level ``alpha``).

    Per signal (errors, and slow requests at each latency bound) either test suffices, each at ``alpha / 2``:
    relative, "the canary's rate is not ``margin`` times the baseline's"; absolute, "the canary's rate is below
    ``negligible_rate``".
    """

    enabled: bool = True
    margin: float = 2.0
    negligible_rate: float = 0.005
    alpha: float = 0.05


@dataclass(frozen=True)
class Policy:
    alpha_errors: float = 0.005
    alpha_latency: float = 0.005
    psi_grid: tuple[float, ...] = PSI_GRID
    latency_bounds: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0)
    min_requests: int = 200
    early_pass: EarlyPass = field(default_factory=EarlyPass)
    guardrails: tuple[Guardrail, ...] = DEFAULT_GUARDRAILS
    consecutive_error_limit: int = 4
    on_no_data: Mapping[str, NoData] = field(default_factory=dict)
    compare: bool = True  # False: one arm (monitor), guardrails only
    require_power: bool = False  # a PASS at the end needs the power to detect the early-pass margin

    def no_data(self, metric: str) -> NoData:
        return self.on_no_data.get(metric, NoData.FAIL)
