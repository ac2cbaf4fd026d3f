"""Simulation of canary-statistics.md §4 for benchmarks/canary_detection.py: scenarios, per-window rates, draws."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from hotfix_actions.decide.canary import Policy
from hotfix_actions.decide.canary.eprocess import Ops

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
