"""What a run could have detected (minimum detectable effect), and require_power."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotfix_actions.decide.canary import Arm, EarlyPass, Observation, Policy, conclude, start, step
from hotfix_actions.decide.canary import evidence as ev
from hotfix_actions.decide.canary.power import detectable, mde, under_powered
from hotfix_actions.decide.verdict import Verdict

QUIET = Policy(early_pass=EarlyPass(enabled=False))


def arm(requests: float, errors: float) -> Arm:
    return Arm(requests=requests, errors=errors, buckets={0.25: requests, math.inf: requests})


def evidence_of(policy: Policy, intervals: list[tuple[Arm, Arm]]) -> ev.Evidence:
    e = ev.empty(policy)
    for canary, baseline in intervals:
        e = ev.update(policy, e, canary, baseline)
    return e


def test_without_baseline_errors_the_floor_is_about_eleven_canary_errors() -> None:
    """rho = 1/2, no baseline errors: the largest alternative gains log(2) per canary error, and the e-process needs
    log(200) + log(10) + log(1/0.8), so about 11 canary errors: the rate is that over the canary's requests."""
    need = math.log(200) + math.log(10) + math.log(1 / 0.8)
    rate = mde(1000, 1000, 0, need, QUIET.psi_grid)
    assert rate is not None and rate * 1000 == pytest.approx(need / math.log(2 * 1000 / 1001), rel=1e-9)
    assert 10 < rate * 1000 < 12


def test_no_traffic_no_detectable_effect() -> None:
    assert mde(0, 1000, 1, 8.0, QUIET.psi_grid) is None
    assert mde(5, 5, 0, 8.0, QUIET.psi_grid) is None  # would need more errors than requests


@given(
    st.floats(min_value=50, max_value=1e6),
    st.floats(min_value=50, max_value=1e6),
    st.floats(min_value=0, max_value=0.05),
    st.floats(min_value=1.1, max_value=10),
)
def test_property_more_traffic_never_makes_the_mde_worse(n_c: float, n_b: float, p_b: float, more: float) -> None:
    need = math.log(2000)
    small = mde(n_c, n_b, n_b * p_b, need, QUIET.psi_grid)
    large = mde(n_c * more, n_b * more, n_b * more * p_b, need, QUIET.psi_grid)
    assert large is not None or small is None
    if small is not None and large is not None:
        assert large <= small * (1 + 1e-9)


def detection_rate(policy: Policy, p_c: float, p_b: float, n: int, intervals: int, runs: int, seed: int) -> float:
    rng = random.Random(seed)
    hits = 0
    for _ in range(runs):
        state = start(policy)
        for i in range(intervals):
            c = sum(rng.random() < p_c for _ in range(n))
            b = sum(rng.random() < p_b for _ in range(n))
            state, _, decision = step(policy, state, Observation(15.0 * (i + 1), arm(n, c), arm(n, b)))
            if decision.final:
                hits += decision.verdict is Verdict.FAIL
                break
    return hits / runs


def test_the_mde_means_what_it_says_in_the_judge() -> None:
    """With 10 intervals of 300 requests per arm and a 0.3% baseline, a canary at twice the MDE is caught most of
    the time by the judge itself, and one at half the MDE rarely."""
    policy = replace(QUIET, guardrails=())
    n, intervals, p_b = 300, 10, 0.003
    e = evidence_of(policy, [(arm(n, 0), arm(n, n * p_b))] * intervals)
    (errors, *_) = detectable(policy, e)
    assert errors.signal == "errors" and errors.rate is not None
    assert detection_rate(policy, 2 * errors.rate, p_b, n, intervals, 200, 1) >= 0.8
    assert detection_rate(policy, 0.5 * errors.rate, p_b, n, intervals, 200, 2) <= 0.2


def test_low_traffic_pass_says_what_it_could_have_detected_and_require_power_makes_it_inconclusive() -> None:
    healthy = [Observation(15.0 * i, arm(30, 0), arm(30, 0)) for i in range(1, 11)]  # 300 requests per arm
    state = start(QUIET)
    for obs in healthy:
        state, _, _ = step(QUIET, state, obs)
    passed = conclude(QUIET, state)
    assert passed.verdict is Verdict.PASS and passed.rule == "duration complete"
    assert any(r.startswith("could have detected: errors: a canary rate of 3.") for r in passed.reasons), passed.reasons
    strict = replace(QUIET, require_power=True)
    state = start(strict)
    for obs in healthy:
        state, _, _ = step(strict, state, obs)
    held = conclude(strict, state)
    assert (held.verdict, held.rule) == (Verdict.INCONCLUSIVE, "under-powered")
    assert "could not detect 0.50%" in " ".join(held.reasons)
    assert under_powered(strict, state.evidence)


def test_enough_traffic_is_powered() -> None:
    strict = replace(QUIET, require_power=True)
    state = start(strict)
    for i in range(1, 11):
        state, _, _ = step(strict, state, Observation(15.0 * i, arm(3000, 3), arm(3000, 3)))
    decided = conclude(strict, state)
    assert decided.verdict is Verdict.PASS, decided.reasons
    assert under_powered(strict, state.evidence) == []
