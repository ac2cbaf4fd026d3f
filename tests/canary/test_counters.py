"""Per-interval counts from cumulative counters: resets per instance (whole histograms), histogram quantiles."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotfix_actions.decide.canary.counters import (
    Labels,
    Snapshot,
    histogram_quantile,
    instance_of,
    interval_counts,
    is_histogram,
    parse_le,
    slow_counts,
)

LES = ("0.1", "0.25", "1.0", "+Inf")


def inst(name: str) -> Labels:
    return (("instance", name),)


def bucket(name: str, le: str) -> Labels:
    return (("instance", name), ("le", le))


def hist(name: str, *cumulative: float) -> dict[Labels, float]:
    return {bucket(name, le): v for le, v in zip(LES, cumulative, strict=True)}


def by_le(series: Mapping[Labels, float]) -> dict[float, float]:
    out: dict[float, float] = {}
    for labels, value in series.items():
        le = parse_le(dict(labels)["le"])
        assert le is not None
        out[le] = out.get(le, 0.0) + value
    return out


def test_plain_increase_per_series() -> None:
    before = {"requests": {inst("a"): 10, inst("b"): 5}, "latency": hist("a", 1, 2, 3, 10)}
    now = {"requests": {inst("a"): 15, inst("b"): 9}, "latency": hist("a", 2, 4, 6, 15)}
    split = interval_counts(before, now)
    assert split.deltas["requests"] == {inst("a"): 5, inst("b"): 4}
    assert by_le(split.deltas["latency"]) == {0.1: 1, 0.25: 2, 1.0: 3, math.inf: 5}
    assert (split.reset, split.started, split.no_latency) == ([], [], [])


def test_a_reset_seen_in_one_bucket_rebases_the_whole_histogram() -> None:
    """The finding: after a restart only +Inf went down; le=0.25 came back above its old value. Series by series
    that read 148 of 149 requests as slower than 250 ms; 3 were."""
    before = {"requests": {inst("a"): 150}, "latency": hist("a", 140, 145, 149, 150)}
    now = {"requests": {inst("a"): 149}, "latency": hist("a", 141, 146, 148, 149)}
    split = interval_counts(before, now)
    latency = by_le(split.deltas["latency"])
    assert latency == {0.1: 141, 0.25: 146, 1.0: 148, math.inf: 149}
    assert slow_counts(latency, [0.25]) == {0.25: 3}
    assert split.deltas["requests"] == {inst("a"): 149}
    assert split.reset == ["instance=a"]


def test_a_reset_seen_only_in_requests_rebases_the_histogram_of_that_pod_too() -> None:
    before = {
        "requests": {inst("a"): 500, inst("b"): 100},
        "latency": {**hist("a", 1, 2, 3, 4), **hist("b", 1, 2, 3, 4)},
    }
    now = {
        "requests": {inst("a"): 20, inst("b"): 130},
        "latency": {**hist("a", 5, 10, 15, 20), **hist("b", 2, 3, 4, 6)},
    }
    split = interval_counts(before, now)
    assert split.deltas["requests"] == {inst("a"): 20, inst("b"): 30}
    assert by_le(split.deltas["latency"]) == {0.1: 6, 0.25: 11, 1.0: 16, math.inf: 22}
    assert split.reset == ["instance=a"]


def test_differences_that_are_no_histogram_prove_a_reset() -> None:
    """Nothing went down, but le=0.1 grew by 9 while +Inf grew by 2: only a restart does that."""
    before = {"latency": hist("a", 1, 1, 1, 8)}
    now = {"latency": hist("a", 10, 10, 10, 10)}
    split = interval_counts(before, now)
    assert by_le(split.deltas["latency"]) == {0.1: 10, 0.25: 10, 1.0: 10, math.inf: 10}
    assert split.reset == ["instance=a"]


def test_a_new_instance_or_a_changed_instance_label_only_sets_its_starting_point() -> None:
    before = {"requests": {inst("a"): 10}, "errors": {inst("a"): 1}, "latency": hist("a", 1, 2, 3, 10)}
    now = {"requests": {inst("b"): 40}, "errors": {inst("b"): 4}, "latency": hist("b", 10, 20, 30, 40)}
    split = interval_counts(before, now)
    assert split.deltas == {"requests": {}, "errors": {}, "latency": {}}
    assert split.started == ["instance=b"]


def test_a_series_new_to_a_known_pod_counts_from_zero() -> None:
    """A labelled counter appears at its first increment: errors {code=503} seen for the first time are errors."""
    code = (("code", "503"), ("instance", "a"))
    before = {"errors": {(("code", "500"), ("instance", "a")): 2}}
    now = {"errors": {(("code", "500"), ("instance", "a")): 2, code: 3}}
    assert interval_counts(before, now).deltas["errors"] == {(("code", "500"), ("instance", "a")): 0, code: 3}


def test_changed_buckets_leave_that_pods_latency_out() -> None:
    before = {"requests": {inst("a"): 10}, "latency": hist("a", 1, 2, 3, 10)}
    now = {"requests": {inst("a"): 20}, "latency": {bucket("a", "0.5"): 5, bucket("a", "+Inf"): 20}}
    split = interval_counts(before, now)
    assert split.deltas["requests"] == {inst("a"): 10}
    assert split.deltas["latency"] == {}
    assert split.no_latency == ["instance=a"]


@pytest.mark.parametrize(
    ("labels", "instance"),
    [
        ((("instance", "a:1"), ("le", "0.5")), (("instance", "a:1"),)),
        ((("le", "0.5"), ("pod", "web-1")), (("pod", "web-1"),)),
        ((("code", "500"), ("route", "/x")), (("code", "500"), ("route", "/x"))),
    ],
)
def test_instance_of(labels: Labels, instance: Labels) -> None:
    assert instance_of(labels) == instance


# -- properties ---------------------------------------------------------------------------------------------------
BOUNDS = [0.1, 0.25, 1.0, math.inf]


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[dict[str, list[int]]], list[dict[str, bool]], list[str]]:
    """Per poll, per pod: the true observations in each bucket since the last poll, and whether the pod restarted
    just after the last poll (its counters then start again from zero)."""
    pods = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3, unique=True))
    polls = draw(st.integers(min_value=2, max_value=7))
    counts = st.lists(st.integers(min_value=0, max_value=40), min_size=len(BOUNDS), max_size=len(BOUNDS))
    increments = [{p: draw(counts) for p in pods} for _ in range(polls)]
    restarts = [{p: k > 0 and draw(st.booleans()) for p in pods} for k in range(polls)]
    return increments, restarts, pods


def cumulative(buckets: list[int]) -> list[int]:
    out, total = [], 0
    for count in buckets:
        total += count
        out.append(total)
    return out


@settings(max_examples=300, deadline=None)
@given(histories())
def test_property_per_interval_histograms_are_histograms_and_the_true_ones(
    history: tuple[list[dict[str, list[int]]], list[dict[str, bool]], list[str]],
) -> None:
    """For any sequence of cumulative histograms with restarts: every derived per-interval histogram is a histogram
    (non-negative, non-decreasing in le, so no bucket above the total), and it is the true one whenever the restart
    left a trace (a counter lower than before, or differences that are no histogram); a restart without a trace is
    counted as Prometheus' increase() counts it, still a histogram."""
    increments, restarts, pods = history
    totals = {p: [0] * len(BOUNDS) for p in pods}
    snapshots: list[dict[str, Snapshot]] = []
    for k, step in enumerate(increments):
        for p in pods:
            if restarts[k][p]:
                totals[p] = [0] * len(BOUNDS)
            totals[p] = [t + c for t, c in zip(totals[p], step[p], strict=True)]
        latency = {bucket(p, le): float(v) for p in pods for le, v in zip(LES, cumulative(totals[p]), strict=True)}
        requests = {inst(p): float(cumulative(totals[p])[-1]) for p in pods}
        snapshots.append({"requests": requests, "latency": latency})
    for k in range(1, len(snapshots)):
        split = interval_counts(snapshots[k - 1], snapshots[k])
        for p in pods:
            mine = {lb: v for lb, v in split.deltas["latency"].items() if instance_of(lb) == inst(p)}
            derived = by_le(mine)
            assert is_histogram(derived)
            assert all(v >= 0 for v in derived.values())
            true = dict(zip(BOUNDS, map(float, cumulative(increments[k][p])), strict=True))
            naive = {
                le: snapshots[k]["latency"][bucket(p, text)] - snapshots[k - 1]["latency"][bucket(p, text)]
                for le, text in zip(BOUNDS, LES, strict=True)
            }
            traced = any(v < 0 for v in naive.values()) or not is_histogram(naive)
            if not restarts[k][p] or traced:
                assert derived == true
                assert split.deltas["requests"][inst(p)] == true[math.inf]
            else:
                assert derived == naive


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 50), min_size=4, max_size=4),
    st.lists(st.integers(0, 50), min_size=4, max_size=4),
)
def test_property_any_two_cumulative_histograms_give_a_histogram(before: list[int], now: list[int]) -> None:
    split = interval_counts({"latency": hist("a", *cumulative(before))}, {"latency": hist("a", *cumulative(now))})
    derived = by_le(split.deltas["latency"])
    assert is_histogram(derived) and derived[math.inf] >= max(derived.values())


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
