"""Canary detection benchmark: canary-statistics.md §4, every decider side by side on the same simulated runs.

    .venv/bin/python benchmarks/canary_detection.py            # full grid (N = 1000 regressed, 10 000 healthy)
    .venv/bin/python benchmarks/canary_detection.py --quick    # CI: N = 200 / 2 000
    .venv/bin/python benchmarks/canary_detection.py --ideal    # no Prometheus layer: every decider sees every tick

Simulation. Per arm and tick, n ~ Poisson(R dt) requests, x ~ Binomial(n, p(t)) errors, latencies as histogram counts
Multinomial(n, pi) over {0.05, 0.1, 0.25, 0.5, 1, 2, 5, +Inf} s, pi from a lognormal (median 100 ms, sigma_log 0.5).
With the Prometheus layer (default) counters are visible only at 15 s scrapes. Every rate in the scenarios changes
on a multiple of 15 s, so the 15 ticks between two scrapes are drawn as one window: a sum of independent Poissons is
Poisson, and binomial and multinomial thinning carry over, so the counts seen at each scrape have exactly the law of
the summed ticks. ``--ideal`` draws every 1 s tick and lets each decider look at every tick (§4 asks for 0.1 s ticks at
R = 500; the judge's restart recursion runs once per look, and 36 000 looks per run make that mode take hours).

"Ours" is the e-process of ``hotfix_actions.decide.canary`` (the functions, the psi grid and the alphas of the
judge's default Policy), evaluated on numpy arrays; ``verify_against_judge`` replays sample runs through the judge's
own ``step`` and checks it stops at the same scrape. Guardrails and the early pass are not part of this decider.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hotfix_actions.decide.canary import Arm, Observation, Policy, start, step
from hotfix_actions.decide.canary.eprocess import (
    Ops,
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

NP = Ops(log=np.log, log1p=np.log1p, exp=np.exp, maximum=np.maximum)
POLICY = Policy()
EDGES = np.array([0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, np.inf])
HORIZON = 3600.0
SCRAPE = 15.0
P0 = 0.001
ALPHA = 0.01
ERROR_P1 = (0.005, 0.01, 0.05, 0.5)
LATENCY_X = (1.5, 3.0, 10.0)
RATES = (5.0, 50.0, 500.0)
ONSETS = (0.0, 600.0)
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


def bucket_probs(median: float, sigma: float = 0.5) -> np.ndarray:
    cdf = [0.5 * (1 + math.erf((math.log(e) - math.log(median)) / (sigma * math.sqrt(2)))) for e in EDGES[:-1]]
    return np.diff(np.array([0.0, *cdf, 1.0]))


@dataclass(frozen=True)
class Scenario:
    kind: str  # errors | latency | healthy | shared | ramp | ramp-errors
    rate: float  # requests per second per arm (at a 50/50 split)
    effect: float = 0.0  # p1 for errors, the median factor for latency
    onset: float = 0.0
    runs: int = 1000

    @property
    def regressed(self) -> bool:
        return self.kind in ("errors", "latency", "ramp-errors")

    def label(self) -> str:
        what = {
            "errors": f"p1={self.effect:.1%}",
            "latency": f"latency x{self.effect:g}",
            "ramp-errors": f"ramp 10->50%, p1={self.effect:.1%}",
            "healthy": "healthy",
            "shared": "shared incident",
            "ramp": "ramp 10->50%, healthy",
        }[self.kind]
        return f"R={self.rate:g} {what}" + (f" t0={self.onset:g}" if self.regressed else "")


@dataclass(frozen=True)
class Plan:
    """Per window: rate, error probability and bucket probabilities for each arm; the window length."""

    dt: float
    starts: np.ndarray
    rate_c: np.ndarray
    rate_b: np.ndarray
    p_c: np.ndarray
    p_b: np.ndarray
    pi_c: np.ndarray
    pi_b: np.ndarray


def plan(sc: Scenario, dt: float) -> Plan:
    starts = np.arange(0.0, HORIZON, dt)
    t = len(starts)
    base_pi = bucket_probs(0.1)
    rate_c = np.full(t, sc.rate)
    rate_b = np.full(t, sc.rate)
    p_c, p_b = np.full(t, P0), np.full(t, P0)
    pi_c, pi_b = np.tile(base_pi, (t, 1)), np.tile(base_pi, (t, 1))
    after = starts >= sc.onset
    if sc.kind in ("ramp", "ramp-errors"):
        share = 0.1 + 0.4 * np.minimum(1.0, (starts + dt / 2) / 600.0)
        rate_c, rate_b = 2 * sc.rate * share, 2 * sc.rate * (1 - share)
    if sc.kind in ("errors", "ramp-errors"):
        p_c[after] = sc.effect
    if sc.kind == "latency":
        pi_c[after] = bucket_probs(0.1 * sc.effect)
    if sc.kind == "shared":
        incident = (starts >= 600.0) & (starts < 720.0)
        for p in (p_c, p_b):
            p[incident] = 0.10
        for pi in (pi_c, pi_b):
            pi[incident] = bucket_probs(0.5)
    return Plan(dt, starts, rate_c, rate_b, p_c, p_b, pi_c, pi_b)


@dataclass
class Sim:
    nc: np.ndarray
    nb: np.ndarray
    xc: np.ndarray
    xb: np.ndarray
    hc: np.ndarray  # (runs, windows, buckets)
    hb: np.ndarray


def simulate(rng: np.random.Generator, pl: Plan, runs: int) -> Sim:
    def arm(rate: np.ndarray, p: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = rng.poisson(rate * pl.dt, size=(runs, len(rate)))
        x = rng.binomial(n, p)
        h = np.empty((*n.shape, len(EDGES)), dtype=np.int64)
        left = n.copy()
        mass = np.ones(len(rate))
        for b in range(len(EDGES) - 1):
            q = np.clip(pi[:, b] / np.maximum(mass, 1e-300), 0.0, 1.0)
            h[..., b] = rng.binomial(left, q)
            left -= h[..., b]
            mass = mass - pi[:, b]
        h[..., -1] = left
        return n, x, h

    nc, xc, hc = arm(pl.rate_c, pl.p_c, pl.pi_c)
    nb, xb, hb = arm(pl.rate_b, pl.p_b, pl.pi_b)
    return Sim(nc, nb, xc, xb, hc, hb)


def first(hit: np.ndarray) -> np.ndarray:
    """Index of the first True per row; the number of columns when there is none."""
    any_hit = hit.any(axis=1)
    return np.where(any_hit, hit.argmax(axis=1), hit.shape[1])


def window_sum(a: np.ndarray, width: int) -> np.ndarray:
    """Sum over the last ``width`` windows ending at each window (fewer at the start)."""
    c = np.cumsum(a, axis=1)
    out = c.copy()
    out[:, width:] -= c[:, :-width]
    return out


def quantile(q: float, h: np.ndarray) -> np.ndarray:
    """histogram_quantile over bucket counts (..., buckets); NaN without observations."""
    cum = np.cumsum(h, axis=-1)
    total = cum[..., -1]
    rank = q * total
    idx = np.minimum((cum < rank[..., None]).sum(axis=-1), len(EDGES) - 1)
    upper = EDGES[idx]
    lower = np.where(idx > 0, EDGES[np.maximum(idx - 1, 0)], 0.0)
    c_hi = np.take_along_axis(cum, idx[..., None], -1)[..., 0]
    c_lo = np.where(idx > 0, np.take_along_axis(cum, np.maximum(idx - 1, 0)[..., None], -1)[..., 0], 0)
    frac = np.where(c_hi > c_lo, (rank - c_lo) / np.maximum(c_hi - c_lo, 1), 1.0)
    value = np.where(np.isinf(upper), lower, lower + (upper - lower) * frac)
    return np.where(total > 0, value, np.nan)


def check_mask(pl: Plan, every: float) -> np.ndarray:
    ends = pl.starts + pl.dt
    return np.isclose(np.mod(ends + 1e-9, every), 0.0, atol=1e-6)


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


# -- measures ---------------------------------------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Measure:
    detected: float  # share of runs with a rollback (power for regressions, FPR for healthy)
    ci: tuple[float, float]
    median: float  # time to detect after the onset (s); inf when fewer than half detect
    p95: float  # inf when power < 95%
    blast: float  # median canary errors served from the onset until the rollback (or the horizon)
    caught: float | None = None  # flagger: rollback before promotion


def outcomes(index: np.ndarray, s: Sim, pl: Plan, sc: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """Per run: time to detect after the onset (inf when never) and canary errors served since the onset until then."""
    never = s.nc.shape[1]
    hit = index < never
    ttd = np.where(hit, np.maximum(0.0, (index + 1) * pl.dt - sc.onset), np.inf)
    served = np.cumsum(s.xc * (pl.starts >= sc.onset)[None, :], axis=1)
    return ttd, served[np.arange(len(index)), np.minimum(index, never - 1)]


def summarise(ttd: np.ndarray, blast: np.ndarray, caught: np.ndarray | None) -> Measure:
    n = len(ttd)
    k = int(np.isfinite(ttd).sum())
    return Measure(
        detected=k / n,
        ci=wilson(k, n),
        median=float(np.quantile(ttd, 0.5)) if k * 2 >= n else math.inf,
        p95=float(np.quantile(ttd, 0.95)) if k >= 0.95 * n else math.inf,
        blast=float(np.median(blast)),
        caught=float(caught.mean()) if caught is not None else None,
    )


def run_cell(args: tuple[Scenario, bool, int, int]) -> tuple[Scenario, dict[str, Measure], int, float]:
    sc, ideal, seed, verify = args
    started = time.perf_counter()
    dt = 1.0 if ideal else SCRAPE
    pl = plan(sc, dt)
    rng = np.random.default_rng(seed)
    batch = max(1, min(sc.runs, int(3e6 / len(pl.starts))))
    collected: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]] = {}
    mismatches = 0
    for lo in range(0, sc.runs, batch):
        sim = simulate(rng, pl, min(batch, sc.runs - lo))
        found = run_deciders(sim, pl, sc)
        if lo == 0 and verify:
            mismatches = verify_against_judge(sim, pl, found["ours"], found["ours early PASS"], verify)
        never = sim.nc.shape[1]
        first_pass = np.where(found["ours early PASS"] < found["ours"], found["ours early PASS"], never)
        found["ours PASS first"] = np.where(first_pass < never, 0, never)
        for name in (*DECIDERS, "ours PASS first"):
            if name in found:
                ttd, blast = outcomes(found[name], sim, pl, sc)
                if name == "ours early PASS":
                    ttd = np.where(found[name] < never, (found[name] + 1) * pl.dt, np.inf)  # from the start
                collected.setdefault(name, []).append((ttd, blast, found.get(f"{name} caught")))
    merged = {}
    for name, parts in collected.items():
        caught = [c for _, _, c in parts if c is not None]
        merged[name] = summarise(
            np.concatenate([t for t, _, _ in parts]),
            np.concatenate([b for _, b, _ in parts]),
            np.concatenate(caught) if caught else None,
        )
    return sc, merged, mismatches, time.perf_counter() - started


# -- grid and report --------------------------------------------------------------------------------------------------
def grid(regressed: int, healthy: int) -> list[Scenario]:
    cells = [Scenario("errors", r, p1, t0, regressed) for r in RATES for p1 in ERROR_P1 for t0 in ONSETS]
    cells += [Scenario("latency", r, x, t0, regressed) for r in RATES for x in LATENCY_X for t0 in ONSETS]
    cells += [Scenario("ramp-errors", r, 0.01, 0.0, regressed) for r in RATES]
    cells += [Scenario(kind, r, runs=healthy) for kind in ("healthy", "shared", "ramp") for r in RATES]
    return cells


def fmt_s(v: float) -> str:
    if math.isinf(v):
        return "∞"
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def report(
    results: list[tuple[Scenario, dict[str, Measure], int, float]], ideal: bool
) -> tuple[str, list[str], list[str]]:
    shown = [d for d in DECIDERS if not d.startswith("oracle") and d != "ours early PASS"]
    lines = [f"### Time to detect (median s after onset; P(detect) in brackets){' — ideal' if ideal else ''}\n"]
    lines.append(
        "| cell | " + " | ".join([*shown, "oracle 2S", "oracle 2S@0", "oracle 1S", "ours/2S", "ours/2S@0"]) + " |"
    )
    lines.append("|" + "---|" * (len(shown) + 6))
    failures: list[str] = []
    notes: list[str] = []
    for sc, m, _, _ in results:
        if not sc.regressed:
            continue
        cells = [f"{fmt_s(m[d].median)} ({m[d].detected:.0%})" if d in m else "n/a" for d in shown]
        two, two0, one = m["oracle 2S"], m["oracle 2S@0"], m["oracle 1S"]
        ratio = m["ours"].median / two.median if two.median > 0 else math.inf
        ratio0 = m["ours"].median / two0.median if two0.median > 0 else math.inf
        oracle_cells = [fmt_s(two.median), fmt_s(two0.median), fmt_s(one.median), f"{ratio:.2f}", f"{ratio0:.2f}"]
        lines.append(f"| {sc.label()} | " + " | ".join([*cells, *oracle_cells]) + " |")
        limit = 2.0 if sc.effect < 0.01 else 1.5
        if sc.kind in ("errors", "ramp-errors"):  # the TTD targets are stated for error regressions (p1)
            if ratio0 > limit + 1e-9:
                failures.append(f"{sc.label()}: ours / oracle 2S@0 = {ratio0:.2f} > {limit}")
            if ratio > limit + 1e-9:
                notes.append(f"{sc.label()}: ours / oracle 2S (knows t0) = {ratio:.2f} > {limit}")
        if m["ours"].median > m["seed-B"].median:
            failures.append(f"{sc.label()}: ours {fmt_s(m['ours'].median)} s slower than seed-B")
    lines.append("\n### p95 time to detect (s) and blast radius (median canary errors served before rollback)\n")
    lines.append(
        "| cell | "
        + " | ".join(f"{d} p95 / errors" for d in ("seed-B", "flagger T=1", "ours"))
        + " | flagger T=1/T=5 caught before promotion |"
    )
    lines.append("|---|---|---|---|---|")
    for sc, m, _, _ in results:
        if not sc.regressed:
            continue
        cells = [f"{fmt_s(m[d].p95)} / {m[d].blast:.0f}" for d in ("seed-B", "flagger T=1", "ours")]
        caught = f"{m['flagger T=1'].caught:.0%} / {m['flagger T=5'].caught:.0%}"
        lines.append(f"| {sc.label()} | " + " | ".join([*cells, caught]) + " |")
    lines.append("\n### False rollbacks (share of runs, Wilson 95% CI)\n")
    lines.append("| cell | runs | " + " | ".join(shown) + " |")
    lines.append("|" + "---|" * (len(shown) + 2))
    for sc, m, _, _ in results:
        if sc.regressed:
            continue
        cells = [f"{m[d].detected:.2%} [{m[d].ci[0]:.2%}, {m[d].ci[1]:.2%}]" if d in m else "n/a" for d in shown]
        lines.append(f"| {sc.label()} | {sc.runs} | " + " | ".join(cells) + " |")
        if m["ours"].ci[1] > 0.013:
            failures.append(f"{sc.label()}: ours FPR upper CI {m['ours'].ci[1]:.2%} > 1.3%")
    lines.append("\n### Early PASS of ours (rule: not worse, alpha 0.05, min_requests 200 per arm)\n")
    lines.append(
        "| cell | healthy: median time to PASS (s) / share passed early | regressed: share passed before the FAIL |"
    )
    lines.append("|---|---|---|")
    for sc, m, _, _ in results:
        early, wrong = m["ours early PASS"], m["ours PASS first"]
        if sc.regressed:
            lines.append(f"| {sc.label()} | | {wrong.detected:.2%} [{wrong.ci[0]:.2%}, {wrong.ci[1]:.2%}] |")
        else:
            lines.append(f"| {sc.label()} | {fmt_s(early.median)} / {early.detected:.1%} | |")
    return "\n".join(lines) + "\n", failures, notes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="N = 200 regressed / 2000 healthy runs per cell")
    ap.add_argument("--ideal", action="store_true", help="no Prometheus layer: every decider sees every tick")
    ap.add_argument("--runs", type=int, help="regressed runs per cell (default 1000, quick 200)")
    ap.add_argument("--healthy-runs", type=int, help="healthy runs per cell (default 10000, quick 2000)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--verify", type=int, default=20, help="runs per cell replayed through the judge's step()")
    ap.add_argument("--out", type=Path, help="also write the Markdown tables here")
    args = ap.parse_args(argv)
    regressed = args.runs or (200 if args.quick else 1000)
    healthy = args.healthy_runs or (2000 if args.quick else 10000)
    cells = grid(regressed, healthy)
    started = time.perf_counter()
    jobs = [(sc, args.ideal, args.seed + i, args.verify) for i, sc in enumerate(cells)]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_cell, jobs))
    elapsed = time.perf_counter() - started
    text, failures, notes = report(results, args.ideal)
    mismatches = sum(r[2] for r in results)
    checked = sum(min(args.verify, sc.runs) for sc in cells)
    text += f"\nJudge replay: {checked - mismatches}/{checked} runs stop at the same scrape as the vectorised 'ours'.\n"
    text += f"Wall time {elapsed:.0f} s on {args.jobs} processes; cells: {len(cells)}.\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    for note in notes:
        print(f"note (latent onset, oracle told t0): {note}")
    for failure in failures:
        print(f"TARGET MISSED: {failure}")
    if mismatches:
        print(f"MISMATCH: {mismatches} runs disagree with the judge")
    return 1 if failures or mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
