"""Counter arithmetic: per-interval counts from two snapshots of cumulative counters, and what histograms say.

A snapshot maps each series (its sorted label pairs) to the counter's value at one evaluation time. Counters
belong to a process: the series of one pod (its ``instance`` label, or ``pod``; else every label but ``le``) are
the requests, errors and histogram buckets of that pod, and a restart resets all of them at once. So resets are
handled per instance, never series by series:

- an instance is **reset** when any of its series went down between the snapshots, or when its histogram's
  differences are not a histogram (a bucket grew more than a wider one: impossible without a restart). Then every
  series of that instance, in every metric, counts from zero: the interval's counts are its current values.
- an instance seen for the first time (a new pod, or a pod whose ``instance`` label changed) only sets its
  starting point: all of its metrics are left out of this interval, so none is half counted.
- an instance whose histogram has other ``le`` bounds than before, or whose current histogram is not cumulative,
  gives no latency this interval (its requests and errors still count).
- a series new to a known instance (a ``code`` label seen at its first error) counts from zero.

Whatever the snapshots, the per-interval histogram of every instance is non-decreasing in ``le``, so no bucket is
ever larger than the total. A reset whose every series is back above its old value and whose differences still
form a histogram cannot be told from traffic (Prometheus' ``increase()`` cannot either); it is counted as traffic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = [
    "Labels",
    "Snapshot",
    "Split",
    "histogram_quantile",
    "instance_of",
    "interval_counts",
    "is_histogram",
    "parse_le",
    "slow_counts",
]

Labels = tuple[tuple[str, str], ...]
Snapshot = Mapping[Labels, float]
_SLACK = 1e-9


def parse_le(text: str) -> float | None:
    """A bucket bound as a float (``+Inf`` included); None when it is not a number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def instance_of(labels: Labels) -> Labels:
    """The process a series belongs to: its ``instance`` (else ``pod``) label, else every label but ``le``."""
    values = dict(labels)
    for key in ("instance", "pod"):
        if key in values:
            return ((key, values[key]),)
    return tuple((k, v) for k, v in labels if k != "le")


def _le_of(labels: Labels) -> float | None:
    text = dict(labels).get("le")
    return parse_le(text) if text is not None else None


def is_histogram(buckets: Mapping[float, float]) -> bool:
    """Non-negative counts, non-decreasing in ``le``."""
    last = 0.0
    for _, count in sorted(buckets.items()):
        if count < last - _SLACK:
            return False
        last = count
    return True


def _describe(inst: Labels) -> str:
    return ",".join(f"{k}={v}" for k, v in inst) or "(no labels)"


@dataclass
class Split:
    """One interval's counts: per metric, per series, the increase; and what happened to which instance."""

    deltas: dict[str, dict[Labels, float]] = field(default_factory=dict)
    reset: list[str] = field(default_factory=list)  # instances re-based from zero
    started: list[str] = field(default_factory=list)  # instances that only set their starting point
    no_latency: list[str] = field(default_factory=list)  # instances whose histogram could not be differenced


def _group(
    snapshots: Mapping[str, Snapshot], histograms: Sequence[str]
) -> dict[Labels, dict[str, dict[Labels, float]]]:
    grouped: dict[Labels, dict[str, dict[Labels, float]]] = {}
    for metric, snapshot in snapshots.items():
        for labels, value in snapshot.items():
            if metric in histograms and _le_of(labels) is None:
                continue  # not a bucket
            grouped.setdefault(instance_of(labels), {}).setdefault(metric, {})[labels] = value
    return grouped


def _by_le(series: Mapping[Labels, float]) -> dict[float, float]:
    out: dict[float, float] = {}
    for labels, value in series.items():
        le = _le_of(labels)
        if le is not None:
            out[le] = out.get(le, 0.0) + value
    return out


def _went_down(before: Mapping[str, Mapping[Labels, float]], now: Mapping[str, Mapping[Labels, float]]) -> bool:
    for metric, series in now.items():
        old = before.get(metric, {})
        if any(labels in old and value < old[labels] - _SLACK for labels, value in series.items()):
            return True
    return False


def interval_counts(
    before: Mapping[str, Snapshot], now: Mapping[str, Snapshot], histograms: Sequence[str] = ("latency",)
) -> Split:
    """The increase of every series from ``before`` to ``now`` (metric -> snapshot), resets handled per instance.

    ``histograms`` names the metrics whose series are histogram buckets (an ``le`` label each)."""
    old_groups, new_groups = _group(before, histograms), _group(now, histograms)
    split = Split(deltas={metric: {} for metric in now})
    for inst, metrics in new_groups.items():
        old = old_groups.get(inst)
        name = _describe(inst)
        if old is None:
            split.started.append(name)
            continue
        reset = _went_down(old, metrics)
        differenced: dict[str, dict[float, float]] = {}
        for metric in histograms:
            if metric in metrics and metric in old:
                now_b, old_b = _by_le(metrics[metric]), _by_le(old[metric])
                if set(now_b) == set(old_b):
                    differenced[metric] = {le: now_b[le] - old_b[le] for le in now_b}
                    reset = reset or not is_histogram(differenced[metric])
        if reset:
            split.reset.append(name)
        for metric, series in metrics.items():
            target = split.deltas[metric]
            if metric in histograms:
                counts = _by_le(series)
                usable = is_histogram(counts) and (reset or metric in differenced)
                if not usable:
                    split.no_latency.append(name)
                    continue
            for labels, value in series.items():
                prior = old.get(metric, {}).get(labels)
                target[labels] = value if reset or prior is None else value - prior
    return split


def slow_counts(buckets: Mapping[float, float], bounds: Sequence[float]) -> dict[float, float]:
    """Requests slower than each bound: ``count(+Inf) - bucket(le=bound)``, for bounds that are bucket edges."""
    total = buckets.get(math.inf)
    if total is None:
        return {}
    return {bound: max(0.0, total - buckets[bound]) for bound in bounds if bound in buckets}


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile`` over cumulative bucket counts; None without observations.

    Linear interpolation inside the bucket; the lowest bucket starts at 0; a rank in the +Inf bucket gives the
    highest finite bound (a lower limit of the truth).
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    edges = sorted(buckets.items())
    if not edges or edges[-1][0] != math.inf:
        return None
    total = edges[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in edges:
        if count >= rank:
            if bound == math.inf:
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, max(lower_count, count)
    return lower_bound
