"""Counter deltas with resets, bucket arithmetic and histogram quantiles."""

from __future__ import annotations

import math

import pytest

from hotfix_actions.decide.canary.counters import (
    bucket_deltas,
    counter_delta,
    histogram_quantile,
    parse_le,
    slow_counts,
)

A = (("instance", "a:1"),)
B = (("instance", "b:1"),)
C = (("instance", "c:1"),)


@pytest.mark.parametrize(
    ("previous", "current", "expected", "resets"),
    [
        ({A: 10, B: 5}, {A: 15, B: 9}, 9, 0),  # plain increase, summed over series
        ({A: 10}, {A: 10}, 0, 0),  # nothing happened
        ({A: 100, B: 5}, {A: 3, B: 9}, 7, 1),  # A restarted: counts since the restart (3) plus B's 4
        ({A: 10}, {A: 12, C: 40}, 2, 0),  # C is new: it only sets its starting point
        ({A: 10, B: 5}, {A: 12}, 2, 0),  # B is gone (pod deleted): nothing to add
        ({}, {A: 7}, 0, 0),  # the first snapshot is a starting point
    ],
)
def test_counter_delta(previous: dict, current: dict, expected: float, resets: int) -> None:
    assert counter_delta(previous, current) == (expected, resets)


def _bucket(instance: str, le: str) -> tuple[tuple[str, str], ...]:
    return (("instance", instance), ("le", le))


def test_bucket_deltas_sum_over_instances_per_bound() -> None:
    previous = {
        _bucket("a", "0.25"): 10,
        _bucket("a", "+Inf"): 12,
        _bucket("b", "0.25"): 100,
        _bucket("b", "+Inf"): 130,
    }
    current = {
        _bucket("a", "0.25"): 20,
        _bucket("a", "+Inf"): 25,
        _bucket("b", "0.25"): 4,  # b restarted
        _bucket("b", "+Inf"): 6,
        (("instance", "a"),): 99,  # no le label: not a bucket
        _bucket("a", "bogus"): 1,
    }
    deltas, resets = bucket_deltas(previous, current)
    assert deltas == {0.25: 14, math.inf: 19}
    assert resets == 2
    assert list(deltas) == [0.25, math.inf]


def test_slow_counts_are_count_minus_bucket() -> None:
    buckets = {0.1: 50.0, 0.25: 80.0, 0.5: 95.0, 1.0: 100.0, math.inf: 100.0}
    assert slow_counts(buckets, (0.25, 0.5, 1.0, 2.0)) == {0.25: 20.0, 0.5: 5.0, 1.0: 0.0}
    assert slow_counts({0.25: 3.0}, (0.25,)) == {}


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.95, {0.1: 50, 0.25: 90, 0.5: 100, math.inf: 100}, 0.375),  # 0.25 + 0.25 * (95 - 90) / (100 - 90)
        (0.5, {0.1: 50, 0.25: 90, 0.5: 100, math.inf: 100}, 0.1),  # exactly at an edge
        (0.25, {0.1: 50, math.inf: 50}, 0.025),  # the first bucket starts at 0: 0.1 * 12.5 / 50
        (0.95, {0.1: 10, 2.0: 20, math.inf: 100}, 2.0),  # in +Inf: the highest finite bound
        (0.95, {0.1: 0, math.inf: 0}, None),  # no observations
        (0.95, {0.1: 5}, None),  # no +Inf bucket
        (0.95, {}, None),
    ],
)
def test_histogram_quantile(q: float, buckets: dict, expected: float | None) -> None:
    result = histogram_quantile(q, buckets)
    assert result == (pytest.approx(expected) if expected is not None else None)


def test_histogram_quantile_rejects_bad_q() -> None:
    with pytest.raises(ValueError, match="quantile"):
        histogram_quantile(1.5, {math.inf: 1})


@pytest.mark.parametrize(
    ("text", "value"), [("0.25", 0.25), ("+Inf", math.inf), ("1", 1.0), ("x", None), ("NaN", None)]
)
def test_parse_le(text: str, value: float | None) -> None:
    assert parse_le(text) == value
