"""The judge, one rule per row: values in, decision out. No mocks, no clock."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import pytest

from hotfix_actions.decide.canary import (
    Arm,
    Decision,
    EarlyPass,
    Guardrail,
    NoData,
    Observation,
    Policy,
    Problem,
    ProblemKind,
    Signal,
    conclude,
    start,
    step,
)
from hotfix_actions.decide.verdict import Verdict


def arm(requests: float, errors: float = 0, slow: float = 0, *, ready: int = 2, desired: int = 2) -> Arm:
    """An arm whose ``slow`` requests are slower than every latency bound (2.5 s), the rest faster than 0.25 s."""
    fast = requests - slow
    buckets = {0.1: fast, 0.25: fast, 0.5: fast, 1.0: fast, 2.0: fast, 5.0: requests, math.inf: requests}
    return Arm(requests=requests, errors=errors, buckets=buckets, ready=ready, desired=desired)


def obs(i: int, canary: Arm | None, baseline: Arm | None, *problems: Problem) -> Observation:
    return Observation(elapsed=15.0 * i, canary=canary, baseline=baseline, problems=tuple(problems))


def run(policy: Policy, observations: Sequence[Observation]) -> tuple[Decision, int]:
    """Feed observations until a final decision; else conclude. Returns the decision and the interval it came at."""
    state = start(policy)
    for obs_ in observations:
        state, interval, decision = step(policy, state, obs_)
        if decision.final:
            return decision, interval.index
    return conclude(policy, state), state.intervals


QUIET = Policy(early_pass=EarlyPass(enabled=False))
HEALTHY = [obs(i, arm(100, 0), arm(100, 0)) for i in range(1, 6)]
QUERY_DOWN = Problem("requests", "canary", ProblemKind.QUERY_FAILED, "connection refused")
EMPTY_ERRORS = Problem("errors", "canary", ProblemKind.NO_DATA, "empty vector")
NAN_ERRORS = Problem("errors", "canary", ProblemKind.NOT_FINITE, "NaN")


@pytest.mark.parametrize(
    ("name", "policy", "observations", "verdict", "rule", "at", "text"),
    [
        ("healthy run to the end", QUIET, HEALTHY, Verdict.PASS, "duration complete", 5, "no failing signal"),
        (
            "9 canary-only errors cross the error e-process at once",
            QUIET,
            [obs(1, arm(100, 9), arm(100, 0))],
            Verdict.FAIL,
            "sequential test (errors)",
            1,
            "e-value 260 >= 200",  # (1/10) sum_j (2 theta_j)^9: no later starts in the split tests
        ),
        (
            "8 do not; one more does",
            QUIET,
            [obs(1, arm(100, 8), arm(100, 0)), obs(2, arm(100, 1), arm(100, 0))],
            Verdict.FAIL,
            "sequential test (errors)",
            2,
            "canary 9 errors / 200 requests (4.50%)",
        ),
        (
            "slow canary crosses the latency e-process",
            QUIET,
            [obs(1, arm(100, slow=9), arm(100))],
            Verdict.FAIL,
            "sequential test (latency)",
            1,
            "requests slower than 250ms: canary 9 of 100",
        ),
        (
            "a limit over in a shared incident holds the PASS back, never fails",
            QUIET,
            [obs(i, arm(100, 30), arm(100, 30)) for i in range(1, 6)],
            Verdict.INCONCLUSIVE,
            "canary over a limit (shared incident)",
            5,
            "canary shown over max 5.00%",
        ),
        (
            "shared incident: the limit clears once it is over",
            QUIET,
            [obs(i, arm(100, 10), arm(100, 10)) for i in range(1, 5)] + [obs(5, arm(100), arm(100))],
            Verdict.PASS,
            "duration complete",
            5,
            "no failing signal",
        ),
        (
            "a limit set to fail on its own (shared_incident false) fails",
            replace(QUIET, guardrails=(Guardrail("error rate", Signal.ERROR_RATE, max=0.05, shared_incident=False),)),
            [obs(i, arm(100, 30), arm(100, 30)) for i in range(1, 6)],
            Verdict.FAIL,
            "guardrail (error rate)",
            1,
            "error rate: canary shown over max 5.00%, e-value",
        ),
        (
            "one error in 12 requests is no breach, however often",
            replace(
                QUIET,
                min_requests=10,
                guardrails=(Guardrail("error rate", Signal.ERROR_RATE, max=0.05, shared_incident=False),),
            ),
            [obs(i, arm(12, 1), arm(12, 1)) for i in range(1, 9)],
            Verdict.PASS,
            "duration complete",
            8,
            "no failing signal in 8 intervals",
        ),
        (
            "a clean poll resets the pods-ready streak",
            QUIET,
            [obs(i, arm(100, ready=2 if i == 3 else 1), arm(100)) for i in range(1, 6)],
            Verdict.INCONCLUSIVE,
            "open guardrail breach",
            5,
            "pods ready breached in the last 2 interval(s) (fails at 5)",
        ),
        (
            "p95 limit: more than 5% of requests slower than the limit",
            replace(QUIET, guardrails=(Guardrail("p95 latency", Signal.P95, max=2.0, shared_incident=False),)),
            [obs(i, arm(100, slow=20), arm(100, slow=20)) for i in range(1, 6)],
            Verdict.FAIL,
            "guardrail (p95 latency)",
            1,
            "more than 5.00% of slower than 2.00s",
        ),
        (
            "pods not ready for 5 intervals",
            QUIET,
            [obs(i, arm(100, ready=1), arm(100)) for i in range(1, 7)],
            Verdict.FAIL,
            "guardrail (pods ready)",
            5,
            "pods ready: 50.0% < min 100.0% in 5 consecutive intervals (limit 5)",
        ),
        (
            "4 measurement errors in a row: ERROR",
            QUIET,
            [*HEALTHY[:2], *(obs(i, None, None, QUERY_DOWN) for i in range(3, 8))],
            Verdict.ERROR,
            "consecutive measurement errors",
            6,
            "4 measurement errors in a row (consecutive_error_limit 4); last: canary requests: query failed",
        ),
        (
            "errors that do not reach the limit only delay",
            QUIET,
            [obs(1, None, None, QUERY_DOWN)] * 3 + HEALTHY,
            Verdict.PASS,
            "duration complete",
            8,
            "no failing signal in 8 intervals",
        ),
        (
            "the last measurement failed: never PASS",
            QUIET,
            [*HEALTHY, obs(6, None, None, QUERY_DOWN)],
            Verdict.ERROR,
            "measurement error",
            6,
            "the last measurement failed (1 in a row)",
        ),
        (
            "NaN is a measurement error even with on_no_data ignore",
            replace(QUIET, on_no_data={"errors": NoData.IGNORE}),
            [obs(i, arm(100), arm(100), NAN_ERRORS) for i in range(1, 5)],
            Verdict.ERROR,
            "consecutive measurement errors",
            4,
            "canary errors: not finite: NaN",
        ),
        (
            "no data, on_no_data fail: ERROR",
            QUIET,
            [obs(i, arm(100), arm(100), EMPTY_ERRORS) for i in range(1, 5)],
            Verdict.ERROR,
            "consecutive measurement errors",
            4,
            "canary errors: no data: empty vector",
        ),
        (
            "no data, on_no_data inconclusive: INCONCLUSIVE",
            replace(QUIET, on_no_data={"errors": NoData.INCONCLUSIVE}),
            [obs(i, replace(arm(100), errors=None), arm(100), EMPTY_ERRORS) for i in range(1, 6)],
            Verdict.INCONCLUSIVE,
            "no data",
            5,
            "the last interval had no usable data: canary errors: no data: empty vector (inconclusive)",
        ),
        (
            "no data, on_no_data ignore: decided on the rest",
            replace(QUIET, on_no_data={"errors": NoData.IGNORE}),
            [obs(i, replace(arm(100), errors=None), arm(100), EMPTY_ERRORS) for i in range(1, 6)],
            Verdict.PASS,
            "duration complete",
            5,
            "canary 500 requests, 0 errors",
        ),
        (
            "requests cannot be ignored",
            replace(QUIET, on_no_data={"requests": NoData.IGNORE}),
            [obs(i, None, None, Problem("requests", "canary", ProblemKind.NO_DATA, "empty")) for i in range(1, 5)],
            Verdict.ERROR,
            "consecutive measurement errors",
            4,
            "canary requests: no data",
        ),
        (
            "insufficient traffic is its own reason",
            QUIET,
            [obs(i, arm(10), arm(10)) for i in range(1, 6)],
            Verdict.INCONCLUSIVE,
            "insufficient traffic",
            5,
            "insufficient traffic: canary served 50 requests and baseline served 50 requests (min_requests 200)",
        ),
        (
            "no traffic at all",
            QUIET,
            [obs(i, arm(0), arm(0)) for i in range(1, 6)],
            Verdict.INCONCLUSIVE,
            "insufficient traffic",
            5,
            "canary served 0 requests",
        ),
        ("nothing measured", QUIET, [], Verdict.INCONCLUSIVE, "no data", 0, "no measurement was taken"),
        (
            "more errors than requests is bad data",
            QUIET,
            [obs(i, arm(10, 20), arm(10)) for i in range(1, 5)],
            Verdict.ERROR,
            "consecutive measurement errors",
            4,
            "canary: 20 errors > 10 requests",
        ),
        (
            "worst wins: e-process and guardrail in the same interval",
            QUIET,
            [obs(i, arm(100, 8), arm(100, 0)) for i in range(1, 4)],
            Verdict.FAIL,
            "sequential test (errors)",
            2,
            "e-value",
        ),
        (
            "early pass once shown not worse",
            Policy(),
            [obs(i, arm(1000, 0, slow=0), arm(1000, 0)) for i in range(1, 10)],
            Verdict.PASS,
            "not worse (anytime-valid)",
            1,
            "errors: canary rate below 0.50%",
        ),
        (
            "no early pass before min_requests",
            replace(Policy(), min_requests=5000),
            [obs(i, arm(1000), arm(1000)) for i in range(1, 10)],
            Verdict.PASS,
            "not worse (anytime-valid)",
            5,
            "canary 5000 and baseline 5000 requests >= min_requests 5000",
        ),
        (
            "no early pass while errors are 1%: not shown below the negligible rate",
            Policy(),
            [obs(i, arm(100, 1), arm(100, 1)) for i in range(1, 4)],
            Verdict.PASS,
            "duration complete",
            3,
            "canary 300 requests, 3 errors (1.00%)",
        ),
    ],
)
def test_rules(
    name: str,
    policy: Policy,
    observations: list[Observation],
    verdict: Verdict,
    rule: str,
    at: int,
    text: str,
) -> None:
    decision, index = run(policy, observations)
    assert (decision.verdict, decision.rule, index) == (verdict, rule, at), decision.reasons
    assert any(text in reason for reason in decision.reasons), decision.reasons


def test_worst_wins_names_every_failing_rule() -> None:
    decision, _ = run(QUIET, [obs(1, arm(100, 60), arm(100, 0))])
    assert decision.verdict is Verdict.FAIL
    assert decision.rule == "sequential test (errors), guardrail (error rate)"
    assert len(decision.reasons) == 2


def test_one_arm_monitor_mode_uses_guardrails_only() -> None:
    policy = replace(QUIET, compare=False, min_requests=100)
    decision, at = run(policy, [obs(i, arm(100, 12), None) for i in range(1, 9)])
    assert (decision.verdict, decision.rule, at) == (Verdict.FAIL, "guardrail (error rate)", 2)  # 24 of 200
    decision, _ = run(policy, [obs(i, arm(100, 0), None) for i in range(1, 5)])
    assert decision.verdict is Verdict.PASS
    assert "baseline" not in decision.reasons[0]


def test_interval_rows_carry_the_numbers() -> None:
    state = start(QUIET)
    state, interval, decision = step(QUIET, state, obs(1, arm(200, 4), arm(100, 0)))
    assert interval.index == 1 and interval.elapsed == 15.0 and interval.status == "ok"
    assert interval.canary is not None and interval.canary.errors == 4
    assert math.exp(interval.log_e_errors) > 1
    assert [c.result.value for c in interval.checks] == ["ok", "ok", "ok"]
    assert decision.verdict is Verdict.INCONCLUSIVE and not decision.final  # so far: 100 baseline requests < 200
    assert decision.rule == "insufficient traffic"
    state, interval, _ = step(QUIET, state, obs(2, None, None, QUERY_DOWN))
    assert interval.status == "error" and "connection refused" in interval.note


def test_no_step_after_a_final_decision() -> None:
    state = start(QUIET)
    state, _, decision = step(QUIET, state, obs(1, arm(100, 9), arm(100, 0)))
    assert decision.final
    with pytest.raises(ValueError, match="already decided"):
        step(QUIET, state, obs(2, arm(100), arm(100)))
    assert conclude(QUIET, state) == decision


def test_rising_canary_share_is_handled_per_interval() -> None:
    """rho_i changes per interval: a canary at 10% of traffic with 10% of the errors is not worse."""
    observations = [obs(i, arm(10 * i, 1), arm(100 - 10 * i, 10 - i)) for i in range(1, 6)]
    decision, _ = run(replace(QUIET, min_requests=1), observations)
    assert decision.verdict is Verdict.PASS
