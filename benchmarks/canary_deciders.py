"""The deciders of canary-statistics.md §4 over simulated windows: seeds, Flagger-like, ours (the judge's code from
``hotfix_actions.decide.canary`` on numpy arrays), its ablations, the oracles, and a replay through the judge."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from canary_sim import (
    ALPHA,
    EDGES,
    NP,
    P0,
    POLICY,
    Plan,
    Scenario,
    Sim,
    bucket_probs,
    check_mask,
    first,
    quantile,
    window_sum,
)

from hotfix_actions.decide.canary import Arm, Observation, start, step
from hotfix_actions.decide.canary.eprocess import (
    crossed,
    log_mean_exp,
    log_threshold,
    one_sample_log_lr,
    restart_log_e,
    restart_step,
    split_log_lr,
    split_share,
)
from hotfix_actions.decide.canary.evidence import ABSOLUTE_ALT_FACTOR

DECIDERS = (
    "seed-A",
    "seed-B",
    "flagger T=1",
    "flagger T=5",
    "ours",
    "ours Beta(1,1)",
    "ours Beta(50,50)",
    "ours 30s poll",
    "ours early PASS",
    "oracle 2S",
    "oracle 2S@0",
    "oracle 1S",
)


def seed_a(s: Sim, pl: Plan) -> np.ndarray:
    k = round(300.0 / pl.dt) - 1
    errors, requests = s.xc[:, : k + 1].sum(1), s.nc[:, : k + 1].sum(1)
    fail = errors > 0.01 * np.maximum(requests, 1)
    return np.where(fail, k, s.nc.shape[1])


def seed_b(s: Sim, pl: Plan) -> np.ndarray:
    width = round(30.0 / pl.dt)
    n, x = window_sum(s.nc, width), window_sum(s.xc, width)
    h = np.cumsum(s.hc, axis=1)
    h[:, width:] -= h[:, :-width].copy()
    breach = (n > 0) & ((x > 0.05 * n) | (np.nan_to_num(quantile(0.95, h), nan=0.0) > 2.0))
    checks = np.flatnonzero(check_mask(pl, 30.0))
    b = breach[:, checks]
    run = np.zeros(b.shape[0], dtype=np.int64)
    out = np.full(b.shape[0], s.nc.shape[1])
    for j, col in enumerate(checks):
        run = np.where(b[:, j], run + 1, 0)
        out = np.where((run >= 3) & (out == s.nc.shape[1]), col, out)
    return out


def flagger(s: Sim, pl: Plan, threshold: int) -> tuple[np.ndarray, np.ndarray]:
    """Rollback window index (continuing the analysis) and whether it comes before promotion (5 clean checks)."""
    width = round(60.0 / pl.dt)
    n, x = window_sum(s.nc, width), window_sum(s.xc, width)
    h = np.cumsum(s.hc, axis=1)
    h[:, width:] -= h[:, :-width].copy()
    p99 = quantile(0.99, h)
    failed = (n == 0) | (x > 0.01 * n) | ~(np.nan_to_num(p99, nan=np.inf) <= 0.5)
    checks = np.flatnonzero(check_mask(pl, 60.0))
    never = s.nc.shape[1]
    fails = np.zeros(len(n), dtype=np.int64)
    passes = np.zeros(len(n), dtype=np.int64)
    rollback = np.full(len(n), never)
    promoted = np.full(len(n), never)
    for col in checks:
        due = (fails >= threshold) & (rollback == never)
        rollback = np.where(due, col, rollback)
        f = failed[:, col]
        fails += f
        passes += ~f
        promoted = np.where((passes == 5) & (promoted == never), col, promoted)
    return rollback, rollback < promoted


def restart_path(increments: list[np.ndarray]) -> np.ndarray:
    """log E_t of the judge's e-process (restart mixture over starts, psi mixture) for every window: (runs, windows)."""
    runs, windows = increments[0].shape
    log_s = [np.full(runs, -np.inf) for _ in increments]
    out = np.empty((runs, windows))
    for t in range(windows):
        log_s = [restart_step(ls, inc[:, t], t + 1, NP) for ls, inc in zip(log_s, increments, strict=True)]
        out[:, t] = restart_log_e(log_s, t + 1, NP)
    return out


