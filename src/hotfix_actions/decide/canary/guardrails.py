"""Guardrails: absolute limits (error rate, p95) as sequential tests, and pods ready as a fact.

A limit (``max``) folds each interval into its own e-process (limits.py) and is "over" while that e-process is at or
above ``1/alpha`` (the alpha of the signal: errors or latency). What "over" does depends on who else is watching:

- one arm (monitor): over is a breach, and a breach fails;
- canary against baseline, ``shared_incident`` (default): over is a breach only when the split test of the same
  signal also shows the canary worse than the baseline (that test fails the canary anyway, so the limit spends none
  of the false-rollback budget; it adds its numbers to the reasons). Over without it is a shared incident: not
  counted, but no PASS while it lasts;
- ``shared_incident: false``: over is a breach on its own (outside the budget; off by default).

Pods ready (``min``) is read from the cluster: a breach per poll below ``min``, a fail after ``consecutive`` in a
row, a clean poll clears the streak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from hotfix_actions.decide.canary import fmt, limits
from hotfix_actions.decide.canary.counters import histogram_quantile
from hotfix_actions.decide.canary.eprocess import crossed
from hotfix_actions.decide.canary.policy import Arm, Guardrail, Policy, Signal

__all__ = ["Check", "Result", "alpha_of", "evaluate", "is_limit", "limit_of", "next_streak", "signal_value"]


class Result(StrEnum):
    OK = "ok"
    BREACH = "breach"
    SHARED = "shared incident"  # over the limit, the canary not shown worse than the baseline: not counted
    SKIPPED = "not evaluated"


@dataclass(frozen=True)
class Check:
    guardrail: Guardrail
    result: Result
    value: float | None
    baseline: float | None
    text: str
    log_e: float | None = None  # the limit's e-value (error rate, p95)


def is_limit(g: Guardrail) -> bool:
    return g.signal is not Signal.READY


def alpha_of(policy: Policy, g: Guardrail) -> float:
    return policy.alpha_errors if g.signal is Signal.ERROR_RATE else policy.alpha_latency


def limit_of(g: Guardrail) -> float:
    """The rate ``q`` the limit's test is about."""
    if g.signal is Signal.ERROR_RATE:
        assert g.max is not None
        return g.max
    return limits.P95_SHARE


def signal_value(signal: Signal, arm: Arm | None) -> float | None:
    """This interval's value for one arm (shown in rows and reasons); None without data."""
    if arm is None:
        return None
    if signal is Signal.READY:
        if arm.ready is None or arm.desired is None:
            return None
        return arm.ready / arm.desired if arm.desired > 0 else 0.0
    if signal is Signal.ERROR_RATE:
        return fmt.rate_of(arm.errors, arm.requests)
    return histogram_quantile(0.95, arm.buckets) if arm.buckets is not None else None


def _show(signal: Signal, value: float | None) -> str:
    return fmt.seconds(value) if signal is Signal.P95 else fmt.pct(value)


def _counts(g: Guardrail, arm: Arm) -> tuple[float, float, str] | None:
    """(events, trials, what) of this interval for a limit; None when the arm has no such data."""
    if g.signal is Signal.ERROR_RATE:
        return None if arm.errors is None else (arm.errors, arm.requests, "errors")
    if arm.buckets is None or math.inf not in arm.buckets or g.max is None:
        return None
    edge = limits.slow_edge(g.max, arm.buckets)
    if edge is None:
        return None
    total = arm.buckets[math.inf]
    return max(0.0, total - arm.buckets[edge]), total, f"requests slower than {fmt.seconds(edge)}"


def _ready(g: Guardrail, canary: Arm | None, baseline: Arm | None) -> Check:
    value, base = signal_value(g.signal, canary), signal_value(g.signal, baseline)
    if value is None:
        return Check(g, Result.SKIPPED, None, base, f"{g.name}: not evaluated (no readiness data)")
    if g.min is not None and value < g.min:
        breach = f"{_show(g.signal, value)} < min {_show(g.signal, g.min)}"
        if g.shared_incident and base is not None and base < g.min:
            text = f"{g.name}: canary {breach}, but the baseline too ({_show(g.signal, base)}): not counted"
            return Check(g, Result.SHARED, value, base, text)
        return Check(g, Result.BREACH, value, base, f"{g.name}: {breach}")
    return Check(g, Result.OK, value, base, f"{g.name}: {_show(g.signal, value)}")


def evaluate(
    policy: Policy,
    g: Guardrail,
    state: limits.LimitState | None,
    canary: Arm,
    baseline: Arm | None,
    canary_worse: bool,
) -> tuple[limits.LimitState | None, Check]:
    """One interval of one guardrail. ``canary_worse``: the split test of this signal has crossed."""
    if not is_limit(g) or state is None:
        return state, _ready(g, canary, baseline)
    value, base = signal_value(g.signal, canary), signal_value(g.signal, baseline)
    counts = _counts(g, canary)
    if counts is None:
        why = "no error counts" if g.signal is Signal.ERROR_RATE else "no histogram bucket edge at or above the limit"
        return state, Check(g, Result.SKIPPED, value, base, f"{g.name}: not evaluated ({why})")
    events, trials, what = counts
    q = limit_of(g)
    state = limits.fold(state, q, events, trials)
    log_e = limits.log_e(state)
    alpha = alpha_of(policy, g)
    limit_text = f"max {_show(g.signal, g.max)}"
    if g.signal is Signal.P95:
        limit_text += f" (more than {fmt.pct(q)} of {what.removeprefix('requests ')})"
    if not crossed(log_e, alpha):
        text = f"{g.name}: {_show(g.signal, value)} this interval, not shown over {limit_text}"
        return state, Check(g, Result.OK, value, base, text, log_e)
    shown = (
        f"{g.name}: canary shown over {limit_text}, e-value {fmt.e_value(log_e)} >= {1 / alpha:g}: "
        f"{fmt.count(state.events)} {what} of {fmt.count(state.trials)}"
    )
    if policy.compare and g.shared_incident and not canary_worse:
        text = f"{shown}; not shown worse than the baseline ({_show(g.signal, base)}): shared incident, not counted"
        return state, Check(g, Result.SHARED, value, base, text, log_e)
    return state, Check(g, Result.BREACH, value, base, shown, log_e)


def next_streak(streak: int, check: Check) -> int:
    """Consecutive breaches (pods ready): a breach adds one, a clean poll clears, anything else keeps it."""
    if is_limit(check.guardrail):
        return 0
    if check.result is Result.BREACH:
        return streak + 1
    if check.result is Result.OK:
        return 0
    return streak
