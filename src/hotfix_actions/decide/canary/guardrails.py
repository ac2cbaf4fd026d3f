"""Guardrails: one value per interval for the canary (and the baseline), compared with min/max."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from hotfix_actions.decide.canary import fmt
from hotfix_actions.decide.canary.counters import histogram_quantile
from hotfix_actions.decide.canary.policy import Arm, Guardrail, Signal

__all__ = ["Check", "Result", "evaluate", "next_streak", "signal_value"]


class Result(StrEnum):
    OK = "ok"
    BREACH = "breach"
    SHARED = "shared incident"  # canary and baseline both out of bounds
    SKIPPED = "not evaluated"


@dataclass(frozen=True)
class Check:
    guardrail: Guardrail
    result: Result
    value: float | None
    baseline: float | None
    text: str


def signal_value(signal: Signal, arm: Arm | None, min_requests: int) -> float | None:
    """The guardrail's value for one arm and interval; None when it cannot be computed from enough data."""
    if arm is None:
        return None
    if signal is Signal.READY:
        if arm.ready is None or arm.desired is None:
            return None
        return arm.ready / arm.desired if arm.desired > 0 else 0.0
    if arm.requests < max(min_requests, 1):
        return None
    if signal is Signal.ERROR_RATE:
        return fmt.rate_of(arm.errors, arm.requests)
    if arm.buckets is None:
        return None
    return histogram_quantile(0.95, arm.buckets)


def _show(signal: Signal, value: float | None) -> str:
    if signal is Signal.ERROR_RATE:
        return fmt.pct(value)
    if signal is Signal.P95:
        return fmt.seconds(value)
    return fmt.pct(value)


def _out_of_bounds(g: Guardrail, value: float) -> str | None:
    if g.max is not None and value > g.max:
        return f"{_show(g.signal, value)} > max {_show(g.signal, g.max)}"
    if g.min is not None and value < g.min:
        return f"{_show(g.signal, value)} < min {_show(g.signal, g.min)}"
    return None


def evaluate(g: Guardrail, canary: Arm | None, baseline: Arm | None) -> Check:
    value = signal_value(g.signal, canary, g.min_requests)
    base = signal_value(g.signal, baseline, g.min_requests)
    if value is None:
        why = "no readiness data" if g.signal is Signal.READY else f"fewer than {g.min_requests} canary requests"
        return Check(g, Result.SKIPPED, None, base, f"{g.name}: not evaluated ({why})")
    breach = _out_of_bounds(g, value)
    if breach is None:
        return Check(g, Result.OK, value, base, f"{g.name}: {_show(g.signal, value)}")
    if g.shared_incident and base is not None and _out_of_bounds(g, base) is not None:
        return Check(
            g,
            Result.SHARED,
            value,
            base,
            f"{g.name}: canary {breach}, but the baseline too ({_show(g.signal, base)}): shared incident, not counted",
        )
    return Check(g, Result.BREACH, value, base, f"{g.name}: {breach}")


def next_streak(streak: int, check: Check) -> int:
    """Consecutive breaches: a breach adds one, a clean interval clears, anything else leaves it as it was."""
    if check.result is Result.BREACH:
        return streak + 1
    if check.result is Result.OK:
        return 0
    return streak