def coarsen(s: Sim, factor: int) -> Sim:
    """Merge ``factor`` consecutive windows: what a decider polling ``factor`` times less often sees."""

    def merge(a: np.ndarray) -> np.ndarray:
        runs, windows = a.shape[:2]
        keep = windows // factor * factor
        return a[:, :keep].reshape(runs, keep // factor, factor, *a.shape[2:]).sum(axis=2)

    return Sim(*(merge(a) for a in (s.nc, s.nb, s.xc, s.xb, s.hc, s.hb)))


def ours(s: Sim, pl: Plan, every: float | None = None) -> np.ndarray:
    """The judge's error and latency e-processes, checked at every window (or every ``every`` seconds)."""
    if every is not None and every > pl.dt:
        factor = round(every / pl.dt)
        merged = coarsen(s, factor)
        coarse = ours(merged, pl)
        return np.where(coarse < merged.nc.shape[1], coarse * factor + factor - 1, s.nc.shape[1])
    rho = split_share(s.nc, s.nb, NP)
    err = restart_path([split_log_lr(s.xc, s.xb, rho, psi, NP) for psi in POLICY.psi_grid])
    obs_c, obs_b = s.hc.sum(-1), s.hb.sum(-1)
    rho_l = split_share(obs_c, obs_b, NP)
    per_bound = []
    for bound in POLICY.latency_bounds:
        k = int(np.flatnonzero(bound == EDGES)[0])
        slow_c = obs_c - s.hc[..., : k + 1].sum(-1)
        slow_b = obs_b - s.hb[..., : k + 1].sum(-1)
        per_bound.append(restart_path([split_log_lr(slow_c, slow_b, rho_l, psi, NP) for psi in POLICY.psi_grid]))
    lat = log_mean_exp(per_bound, NP)
    return first(crossed(err, POLICY.alpha_errors) | crossed(lat, POLICY.alpha_latency))


def ours_early_pass(s: Sim) -> np.ndarray:
    """The judge's early PASS (rule: not worse): both arms past min_requests, and for errors and every latency bound
    the canary shown not ``margin`` times worse than the baseline or below the negligible rate."""
    ep = POLICY.early_pass
    threshold = log_threshold(ep.alpha / 2)

    def shown(xc: np.ndarray, xb: np.ndarray, rho: np.ndarray, trials: np.ndarray) -> np.ndarray:
        relative = np.cumsum(-split_log_lr(xc, xb, rho, ep.margin, NP), axis=1)
        alt = ep.negligible_rate / ABSOLUTE_ALT_FACTOR
        absolute = np.cumsum(one_sample_log_lr(xc, trials, ep.negligible_rate, alt, NP), axis=1)
        return (relative >= threshold) | (absolute >= threshold)

    ok = shown(s.xc, s.xb, split_share(s.nc, s.nb, NP), s.nc)
    obs_c, obs_b = s.hc.sum(-1), s.hb.sum(-1)
    rho_l = split_share(obs_c, obs_b, NP)
    for bound in POLICY.latency_bounds:
        k = int(np.flatnonzero(bound == EDGES)[0])
        ok &= shown(obs_c - s.hc[..., : k + 1].sum(-1), obs_b - s.hb[..., : k + 1].sum(-1), rho_l, obs_c)
    enough = (np.cumsum(s.nc, axis=1) >= POLICY.min_requests) & (np.cumsum(s.nb, axis=1) >= POLICY.min_requests)
    return first(ok & enough)


def _lgamma(x: np.ndarray) -> np.ndarray:
    """Vectorised log-gamma for x > 0 (Stirling series after shifting x above 7)."""
    x = np.asarray(x, dtype=float)
    shift = np.zeros_like(x)
    y = x.copy()
    for _ in range(8):
        small = y < 8
        shift = shift + np.where(small, np.log(y), 0.0)
        y = np.where(small, y + 1, y)
    series = 1 / (12 * y) - 1 / (360 * y**3) + 1 / (1260 * y**5)
    return (y - 0.5) * np.log(y) - y + 0.5 * math.log(2 * math.pi) + series - shift


def _log_beta(a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return _lgamma(a) + _lgamma(b) - _lgamma(a + b)


def beta_mixture(s: Sim, a: float) -> np.ndarray:
    """The conjugate (savvi) e-process at a fixed 50/50 split, errors and slow counts, same alpha split."""

    def log_e(c: np.ndarray, b: np.ndarray) -> np.ndarray:
        c, b = np.cumsum(c, axis=1), np.cumsum(b, axis=1)
        return _log_beta(a + c, a + b) - _log_beta(a, a) + (c + b) * math.log(2.0)

    err = log_e(s.xc, s.xb)
    obs_c, obs_b = s.hc.sum(-1), s.hb.sum(-1)
    per_bound = []
    for bound in POLICY.latency_bounds:
        k = int(np.flatnonzero(bound == EDGES)[0])
        per_bound.append(log_e(obs_c - s.hc[..., : k + 1].sum(-1), obs_b - s.hb[..., : k + 1].sum(-1)))
    lat = log_mean_exp(per_bound, NP)
    return first(crossed(err, POLICY.alpha_errors) | crossed(lat, POLICY.alpha_latency))


def oracles(s: Sim, pl: Plan, sc: Scenario) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two-sample SPRT knowing psi and one-sample SPRT knowing the rates, from the onset; and the two-sample SPRT
    from time 0 (it knows psi but not when the regression starts, like every real decider)."""
    after = (pl.starts >= sc.onset)[None, :]
    thr = math.log(1 / ALPHA)
    if sc.kind in ("errors", "ramp-errors"):
        rho = split_share(s.nc, s.nb, NP)
        two = split_log_lr(s.xc, s.xb, rho, sc.effect / P0, NP)
        one = s.xc * math.log(sc.effect / P0) + (s.nc - s.xc) * (math.log1p(-sc.effect) - math.log1p(-P0))
    else:
        pi0, pi1 = bucket_probs(0.1), bucket_probs(0.1 * sc.effect)
        rho = split_share(s.hc.sum(-1), s.hb.sum(-1), NP)
        two = sum(split_log_lr(s.hc[..., b], s.hb[..., b], rho, pi1[b] / pi0[b], NP) for b in range(len(EDGES)))
        one = (s.hc * np.log(pi1 / pi0)).sum(-1)
    return (
        first(np.cumsum(two * after, axis=1) >= thr),
        first(np.cumsum(two, axis=1) >= thr),
        first(np.cumsum(one * after, axis=1) >= thr),
    )


def run_deciders(s: Sim, pl: Plan, sc: Scenario) -> dict[str, np.ndarray]:
    out = {"seed-A": seed_a(s, pl), "seed-B": seed_b(s, pl)}
    for threshold in (1, 5):
        rollback, caught = flagger(s, pl, threshold)
        out[f"flagger T={threshold}"] = rollback
        out[f"flagger T={threshold} caught"] = caught
    out["ours"] = ours(s, pl)
    out["ours early PASS"] = ours_early_pass(s)
    out["ours 30s poll"] = ours(s, pl, every=30.0)
    if sc.kind not in ("ramp", "ramp-errors"):  # the conjugate form needs a fixed split
        out["ours Beta(1,1)"] = beta_mixture(s, 1.0)
        out["ours Beta(50,50)"] = beta_mixture(s, 50.0)
    if sc.regressed:
        out["oracle 2S"], out["oracle 2S@0"], out["oracle 1S"] = oracles(s, pl, sc)
    return out


def verify_against_judge(s: Sim, pl: Plan, detected: np.ndarray, passed: np.ndarray, runs: int) -> int:
    """Replay ``runs`` runs through the judge's own step() (guardrails off); count runs where it stops at another
    scrape than the vectorised 'ours' (FAIL) or 'ours early PASS', whichever comes first (FAIL on a tie)."""
    policy = replace(POLICY, guardrails=())
    bad = 0
    for r in range(min(runs, s.nc.shape[0])):
        state, stop = start(policy), s.nc.shape[1]
        for k in range(s.nc.shape[1]):
            arms = []
            for n, x, h in ((s.nc, s.xc, s.hc), (s.nb, s.xb, s.hb)):
                cum = np.cumsum(h[r, k])
                arms.append(Arm(float(n[r, k]), float(x[r, k]), dict(zip(EDGES.tolist(), cum.tolist(), strict=True))))
            state, _, decision = step(policy, state, Observation((k + 1) * pl.dt, arms[0], arms[1]))
            if decision.final:
                stop = k
                break
        bad += int(stop != min(detected[r], passed[r]))
    return bad
