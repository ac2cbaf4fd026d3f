"""The evidence the judge accumulates: log e-processes per alternative, non-inferiority e-processes, totals."""

from __future__ import annotations

import math
from dataclasses import dataclass

from hotfix_actions.decide.canary import fmt
from hotfix_actions.decide.canary.counters import slow_counts
from hotfix_actions.decide.canary.eprocess import (
    crossed,
    log_mean_exp,
    log_threshold,
    one_sample_log_lr,
    restart_log_e,
    restart_step,
    split_log_lr,
    split_share,
)
from hotfix_actions.decide.canary.policy import Arm, Policy

__all__ = [
    "Evidence",
    "empty",
    "errors_crossed",
    "latency_crossed",
    "log_e_errors",
    "log_e_latency",
    "not_worse",
    "pass_summary",
    "update",
]

ABSOLUTE_ALT_FACTOR = 10.0  # the absolute non-inferiority test's alternative: negligible_rate / 10


@dataclass(frozen=True)
class Evidence:
    err: tuple[float, ...]  # log S_t(psi_j) of the restart mixture, errors
    lat: tuple[tuple[float, ...], ...]  # per latency bound, per psi_j
    ni_err: tuple[float, float]  # non-inferiority logs for errors: (relative, absolute)
    ni_lat: tuple[tuple[float, float], ...]  # per latency bound
    canary_slow: tuple[float, ...]
    baseline_slow: tuple[float, ...]
    latency_seen: tuple[bool, ...]
    err_n: int = 0  # intervals folded into the error e-process
    lat_n: int = 0  # ... into the latency e-process
    canary_requests: float = 0.0
    baseline_requests: float = 0.0
    canary_errors: float = 0.0
    baseline_errors: float = 0.0
    canary_observed: float = 0.0  # histogram observations (requests with a latency)
    baseline_observed: float = 0.0
    errors_seen: bool = False


def empty(policy: Policy) -> Evidence:
    bounds = len(policy.latency_bounds)
    zeros = tuple(-math.inf for _ in policy.psi_grid)
    return Evidence(
        err=zeros,
        lat=tuple(zeros for _ in range(bounds)),
        ni_err=(0.0, 0.0),
        ni_lat=tuple((0.0, 0.0) for _ in range(bounds)),
        canary_slow=tuple(0.0 for _ in range(bounds)),
        baseline_slow=tuple(0.0 for _ in range(bounds)),
        latency_seen=tuple(False for _ in range(bounds)),
    )


def _ni(
    policy: Policy, previous: tuple[float, float], xc: float, xb: float, rho: float, nc: float
) -> tuple[float, float]:
    rule = policy.early_pass
    negligible = rule.negligible_rate
    relative = previous[0] - split_log_lr(xc, xb, rho, rule.margin)
    absolute = previous[1] + one_sample_log_lr(xc, nc, negligible, negligible / ABSOLUTE_ALT_FACTOR)
    return relative, absolute


def update(policy: Policy, e: Evidence, canary: Arm, baseline: Arm | None) -> Evidence:
    """Fold one interval in. ``baseline`` is None in one-arm (monitor) mode: totals only, no split test."""
    nb = baseline.requests if baseline is not None else 0.0
    err, ni_err, err_n, lat_n = e.err, e.ni_err, e.err_n, e.lat_n
    canary_errors, baseline_errors, errors_seen = e.canary_errors, e.baseline_errors, e.errors_seen
    base_errors = baseline.errors if baseline is not None else 0.0
    if canary.errors is not None and base_errors is not None:
        xc, xb = canary.errors, base_errors
        canary_errors += xc
        baseline_errors += xb
        errors_seen = True
        if baseline is not None:
            rho = split_share(canary.requests, nb)
            err_n += 1
            err = tuple(
                restart_step(v, split_log_lr(xc, xb, rho, psi), err_n)
                for v, psi in zip(err, policy.psi_grid, strict=True)
            )
            ni_err = _ni(policy, ni_err, xc, xb, rho, canary.requests)

    lat, ni_lat = list(e.lat), list(e.ni_lat)
    c_slow, b_slow, seen = list(e.canary_slow), list(e.baseline_slow), list(e.latency_seen)
    c_obs, b_obs = e.canary_observed, e.baseline_observed
    base_buckets = baseline.buckets if baseline is not None else {}
    if canary.buckets is not None and base_buckets is not None:
        slow_c = slow_counts(canary.buckets, policy.latency_bounds)
        slow_b = slow_counts(base_buckets, policy.latency_bounds) if baseline is not None else {}
        nc_obs = canary.buckets.get(math.inf, 0.0)
        nb_obs = base_buckets.get(math.inf, 0.0)
        c_obs += nc_obs
        b_obs += nb_obs
        rho = split_share(nc_obs, nb_obs)
        lat_n += 1 if baseline is not None else 0
        for k, bound in enumerate(policy.latency_bounds):
            present = bound in slow_c and (baseline is None or bound in slow_b)
            xc, xb = (slow_c[bound], slow_b.get(bound, 0.0)) if present else (0.0, 0.0)
            if present:
                c_slow[k] += xc
                b_slow[k] += xb
                seen[k] = True
            if baseline is not None:  # a bound missing from the histogram adds LR = 1: no evidence either way
                lat[k] = tuple(
                    restart_step(v, split_log_lr(xc, xb, rho, psi), lat_n)
                    for v, psi in zip(lat[k], policy.psi_grid, strict=True)
                )
                if present:
                    ni_lat[k] = _ni(policy, ni_lat[k], xc, xb, rho, nc_obs)
    return Evidence(
        err=err,
        lat=tuple(lat),
        ni_err=ni_err,
        ni_lat=tuple(ni_lat),
        canary_slow=tuple(c_slow),
        baseline_slow=tuple(b_slow),
        latency_seen=tuple(seen),
        canary_requests=e.canary_requests + canary.requests,
        baseline_requests=e.baseline_requests + nb,
        canary_errors=canary_errors,
        baseline_errors=baseline_errors,
        canary_observed=c_obs,
        baseline_observed=b_obs,
        errors_seen=errors_seen,
        err_n=err_n,
        lat_n=lat_n,
    )


