"""From one poll's query results to the judge's Observation: validate, difference counters, handle resets.

A poll holds, per arm and metric, the query's series or its error. Counter metrics are cumulative per series;
the interval's counts are the increases from the last *complete* poll, with resets handled per instance across
every metric of the arm (counters.interval_counts), so an interval lost to a failed query is folded into the next
good one instead of being dropped. The first complete poll is the starting point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from hotfix_actions.decide.canary.counters import Labels, Snapshot, interval_counts, parse_le
from hotfix_actions.decide.canary.judge import classify
from hotfix_actions.decide.canary.policy import METRICS, Arm, Observation, Policy, Problem, ProblemKind

__all__ = ["Poll", "QueryResult", "Tracker", "observe"]

Sample = tuple[Labels, float]


@dataclass(frozen=True)
class QueryResult:
    samples: tuple[Sample, ...] = ()
    error: str | None = None  # the query failed: transport, timeout, non-success status


@dataclass(frozen=True)
class Poll:
    elapsed: float  # seconds since the analysis started
    at: float  # Unix time the queries were evaluated at
    results: Mapping[str, Mapping[str, QueryResult]]  # arm role -> metric -> result
    ready: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # arm role -> (ready, desired)


@dataclass(frozen=True)
class Tracker:
    """The snapshots of the last complete poll (None before the starting point)."""

    snapshots: Mapping[str, Mapping[str, Snapshot]] | None = None


def _check(metric: str, arm: str, kind: str, result: QueryResult) -> Problem | None:
    if result.error is not None:
        return Problem(metric, arm, ProblemKind.QUERY_FAILED, result.error)
    if not result.samples:
        return Problem(metric, arm, ProblemKind.NO_DATA, "the query returned an empty vector")
    values = [v for _, v in result.samples]
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        return Problem(metric, arm, ProblemKind.NOT_FINITE, f"{bad[0]} in {len(bad)} of {len(values)} series")
    if any(v < 0 for v in values):
        return Problem(metric, arm, ProblemKind.BAD_DATA, "negative count")
    if metric == "latency":
        les = [dict(labels).get("le") for labels, _ in result.samples]
        if any(le is None or parse_le(le) is None for le in les):
            return Problem(metric, arm, ProblemKind.BAD_DATA, "a histogram series without a numeric le label")
        if kind == "increase" and len(set(les)) != len(les):
            return Problem(metric, arm, ProblemKind.MANY_SERIES, "several series per le bucket; aggregate by le")
    elif kind == "increase" and len(values) > 1:
        shown = ", ".join("{" + ",".join(f"{k}={v}" for k, v in labels) + "}" for labels, _ in result.samples[:3])
        return Problem(metric, arm, ProblemKind.MANY_SERIES, f"{len(values)} series where one was expected: {shown}")
    return None


def _buckets(samples: Snapshot) -> dict[float, float]:
    out: dict[float, float] = {}
    for labels, value in samples.items():
        le = parse_le(dict(labels).get("le", ""))
        if le is not None:
            out[le] = out.get(le, 0.0) + value
    return dict(sorted(out.items()))


def _arm(
    kinds: Mapping[str, str],
    now: Mapping[str, Snapshot],
    before: Mapping[str, Snapshot],
    ready: tuple[int, int] | None,
) -> tuple[Arm, list[str]]:
    """One arm's interval counts (None for a metric left out) and notes on resets and new instances."""
    counters = [m for m in now if kinds.get(m, "counter") == "counter"]
    split = interval_counts({m: before.get(m, {}) for m in counters}, {m: now[m] for m in counters})
    values: dict[str, Snapshot] = {m: split.deltas.get(m, {}) if m in counters else now[m] for m in now}
    notes = []
    if split.reset:
        notes.append(f"counter reset (a restarted process), counted from zero: {', '.join(split.reset)}")
    if split.started:
        notes.append(f"new instance, starting point only: {', '.join(split.started)}")
    if split.no_latency:
        notes.append(f"histogram left out this interval (buckets changed): {', '.join(split.no_latency)}")
    arm = Arm(
        requests=sum(values["requests"].values()) if "requests" in values else 0.0,
        errors=sum(values["errors"].values()) if "errors" in values else None,
        buckets=_buckets(values["latency"]) if "latency" in values else None,
        ready=ready[0] if ready else None,
        desired=ready[1] if ready else None,
    )
    return arm, notes


def observe(
    policy: Policy,
    kinds: Mapping[str, str],
    tracker: Tracker,
    poll: Poll,
    arms: Mapping[str, str],
) -> tuple[Observation | None, Tracker, list[str]]:
    """``arms`` maps roles (canary, baseline) to the names used in reasons. Returns the observation (None for the
    starting point), the new tracker, and notes (counter resets, ignored metrics)."""
    problems: list[Problem] = []
    current: dict[str, dict[str, Snapshot]] = {}
    for role, name in arms.items():
        current[role] = {}
        for metric in METRICS:
            result = poll.results.get(role, {}).get(metric, QueryResult(error="not queried"))
            problem = _check(metric, name, kinds.get(metric, "counter"), result)
            if problem is not None:
                problems.append(problem)
            else:
                current[role][metric] = dict(result.samples)
    errors, inconclusive, ignored = classify(policy, tuple(problems))
    if errors or inconclusive:
        return Observation(poll.elapsed, None, None, tuple(problems)), tracker, []
    previous = tracker.snapshots
    new_tracker = Tracker({role: dict(m) for role, m in current.items()})
    if previous is None:
        return None, new_tracker, ["starting point recorded"]

    notes = [p.text() + " (ignored)" for p in ignored]
    built: dict[str, Arm] = {}
    for role, name in arms.items():
        built[role], arm_notes = _arm(kinds, current[role], previous.get(role, {}), poll.ready.get(role))
        notes += [f"{name}: {note}" for note in arm_notes]
    obs = Observation(poll.elapsed, built.get("canary"), built.get("baseline"), tuple(ignored))
    return obs, new_tracker, notes
