"""Polls to observations (counter deltas, resets, fail-closed checks), templates and durations: pure tables."""

from __future__ import annotations

import math

import pytest

from hotfix_actions.decide.canary import NoData, Policy, ProblemKind
from hotfix_actions.decide.canary.judge import Interval
from hotfix_actions.decide.canary.observe import WAIT_POLLS, Poll, QueryResult, Tracker, observe
from hotfix_actions.decide.canary.templates import (
    DEFAULT_QUERIES,
    ArmLabels,
    parse_duration,
    prom_duration,
    render,
    template_problem,
)

ARMS = {"canary": "web-canary", "baseline": "web"}
COUNTER = {"requests": "counter", "errors": "counter", "latency": "counter"}


def series(*values: float, name: str = "instance") -> QueryResult:
    return QueryResult(tuple(((((name, f"p{i}:80"),)), v) for i, v in enumerate(values)))


def buckets(total: float, slow: float = 0.0) -> QueryResult:
    fast = total - slow
    edges = {"0.25": fast, "0.5": total, "+Inf": total}
    return QueryResult(tuple(((("instance", "p0:80"), ("le", le)), v) for le, v in edges.items()))


def poll(elapsed: float, canary: dict[str, QueryResult], baseline: dict[str, QueryResult]) -> Poll:
    return Poll(elapsed, 1000.0 + elapsed, {"canary": canary, "baseline": baseline}, {"canary": (1, 2)})


def arm(requests: tuple[float, ...], errors: tuple[float, ...], total: float) -> dict[str, QueryResult]:
    return {"requests": series(*requests), "errors": series(*errors), "latency": buckets(total)}


def test_first_complete_poll_is_the_starting_point_then_deltas() -> None:
    policy = Policy()
    first = poll(0, arm((100, 50), (1, 0), 150), arm((200,), (2,), 200))
    obs, tracker, notes = observe(policy, COUNTER, Tracker(), first, ARMS)
    assert obs is None and notes == ["starting point recorded"]
    second = poll(15, arm((130, 60), (4, 0), 190), arm((260,), (2,), 260))
    obs, tracker, notes = observe(policy, COUNTER, tracker, second, ARMS)
    assert obs is not None and obs.canary is not None and obs.baseline is not None
    assert (obs.canary.requests, obs.canary.errors) == (40, 3)
    assert (obs.baseline.requests, obs.baseline.errors) == (60, 0)
    assert obs.canary.buckets == {0.25: 40, 0.5: 40, math.inf: 40}
    assert (obs.canary.ready, obs.canary.desired) == (1, 2) and obs.baseline.ready is None
    assert notes == []


def test_a_restarted_process_counts_from_the_reset_and_is_noted() -> None:
    policy = Policy()
    _, tracker, _ = observe(policy, COUNTER, Tracker(), poll(0, arm((100, 50), (5, 0), 150), arm((1,), (0,), 1)), ARMS)
    obs, _, notes = observe(policy, COUNTER, tracker, poll(15, arm((7, 60), (1, 0), 67), arm((2,), (0,), 2)), ARMS)
    assert obs is not None and obs.canary is not None
    assert obs.canary.requests == 7 + 10 and obs.canary.errors == 1
    # p0 restarted: its requests, errors and histogram all count from zero; p1 is differenced as usual
    assert any("web-canary: counter reset (a restarted process), counted from zero: instance=p0:80" in n for n in notes)
    assert obs.canary.buckets is not None and obs.canary.buckets[math.inf] == 67  # p0's whole histogram since restart


def test_a_failed_poll_is_folded_into_the_next_good_one() -> None:
    policy = Policy()
    _, tracker, _ = observe(policy, COUNTER, Tracker(), poll(0, arm((100,), (0,), 100), arm((100,), (0,), 100)), ARMS)
    broken = poll(15, {**arm((150,), (1,), 150), "errors": QueryResult(error="timeout")}, arm((150,), (0,), 150))
    obs, tracker, _ = observe(policy, COUNTER, tracker, broken, ARMS)
    assert obs is not None and obs.canary is None and obs.problems[0].kind is ProblemKind.QUERY_FAILED
    obs, _, _ = observe(policy, COUNTER, tracker, poll(30, arm((200,), (3,), 200), arm((200,), (0,), 200)), ARMS)
    assert obs is not None and obs.canary is not None and (obs.canary.requests, obs.canary.errors) == (100, 3)


