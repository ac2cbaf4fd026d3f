"""Anytime-valid e-processes for canary-vs-baseline counts (canary-statistics.md §1).

Each arm is a Poisson stream of requests; an event (an error, or a request slower than a bound) comes from the
canary with probability ``theta = rho*psi / (rho*psi + 1 - rho)``, where ``rho`` is the canary's share of the
requests in the poll interval and ``psi`` the ratio of the canary's event rate to the baseline's. Under
``psi = 1`` the likelihood ratio of each interval has conditional mean 1, so the running product is a
nonnegative martingale and Ville's inequality bounds the chance of ever crossing ``1/alpha`` by ``alpha``, however
often and irregularly we look.

    log LR_i(psi) = x_c * log(psi) - (x_c + x_b) * log(1 + rho_i * (psi - 1))

A regression can start late (a cron job, a cache expiry, traffic that reaches new code later). Intervals before
the onset push every ``psi > 1`` product down, and a product started at 0 must climb out of that hole. So the
e-process also mixes over the interval it starts from, with weights fixed in advance that sum to 1: ``w_0`` on
the start and ``(1 - w_0) / (s (s + 1))`` on a start after interval ``s``:

    S_t(psi) = (S_{t-1}(psi) + w_{t-1}) * LR_t(psi),   S_0 = 0
    E_t      = (1/J) sum_j S_t(psi_j) + sum_{s >= t} w_s          (the starts still to come count as 1)

A fixed convex mixture of martingales that start at 1 is a martingale that starts at 1, so Ville's bound holds
unchanged; the price is ``log(1/w_s)`` extra evidence for a regression that starts after interval ``s``.

The split tests (canary against baseline) do not mix over later starts: they are the psi-mixture of products from
the first interval (``w_0 = 1``). The two arms' counters are scraped at different moments, so a shared incident
or a burst of errors reaches one arm's counters up to a scrape interval before the other's; a product from the
start holds both edges of such an event once it is over, while a product started in its middle would hold one
edge only, and at 10x-100x incidents that alone crosses (measured: a fifth of the runs). The intervals in which
the baseline's own rate moves are left out of the split tests (evidence.py). The one-arm limits (limits.py) keep
the restarts: one arm has no edges to compare.

The functions take an :class:`Ops` so the same code runs on floats (the judge) and on numpy arrays (the
benchmark). They do no I/O and read no clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Any

__all__ = [
    "PSI_GRID",
    "SCALAR",
    "START_WEIGHT",
    "Ops",
    "crossed",
    "log_mean_exp",
    "log_threshold",
    "one_sample_log_lr",
    "restart_log_e",
    "restart_step",
    "split_log_lr",
    "split_share",
    "start_weight",
    "tail_weight",
]

# The mixture of alternatives: J = 10 ratios, equal weights.
PSI_GRID: tuple[float, ...] = (1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 300.0, 1000.0)
# The weight of the product that starts with the first interval; the rest is spread over later starts.
START_WEIGHT = 0.8


@dataclass(frozen=True)
class Ops:
    """The few elementwise functions the formulas need: ``math`` for floats, numpy for arrays."""

    log: Callable[[Any], Any]
    log1p: Callable[[Any], Any]
    exp: Callable[[Any], Any]
    maximum: Callable[[Any, Any], Any]


SCALAR = Ops(log=math.log, log1p=math.log1p, exp=math.exp, maximum=max)


def split_share(canary_requests: Any, baseline_requests: Any, ops: Ops = SCALAR) -> Any:
    """rho_i: the canary's share of the interval's requests; 1/2 when neither arm served any (no evidence)."""
    total = canary_requests + baseline_requests
    if ops is SCALAR:
        return canary_requests / total if total > 0 else 0.5
    safe = ops.maximum(total, 1e-300)
    share = canary_requests / safe
    return share * (total > 0) + 0.5 * (total <= 0)


def split_log_lr(x_canary: Any, x_baseline: Any, rho: Any, psi: float, ops: Ops = SCALAR) -> Any:
    """log LR_i(psi) of one interval: ``x_c log psi - (x_c + x_b) log(1 + rho (psi - 1))``.

    ``-split_log_lr(..., psi=m)`` is the log-likelihood ratio of "no worse" (psi = 1) against "m times worse",
    which is the non-inferiority e-process used for an early pass.
    """
    return x_canary * math.log(psi) - (x_canary + x_baseline) * ops.log1p(rho * (psi - 1.0))


def one_sample_log_lr(events: Any, trials: Any, p_null: float, p_alt: float, ops: Ops = SCALAR) -> Any:
    """log LR of a rate ``p_alt`` against ``p_null`` for ``events`` out of ``trials`` (Bernoulli requests)."""
    return (
        events * math.log(p_alt / p_null)
        + (trials - events) * math.log1p(-p_alt)
        - (trials - events) * math.log1p(-p_null)
    )


def log_mean_exp(logs: Sequence[Any], ops: Ops = SCALAR) -> Any:
    """log of the equal-weight mixture ``(1/J) sum_j exp(logs[j])``, computed stably."""
    if not logs:
        raise ValueError("empty mixture")
    top = reduce(ops.maximum, logs)
    total = sum((ops.exp(value - top) for value in logs), start=0.0 * top)
    return top + ops.log(total) - math.log(len(logs))


def log_threshold(alpha: float) -> float:
    """``log(1/alpha)``: an e-process at or above it rejects at level alpha."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return math.log(1.0 / alpha)


def crossed(log_e: Any, alpha: float) -> Any:
    """True (elementwise) where the e-value reached ``1/alpha``."""
    return log_e >= log_threshold(alpha) - 1e-12


def start_weight(s: int, w0: float = START_WEIGHT) -> float:
    """w_s: the prior weight of the product over intervals after ``s`` (s = 0: all of them)."""
    if s < 0:
        raise ValueError("start index must be >= 0")
    return w0 if s == 0 else (1.0 - w0) / (s * (s + 1))


def tail_weight(t: int, w0: float = START_WEIGHT) -> float:
    """sum_{s >= t} w_s: the starts not yet begun after ``t`` intervals, each still worth 1."""
    return 1.0 if t <= 0 else (1.0 - w0) / t


def restart_step(log_s: Any, increment: Any, t: int, ops: Ops = SCALAR, w0: float = START_WEIGHT) -> Any:
    """log S_t from log S_{t-1} (-inf before the first interval) and this interval's log LR; ``t`` is 1-based."""
    weight = start_weight(t - 1, w0)
    if weight <= 0.0:
        return log_s + increment
    log_w = math.log(weight)
    top = ops.maximum(log_s, log_w)
    return top + ops.log(ops.exp(log_s - top) + ops.exp(log_w - top)) + increment


def restart_log_e(log_s: Sequence[Any], t: int, ops: Ops = SCALAR, w0: float = START_WEIGHT) -> Any:
    """log E_t: the psi-mixture of the restart sums plus the weight of the starts still to come."""
    if t <= 0:
        return 0.0  # nothing folded in yet: E_0 = 1
    mixed = log_mean_exp(log_s, ops)
    tail = tail_weight(t, w0)
    if tail <= 0.0:
        return mixed
    log_tail = math.log(tail)
    top = ops.maximum(mixed, log_tail)
    return top + ops.log(ops.exp(mixed - top) + ops.exp(log_tail - top))
