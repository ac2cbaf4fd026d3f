"""Counter arithmetic: reset-aware deltas between two snapshots, and what a histogram's buckets say.

A snapshot maps each series (its sorted label pairs) to the counter's value at one evaluation time. Between two
snapshots a counter that went down was reset (the process restarted): like Prometheus' ``increase()``, the
delta is then the new value. A series seen for the first time only sets its starting point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

__all__ = [
    "Labels",
    "Snapshot",
    "bucket_deltas",
    "counter_delta",
    "histogram_quantile",
    "parse_le",
    "slow_counts",
]

Labels = tuple[tuple[str, str], ...]
Snapshot = Mapping[Labels, float]


def counter_delta(previous: Snapshot, current: Snapshot) -> tuple[float, int]:
    """Sum over series of the increase from ``previous`` to ``current``; also the number of resets seen."""
    total = 0.0
    resets = 0
    for key, value in current.items():
        before = previous.get(key)
        if before is None:
            continue
        if value < before:
            resets += 1
            total += value
        else:
            total += value - before
    return total, resets


def parse_le(text: str) -> float | None:
    """A bucket bound as a float (``+Inf`` included); None when it is not a number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def bucket_deltas(previous: Snapshot, current: Snapshot) -> tuple[dict[float, float], int]:
    """Per upper bound ``le``: the increase of the cumulative bucket counts, summed over the other labels."""
    grouped: dict[float, tuple[dict[Labels, float], dict[Labels, float]]] = {}
    for source_index, snapshot in enumerate((previous, current)):
        for key, value in snapshot.items():
            le_text = dict(key).get("le")
            if le_text is None:
                continue
            le = parse_le(le_text)
            if le is None:
                continue
            grouped.setdefault(le, ({}, {}))[source_index][key] = value
    result: dict[float, float] = {}
    resets = 0
    for le, (before, after) in grouped.items():
        delta, found = counter_delta(before, after)
        result[le] = delta
        resets += found
    return dict(sorted(result.items())), resets


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