def log_e_errors(e: Evidence) -> float:
    result: float = restart_log_e(e.err, e.err_n)
    return result


def _log_e_bound(e: Evidence, k: int) -> float:
    result: float = restart_log_e(e.lat[k], e.lat_n)
    return result


def log_e_latency(e: Evidence) -> float:
    """E_lat = the mean over latency bounds of each bound's e-process (an e-process itself, no Bonferroni)."""
    if not e.lat:
        return 0.0
    result: float = log_mean_exp([_log_e_bound(e, k) for k in range(len(e.lat))])
    return result


def _bound(policy: Policy, k: int) -> str:
    return fmt.seconds(policy.latency_bounds[k])


def errors_crossed(policy: Policy, e: Evidence) -> str | None:
    log_e = log_e_errors(e)
    if not crossed(log_e, policy.alpha_errors):
        return None
    return (
        f"errors: canary worse than baseline, e-value {fmt.e_value(log_e)} >= {1 / policy.alpha_errors:g} "
        f"(alpha {policy.alpha_errors:g}): canary {fmt.count(e.canary_errors)} errors / "
        f"{fmt.count(e.canary_requests)} requests ({fmt.pct(fmt.rate_of(e.canary_errors, e.canary_requests))}) "
        f"vs baseline {fmt.count(e.baseline_errors)} / {fmt.count(e.baseline_requests)} "
        f"({fmt.pct(fmt.rate_of(e.baseline_errors, e.baseline_requests))})"
    )


def latency_crossed(policy: Policy, e: Evidence) -> str | None:
    log_e = log_e_latency(e)
    if not crossed(log_e, policy.alpha_latency) or not e.lat:
        return None
    k = max(range(len(e.lat)), key=lambda i: _log_e_bound(e, i))
    return (
        f"latency: canary slower than baseline, e-value {fmt.e_value(log_e)} >= {1 / policy.alpha_latency:g} "
        f"(alpha {policy.alpha_latency:g}): requests slower than {_bound(policy, k)}: canary "
        f"{fmt.count(e.canary_slow[k])} of {fmt.count(e.canary_observed)} "
        f"({fmt.pct(fmt.rate_of(e.canary_slow[k], e.canary_observed))}) vs baseline {fmt.count(e.baseline_slow[k])} "
        f"of {fmt.count(e.baseline_observed)} ({fmt.pct(fmt.rate_of(e.baseline_slow[k], e.baseline_observed))})"
    )


def _shown(policy: Policy, name: str, logs: tuple[float, float]) -> str | None:
    rule = policy.early_pass
    threshold = log_threshold(rule.alpha / 2)
    relative, absolute = logs
    if relative >= threshold:
        return f"{name}: not {rule.margin:g}x worse than baseline (E {fmt.e_value(relative)} >= {2 / rule.alpha:g})"
    if absolute >= threshold:
        shown = f"E {fmt.e_value(absolute)} >= {2 / rule.alpha:g}"
        return f"{name}: canary rate below {fmt.pct(rule.negligible_rate)} ({shown})"
    return None


def not_worse(policy: Policy, e: Evidence) -> list[str] | None:
    """The early-pass evidence, one text per signal; None while any signal is not yet shown not worse."""
    shown: list[str] = []
    if e.errors_seen:
        text = _shown(policy, "errors", e.ni_err)
        if text is None:
            return None
        shown.append(text)
    else:
        shown.append("errors: no data (ignored)")
    any_latency = False
    for k, seen in enumerate(e.latency_seen):
        if not seen:
            continue
        any_latency = True
        text = _shown(policy, f"requests slower than {_bound(policy, k)}", e.ni_lat[k])
        if text is None:
            return None
        shown.append(text)
    if not any_latency:
        shown.append("latency: no histogram data at the configured bounds (ignored)")
    return shown


def pass_summary(policy: Policy, e: Evidence, intervals: int) -> str:
    parts = [f"no failing signal in {intervals} intervals"]
    if policy.compare:
        parts.append(
            f"errors e-value {fmt.e_value(log_e_errors(e))} < {1 / policy.alpha_errors:g}, "
            f"latency e-value {fmt.e_value(log_e_latency(e))} < {1 / policy.alpha_latency:g}"
        )
    parts.append(
        f"canary {fmt.count(e.canary_requests)} requests, {fmt.count(e.canary_errors)} errors "
        f"({fmt.pct(fmt.rate_of(e.canary_errors, e.canary_requests))})"
    )
    if policy.compare:
        parts.append(
            f"baseline {fmt.count(e.baseline_requests)} requests, {fmt.count(e.baseline_errors)} errors "
            f"({fmt.pct(fmt.rate_of(e.baseline_errors, e.baseline_requests))})"
        )
    return "duration complete: " + "; ".join(parts)
