"""The evidence the judge accumulates: log e-processes per alternative, non-inferiority e-processes, totals."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from hotfix_actions.decide.canary import fmt
from hotfix_actions.decide.canary.counters import slow_counts
from hotfix_actions.decide.canary.eprocess import (
    crossed,
    log_mean_exp,
    log_threshold,
    one_sample_log_lr,
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
    err: tuple[float, ...]  # log of the product of the intervals' LR(psi_j) since the start, errors
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
    prev_err: tuple[float, float] | None = None  # the baseline's (errors, requests) of the last interval
    prev_slow: tuple[tuple[float, float] | None, ...] = ()  # per bound: (slow, observed)
    moving_err: bool = False  # the baseline's error rate moved into the last interval
    moving_slow: tuple[bool, ...] = ()
    # the products again, with the last interval's baseline counts taken up to the baseline's next counts
    err_alt: tuple[float, ...] = ()
    lat_alt: tuple[tuple[float, ...], ...] = ()
    unsettled: int = 0  # intervals left out of a split test because the baseline's rate moved


def empty(policy: Policy) -> Evidence:
    bounds = len(policy.latency_bounds)
    zeros = tuple(0.0 for _ in policy.psi_grid)  # log of each product, all start at 1
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


def moved(before: tuple[float, float] | None, after: tuple[float, float] | None) -> bool:
    """The baseline's rate of an event changed between two stretches of time, beyond doubt: at least 5 events,
    a rate at least twice the other, and 3 standard deviations apart (binomial, given the events)."""
    if before is None or after is None:
        return False
    (x1, n1), (x2, n2) = before, after
    events = x1 + x2
    if n1 <= 0 or n2 <= 0 or events < 5:
        return False
    r1, r2 = x1 / n1, x2 / n2
    if max(r1, r2) < 2 * min(r1, r2):
        return False
    share = n2 / (n1 + n2)
    return abs(x2 - events * share) >= 3.0 * math.sqrt(events * share * (1 - share))


def _slow_pair(buckets: Mapping[float, float] | None, bound: float) -> tuple[float, float] | None:
    if buckets is None or bound not in buckets or math.inf not in buckets:
        return None
    return max(0.0, buckets[math.inf] - buckets[bound]), buckets[math.inf]


def update(
    policy: Policy,
    e: Evidence,
    canary: Arm,
    baseline: Arm | None,
    ahead: Arm | None = None,
    behind: Arm | None = None,
) -> Evidence:
    """Fold one interval in. ``baseline`` is None in one-arm (monitor) mode: totals only, no split test.

    An interval is left out of a signal's split test when the baseline's rate of that signal moved into it, out of
    it (against ``ahead``, its next counts), or into the interval before: the arms' counters are scraped at
    different moments, so around such a change one arm can hold more of it than the other. A regression of the
    canary does not move the baseline; under a steady baseline (the null) the test of a move fires about once in
    thousands of intervals. ``behind`` (first interval only) is the baseline's interval before the start.

    With ``ahead``, the last interval is also scored against the baseline's counts up to its next counts (``_alt``):
    a burst of errors that reached the canary's counters in this interval and the baseline's only in the next one
    shows there. The tests cross only when both scores do (a further condition on a rejection keeps the bound)."""
    nb = baseline.requests if baseline is not None else 0.0
    grid = policy.psi_grid
    err, ni_err, err_n, lat_n = e.err, e.ni_err, e.err_n, e.lat_n
    err_alt = err
    canary_errors, baseline_errors, errors_seen = e.canary_errors, e.baseline_errors, e.errors_seen
    base_errors = baseline.errors if baseline is not None else 0.0
    bounds = len(policy.latency_bounds)
    prev_err, prev_slow, unsettled = e.prev_err, list(e.prev_slow or [None] * bounds), e.unsettled
    moving_err, moving_slow = e.moving_err, list(e.moving_slow or [False] * bounds)
    if behind is not None and prev_err is None:
        prev_err = (behind.errors, behind.requests) if behind.errors is not None else None
        prev_slow = [_slow_pair(behind.buckets, bound) for bound in policy.latency_bounds]
    if canary.errors is not None and base_errors is not None:
        xc, xb = canary.errors, base_errors
        canary_errors += xc
        baseline_errors += xb
        errors_seen = True
        now = (xb, nb) if baseline is not None else None
        ahead_err = (ahead.errors, ahead.requests) if ahead is not None and ahead.errors is not None else None
        into = moved(prev_err, now)
        steady = not (moving_err or into or moved(now, ahead_err))
        prev_err, moving_err = now, into
        unsettled += not steady
        if baseline is not None and steady:
            rho = split_share(canary.requests, nb)
            err_n += 1
            xb2, nb2 = (xb + ahead_err[0], nb + ahead_err[1]) if ahead_err is not None else (xb, nb)
            rho2 = split_share(canary.requests, nb2)
            err_alt = tuple(v + split_log_lr(xc, xb2, rho2, psi) for v, psi in zip(err, grid, strict=True))
            err = tuple(v + split_log_lr(xc, xb, rho, psi) for v, psi in zip(err, grid, strict=True))
            ni_err = _ni(policy, ni_err, xc, xb, rho, canary.requests)

    lat, ni_lat = list(e.lat), list(e.ni_lat)
    lat_alt = list(e.lat)
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
            now = _slow_pair(base_buckets, bound) if baseline is not None else None
            into = moved(prev_slow[k], now)
            later = _slow_pair(ahead.buckets if ahead else None, bound)
            steady = not (moving_slow[k] or into or moved(now, later))
            prev_slow[k], moving_slow[k] = now, into
            # a bound missing from the histogram, or a moving baseline, adds LR = 1: no evidence either way
            if baseline is not None and steady:
                xb2, nb2 = (xb + later[0], nb_obs + later[1]) if later is not None else (xb, nb_obs)
                rho2 = split_share(nc_obs, nb2)
                lat_alt[k] = tuple(v + split_log_lr(xc, xb2, rho2, psi) for v, psi in zip(lat[k], grid, strict=True))
                lat[k] = tuple(v + split_log_lr(xc, xb, rho, psi) for v, psi in zip(lat[k], grid, strict=True))
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
        prev_err=prev_err,
        prev_slow=tuple(prev_slow),
        unsettled=unsettled,
        moving_err=moving_err,
        moving_slow=tuple(moving_slow),
        err_alt=err_alt,
        lat_alt=tuple(lat_alt),
    )


def log_e_errors(e: Evidence) -> float:
    """log E of the errors test: the smaller of the two scores of the last interval (see ``update``)."""
    result: float = log_mean_exp(e.err)
    if e.err_alt:
        result = min(result, log_mean_exp(e.err_alt))
    return result


def _log_e_bound(e: Evidence, k: int) -> float:
    result: float = log_mean_exp(e.lat[k])
    if e.lat_alt:
        result = min(result, log_mean_exp(e.lat_alt[k]))
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
