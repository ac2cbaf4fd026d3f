"""Absolute limits as sequential tests: "the canary's rate of events is above ``q``", anytime-valid.

An error-rate limit: ``q`` = the maximum rate, events = errors, trials = requests. A p95 limit ``L``: "p95 > L" is
"more than 5% of the requests are slower than L", so ``q`` = 0.05, events = requests slower than the smallest
bucket edge at or above L (fewer than the requests slower than L when L is not an edge: conservative), trials = the
histogram's observations. Per interval, for each alternative rate ``p`` above ``q``:

    log LR_i(p) = x_i log(p / q) + (n_i - x_i) log((1 - p) / (1 - q))

Under any true rate at or below ``q`` each factor has conditional mean at most 1 (a supermartingale), so the same
restart mixture over start times and equal mixture over alternatives as the split tests (eprocess.py) crosses
``1/alpha`` with probability at most ``alpha``, however many intervals it sees and whatever their sizes. A handful
of requests moves it little: one error in ten requests is not "over 5%".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hotfix_actions.decide.canary.eprocess import one_sample_log_lr, restart_log_e, restart_step

__all__ = ["FACTORS", "P95_SHARE", "LimitState", "alternatives", "empty", "fold", "log_e", "slow_edge"]

FACTORS: tuple[float, ...] = (1.2, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0)
P95_SHARE = 0.05  # p95 > L  <=>  more than this share of requests slower than L


@dataclass(frozen=True)
class LimitState:
    logs: tuple[float, ...]  # log S_t per alternative (restart mixture)
    n: int = 0  # intervals folded in
    events: float = 0.0
    trials: float = 0.0


def alternatives(q: float) -> tuple[float, ...]:
    if not 0.0 < q < 1.0:
        raise ValueError(f"a rate limit must be in (0, 1), got {q}")
    alts = tuple(q * f for f in FACTORS if q * f < 1.0)
    return alts or ((1.0 + q) / 2,)


def empty(q: float) -> LimitState:
    return LimitState(tuple(-math.inf for _ in alternatives(q)))


def fold(state: LimitState, q: float, events: float, trials: float) -> LimitState:
    """One interval: ``events`` out of ``trials`` (an interval without trials adds nothing but time)."""
    n = state.n + 1
    logs = tuple(
        restart_step(v, one_sample_log_lr(events, trials, q, p), n)
        for v, p in zip(state.logs, alternatives(q), strict=True)
    )
    return LimitState(logs, n, state.events + events, state.trials + trials)


def log_e(state: LimitState) -> float:
    result: float = restart_log_e(state.logs, state.n)
    return result


def slow_edge(limit: float, buckets: Mapping[float, float]) -> float | None:
    """The smallest finite bucket edge at or above ``limit``; None when the histogram has none."""
    edges = [le for le in buckets if math.isfinite(le) and le >= limit - 1e-12]
    return min(edges) if edges else None