@pytest.mark.parametrize(
    ("result", "metric", "kind", "problem"),
    [
        (QueryResult(error="connection refused"), "requests", "counter", ProblemKind.QUERY_FAILED),
        (QueryResult(), "requests", "counter", ProblemKind.NO_DATA),
        (series(float("nan")), "errors", "counter", ProblemKind.NOT_FINITE),
        (series(float("inf")), "requests", "counter", ProblemKind.NOT_FINITE),
        (series(-1.0), "requests", "counter", ProblemKind.BAD_DATA),
        (series(1.0, 2.0), "errors", "increase", ProblemKind.MANY_SERIES),
        (series(1.0), "latency", "counter", ProblemKind.BAD_DATA),  # no le label
    ],
)
def test_fail_closed_checks(result: QueryResult, metric: str, kind: str, problem: ProblemKind) -> None:
    canary = {**arm((1,), (0,), 1), metric: result}
    waited = Tracker(waited=WAIT_POLLS)  # past the wait for a new canary's first scrape
    obs, tracker, _ = observe(Policy(), {**COUNTER, metric: kind}, waited, poll(60, canary, arm((1,), (0,), 1)), ARMS)
    assert obs is not None and [p.kind for p in obs.problems] == [problem]
    assert obs.problems[0].arm == "web-canary" and obs.problems[0].metric == metric
    assert tracker.snapshots is None  # a poll with a problem never becomes the starting point


def test_increase_kind_takes_values_as_they_are() -> None:
    kinds = {"requests": "increase", "errors": "increase", "latency": "increase"}
    policy = Policy()
    _, tracker, _ = observe(policy, kinds, Tracker(), poll(0, arm((5,), (1,), 5), arm((5,), (0,), 5)), ARMS)
    obs, _, _ = observe(policy, kinds, tracker, poll(15, arm((40,), (2,), 40), arm((50,), (0,), 50)), ARMS)
    assert obs is not None and obs.canary is not None and (obs.canary.requests, obs.canary.errors) == (40, 2)


def test_ignored_metric_is_left_out_and_said() -> None:
    policy = Policy(on_no_data={"errors": NoData.IGNORE})
    empty = {**arm((100,), (0,), 100), "errors": QueryResult()}
    _, tracker, _ = observe(policy, COUNTER, Tracker(), poll(0, empty, arm((100,), (0,), 100)), ARMS)
    later = {**arm((150,), (0,), 150), "errors": QueryResult()}
    obs, _, notes = observe(policy, COUNTER, tracker, poll(15, later, arm((150,), (0,), 150)), ARMS)
    assert obs is not None and obs.canary is not None and obs.canary.errors is None and obs.canary.requests == 50
    assert any("errors: no data" in n and "(ignored)" in n for n in notes)


LABELS = ArmLabels("default", "web-canary", "canary", "15s")


def test_default_templates_render() -> None:
    assert render(DEFAULT_QUERIES["requests"], LABELS) == (
        'sum by (instance) (http_requests_total{ namespace="default",deployment="web-canary" })'
    )
    errors = render(DEFAULT_QUERIES["errors"], LABELS)
    assert 'code=~"5.."' in errors and " or " in errors and "* 0" in errors
    custom = render('sum(increase(x{track="{{track}}"}[{{ window }}]))', LABELS)
    assert custom == 'sum(increase(x{track="canary"}[15s]))'


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("sum(x{ {{ selector }} })", None),
        ("sum(x{ {{ pod }} })", "unknown variable(s) pod"),
        ("sum(x{ {{ selector }} }", "unbalanced ()"),
        ("   ", "empty query"),
    ],
)
def test_template_problems(template: str, problem: str | None) -> None:
    found = template_problem(template)
    assert (found is None) if problem is None else (found is not None and found.startswith(problem))


def test_label_values_are_checked_before_they_reach_promql() -> None:
    with pytest.raises(ValueError, match="not allowed"):
        render("x", ArmLabels('default"} or vector(1) #', "web", "canary", "15s"))


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("10m", 600), ("1h30m", 5400), ("1m30s", 90), ("500ms", 0.5), ("90", 90), (2.5, 2.5), ("0", 0)],
)
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "ten", "10x", "-5s", "m", "1.5.3s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(15, "15s"), (1, "1s"), (0.5, "500ms"), (0.0001, "1ms")])
def test_prom_duration(seconds: float, text: str) -> None:
    assert prom_duration(seconds) == text


def test_interval_is_a_row_type() -> None:
    assert "verdict" in Interval.__dataclass_fields__


def test_a_new_canary_without_series_is_waited_for_then_an_error() -> None:
    """A canary that just became Ready has no series until Prometheus first scrapes it: the first polls wait
    (no error, no starting point); past the wait, no data is a measurement error as always."""
    empty = {"requests": QueryResult(), "errors": QueryResult(), "latency": QueryResult()}
    tracker = Tracker()
    for k in range(WAIT_POLLS):
        obs, tracker, notes = observe(Policy(), COUNTER, tracker, poll(15.0 * k, empty, arm((1,), (0,), 1)), ARMS)
        assert obs is None and tracker.snapshots is None
        assert notes == [f"waiting for the first scrape of web-canary (no series yet, poll {k + 1})"]
    obs, tracker, _ = observe(Policy(), COUNTER, tracker, poll(90.0, empty, arm((1,), (0,), 1)), ARMS)
    assert obs is not None and {p.kind for p in obs.problems} == {ProblemKind.NO_DATA}
    # the baseline missing too is not a new canary: an error at once
    obs, _, _ = observe(Policy(), COUNTER, Tracker(), poll(0.0, empty, empty), ARMS)
    assert obs is not None and len(obs.problems) == 6
