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
WAIT_POLLS = 4  # a new canary may have no series for this many polls (or WAIT_SECONDS) before it is an error
WAIT_SECONDS = 45.0  # after the read time of the first poll: a first scrape and the target's discovery


@dataclass(frozen=True)
class QueryResult:
    samples: tuple[Sample, ...] = ()
    error: str | None = None  # the query failed: transport, timeout, non-success status


@dataclass(frozen=True)
class Poll:
    elapsed: float  # seconds since the analysis started
    at: float  # Unix time of the poll: the arms are read at ``at - canary_lag``, the lookahead at ``at``
    results: Mapping[str, Mapping[str, QueryResult]]  # arm role -> metric -> result
    ready: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # arm role -> (ready, desired)
    canary_lag: float = 0.0  # seconds the arms were read before the poll (the ``lookahead`` role: at the poll)


@dataclass(frozen=True)
class Tracker:
    """The snapshots of the last complete poll (None before the starting point)."""

    snapshots: Mapping[str, Mapping[str, Snapshot]] | None = None
    behind: Arm | None = None  # the baseline's interval before the starting point, for the first observation
    waited: int = 0  # polls spent waiting for a new canary's first scrape
    baseline_then: Mapping[str, Snapshot] | None = None  # the baseline at the last of those polls


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
    extra: dict[str, dict[str, Snapshot]] = {"lookahead": {}, "lookbehind": {}}
    for role, snapshots in extra.items():
        if role not in poll.results or "baseline" not in arms:
            continue
        for metric in METRICS:
            result = poll.results[role].get(metric, QueryResult(error="not queried"))
            problem = _check(metric, f"{arms['baseline']} ({role})", kinds.get(metric, "counter"), result)
            if problem is not None:
                problems.append(problem)
            else:
                snapshots[metric] = dict(result.samples)
    ahead = extra["lookahead"]
    errors, inconclusive, ignored = classify(policy, tuple(problems))
    canary_name = arms.get("canary")
    if (
        tracker.snapshots is None
        and (tracker.waited < WAIT_POLLS or poll.elapsed - poll.canary_lag <= WAIT_SECONDS)
        and errors
        and all(p.kind is ProblemKind.NO_DATA and p.arm == canary_name for p in problems)
    ):  # a canary that just became Ready has no series until Prometheus first scrapes it
        note = f"waiting for the first scrape of {canary_name} (no series yet, poll {tracker.waited + 1})"
        then = {m: dict(r.samples) for m, r in poll.results.get("baseline", {}).items() if r.error is None}
        return None, Tracker(None, None, tracker.waited + 1, then), [note]
    if errors or inconclusive:
        return Observation(poll.elapsed, None, None, tuple(problems)), tracker, []
    previous = tracker.snapshots
    new_tracker = Tracker({role: dict(m) for role, m in current.items()})
    if previous is None:
        before = extra["lookbehind"] or tracker.baseline_then
        if before and "baseline" in current:  # the baseline's interval before the start: is it moving?
            new_tracker = Tracker(new_tracker.snapshots, _arm(kinds, current["baseline"], before, None)[0])
        return None, new_tracker, ["starting point recorded"]

    notes = [p.text() + " (ignored)" for p in ignored]
    built: dict[str, Arm] = {}
    for role, name in arms.items():
        built[role], arm_notes = _arm(kinds, current[role], previous.get(role, {}), poll.ready.get(role))
        notes += [f"{name}: {note}" for note in arm_notes]
    later = _arm(kinds, ahead, current["baseline"], None)[0] if ahead else None
    obs = Observation(poll.elapsed, built.get("canary"), built.get("baseline"), tuple(ignored), later, tracker.behind)
    return obs, new_tracker, notes
