"""The e-process of canary-statistics.md §1 against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hotfix_actions.decide.canary.eprocess import (
    PSI_GRID,
    SCALAR,
    Ops,
    crossed,
    log_mean_exp,
    log_threshold,
    one_sample_log_lr,
    restart_log_e,
    restart_step,
    split_log_lr,
    split_share,
    start_weight,
    tail_weight,
)

NUMPY = Ops(log=np.log, log1p=np.log1p, exp=np.exp, maximum=np.maximum)


def fixed_split_e(xc: int, xb: int) -> float:
    """The closed form at a fixed 50/50 split: E = (1/J) sum_j (2 theta_j)^Xc (2 (1 - theta_j))^Xb."""
    total = 0.0
    for psi in PSI_GRID:
        theta = psi / (psi + 1)
        total += (2 * theta) ** xc * (2 * (1 - theta)) ** xb
    return total / len(PSI_GRID)


@pytest.mark.parametrize(
    ("xc", "xb", "rho", "psi", "expected"),
    [
        (0, 0, 0.5, 3.0, 1.0),  # no events: no evidence
        (5, 7, 0.5, 1.0, 1.0),  # psi = 1 is the null: LR = 1
        (2, 1, 0.5, 3.0, 1.5**2 * 0.5),  # theta = 0.75: (theta/rho)^2 ((1-theta)/(1-rho))^1
        (1, 0, 0.1, 10.0, (1 / 1.9) / 0.1),  # theta = 1/1.9 at a 10% canary share
        (0, 4, 0.25, 2.0, (0.6 / 0.75) ** 4),  # theta = 0.5/1.25 = 0.4: only baseline events, LR falls
        (3, 0, 1.0, 50.0, 1.0),  # the canary served everything: the split says nothing
        (0, 3, 0.0, 50.0, 1.0),  # the baseline served everything
    ],
)
def test_split_likelihood_ratio(xc: int, xb: int, rho: float, psi: float, expected: float) -> None:
    assert math.exp(split_log_lr(xc, xb, rho, psi)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("xc", "xb"), [(0, 0), (1, 0), (4, 2), (8, 0), (9, 0), (12, 3), (20, 20)])
def test_mixture_matches_the_closed_form_at_a_fixed_split(xc: int, xb: int) -> None:
    logs = [split_log_lr(xc, xb, 0.5, psi) for psi in PSI_GRID]
    assert math.exp(log_mean_exp(logs)) == pytest.approx(fixed_split_e(xc, xb), rel=1e-12)


def test_nine_canary_only_errors_cross_at_alpha_0_005_and_eight_do_not() -> None:
    """At rho = 1/2 no valid split test can act on fewer than ceil(log 200 / log 2) = 8 canary-only errors."""
    for xc, expected in [(7, False), (8, False), (9, True)]:
        logs = [split_log_lr(xc, 0, 0.5, psi) for psi in PSI_GRID]
        assert crossed(log_mean_exp(logs), 0.005) is expected, xc
    assert fixed_split_e(8, 0) == pytest.approx(135.0, abs=0.1)
    assert fixed_split_e(9, 0) == pytest.approx(260.4, abs=0.1)


def test_interval_by_interval_equals_the_whole() -> None:
    """At a constant share the order and grouping of intervals does not matter."""
    chunks = [(1, 0), (0, 2), (3, 1), (2, 0)]
    stepwise = sum(split_log_lr(c, b, 0.3, 5.0) for c, b in chunks)
    assert stepwise == pytest.approx(split_log_lr(6, 3, 0.3, 5.0))


def test_martingale_under_the_null_has_mean_one() -> None:
    """E[LR_i(psi) | x events] = 1 when events split by rho: sum over the binomial law is exactly 1."""
    x, rho = 6, 0.3
    for psi in PSI_GRID:
        mean = sum(
            math.comb(x, k) * rho**k * (1 - rho) ** (x - k) * math.exp(split_log_lr(k, x - k, rho, psi))
            for k in range(x + 1)
        )
        assert mean == pytest.approx(1.0, rel=1e-12)


def test_one_sample_ratio() -> None:
    value = one_sample_log_lr(1, 100, 0.01, 0.001)
    assert value == pytest.approx(math.log(0.1) + 99 * math.log(0.999 / 0.99))


@pytest.mark.parametrize(("alpha", "expected"), [(0.01, math.log(100)), (0.005, math.log(200)), (0.5, math.log(2))])
def test_threshold(alpha: float, expected: float) -> None:
    assert log_threshold(alpha) == pytest.approx(expected)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 2.0])
def test_threshold_rejects_nonsense(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        log_threshold(alpha)


def test_share() -> None:
    assert split_share(30, 70) == pytest.approx(0.3)
    assert split_share(0, 0) == 0.5
    shares = split_share(np.array([30.0, 0.0, 5.0]), np.array([70.0, 0.0, 0.0]), NUMPY)
    assert shares.tolist() == pytest.approx([0.3, 0.5, 1.0])


def test_the_same_code_runs_on_arrays() -> None:
    xc = np.array([0.0, 2.0, 9.0, 1.0])
    xb = np.array([0.0, 1.0, 0.0, 0.0])
    rho = np.array([0.5, 0.5, 0.5, 0.1])
    logs = [split_log_lr(xc, xb, rho, psi, NUMPY) for psi in PSI_GRID]
    vector = log_mean_exp(logs, NUMPY)
    for i in range(4):
        scalar = log_mean_exp([split_log_lr(xc[i], xb[i], rho[i], psi, SCALAR) for psi in PSI_GRID])
        assert vector[i] == pytest.approx(scalar, rel=1e-12)
    assert crossed(vector, 0.005).tolist() == [False, False, True, False]


def test_log_mean_exp_is_stable_for_large_values() -> None:
    assert log_mean_exp([1000.0, 1000.0]) == pytest.approx(1000.0)
    with pytest.raises(ValueError, match="empty"):
        log_mean_exp([])


def test_start_weights_sum_to_one() -> None:
    total = sum(start_weight(s) for s in range(20000)) + tail_weight(20000)
    assert total == pytest.approx(1.0, abs=1e-12)
    assert [start_weight(s) for s in range(3)] == pytest.approx([0.8, 0.1, 0.2 / 6])
    assert [tail_weight(t) for t in range(4)] == pytest.approx([1.0, 0.2, 0.1, 0.2 / 3])


def _restart_e(lrs: list[float]) -> float:
    log_s = -math.inf
    for t, lr in enumerate(lrs, start=1):
        log_s = restart_step(log_s, math.log(lr), t)
    return math.exp(restart_log_e([log_s], len(lrs)))


@pytest.mark.parametrize(
    ("lrs", "expected"),
    [
        ([], 1.0),  # nothing seen: E_0 = 1
        ([1.0, 1.0, 1.0], 1.0),  # no evidence keeps it at 1
        ([4.0], 0.8 * 4 + 0.2),  # start 0 sees it; later starts have not begun
        ([2.0, 3.0], 0.8 * 6 + 0.1 * 3 + 0.1),  # w0 * 2 * 3 + w1 * 3 + (w2 + ...)
        ([0.5, 0.5, 8.0], 0.8 * 2 + 0.1 * 4 + (0.2 / 6) * 8 + 0.2 / 3),
    ],
)
def test_restart_mixture_known_values(lrs: list[float], expected: float) -> None:
    assert _restart_e(lrs) == pytest.approx(expected, rel=1e-12)


def test_restarts_recover_from_a_healthy_history() -> None:
    """Before a late onset the product from 0 sinks; the mixture over starts does not stay down with it."""
    healthy = [0.5] * 40
    late = [3.0] * 13  # the start after interval 40 has weight 0.2 / 1640: 3^13 of evidence pays for it
    product = math.prod(healthy + late)
    assert product < 1e-5
    assert _restart_e(healthy + late) > 200


def test_restart_mixture_is_a_martingale_under_the_null() -> None:
    """Exact expectation over two intervals of one event each at rho = 1/2: E[E_2] = 1."""
    psi, rho = 5.0, 0.5
    outcomes = {(1, 0): rho, (0, 1): 1 - rho}
    mean = 0.0
    for (a, b), pa in outcomes.items():
        for (c, d), pc in outcomes.items():
            log_s = restart_step(-math.inf, split_log_lr(a, b, rho, psi), 1)
            log_s = restart_step(log_s, split_log_lr(c, d, rho, psi), 2)
            mean += pa * pc * math.exp(restart_log_e([log_s], 2))
    assert mean == pytest.approx(1.0, rel=1e-12)
