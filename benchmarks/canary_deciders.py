"""Reference deciders and oracles for benchmarks/canary_detection.py, on the per-poll counts of a batch (numpy).

They read what Prometheus shows at each poll, summed per arm, without the restarts' losses (``Batch.ideal``): the
oracles get the best data there is. "Ours" is not here: the benchmark runs the command's own analysis loop.

- oracle 2S (onset-aware): the two-sample SPRT that knows the regression (psi = p1/p0, or the latency buckets'
  ratios) and when it starts: log-likelihood ratios of the poll intervals that end after the onset, summed, stop at
  ``log(1/alpha)`` (alpha = 0.01, the whole budget). It reads the same answers as the gate (both arms one scrape
  interval before each poll) from the same starting point (the first answer with the canary's series).
- oracle 2S@0: the same from the start of the analysis (it does not know the onset).
- oracle 2S fresh: the onset-aware oracle on both arms read at the poll itself, without the gate's one-interval lag:
  what the lag costs in time to detect.
- seed-B: every 30 s over the last 30 s, a breach if errors > 5% or p95 > 2 s; rolls back after 3 breaches in a row.
- flagger T=1: every 60 s over the last minute, a failed check if success < 99%, p99 > 500 ms or no traffic; rolls
  back at the next check after the first failed one.
"""

from __future__ import annotations

import math

import numpy as np
from canary_sim import EDGES, P0, Batch, Scenario, bucket_probs

ALPHA = 0.01
EDGE_ARRAY = np.array(EDGES)


def first(hit: np.ndarray) -> np.ndarray:
    """Index of the first True per row; the number of columns when there is none."""
    return np.where(hit.any(axis=1), hit.argmax(axis=1), hit.shape[1])


def deltas(batch: Batch, fresh: bool = False) -> np.ndarray:
    """Per run, interval (poll k-1 to k), arm: requests, errors, buckets (per bucket, not cumulative), counted from
    the same starting point as the gate: the first poll whose answer has the canary's series. ``fresh``: both arms
    read at the poll itself instead of one scrape interval before (what a gate without that lag would see)."""
    d = np.diff(batch.fresh if fresh else batch.ideal, axis=1)
    per_bucket = np.diff(d[..., 2:], axis=-1, prepend=0.0)
    out = np.concatenate([d[..., :2], per_bucket], axis=-1)
    start = first((batch.ahead_present if fresh else batch.present)[:, :, 0])  # the poll of the starting point
    counted = np.arange(out.shape[1])[None, :] >= start[:, None]  # interval k ends at poll k + 1
    return out * counted[:, :, None, None]


def _split_log_lr(xc: np.ndarray, xb: np.ndarray, rho: np.ndarray, psi: float | np.ndarray) -> np.ndarray:
    return xc * np.log(psi) - (xc + xb) * np.log1p(rho * (psi - 1.0))


def oracles(batch: Batch, sc: Scenario, ends: np.ndarray, fresh: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Stop times (s, inf when never) of the onset-aware two-sample oracle and of the one that starts at 0.
    ``ends``: the poll time that ends each interval."""
    d = deltas(batch, fresh)
    c, b = d[:, :, 0], d[:, :, 1]
    if sc.kind in ("errors", "ramp-errors"):
        rho = c[..., 0] / np.maximum(c[..., 0] + b[..., 0], 1e-300)
        step = _split_log_lr(c[..., 1], b[..., 1], rho, sc.effect / P0)
    else:
        ratio = bucket_probs(0.1 * sc.effect) / bucket_probs(0.1)
        nc, nb = c[..., 2:].sum(-1), b[..., 2:].sum(-1)
        rho = nc / np.maximum(nc + nb, 1e-300)
        step = sum(_split_log_lr(c[..., 2 + k], b[..., 2 + k], rho, ratio[k]) for k in range(len(EDGES)))
    threshold = math.log(1 / ALPHA)
    after = ends[None, :] > batch.onset[:, None]
    aware = first(np.cumsum(step * after, axis=1) >= threshold)
    blind = first(np.cumsum(step, axis=1) >= threshold)
    times = np.append(ends, np.inf)
    return times[aware], times[blind]


def _quantile(q: float, h: np.ndarray) -> np.ndarray:
    """histogram_quantile over per-bucket counts (..., buckets); NaN without observations."""
    cum = np.cumsum(h, axis=-1)
    total = cum[..., -1]
    rank = q * total
    idx = np.minimum((cum < rank[..., None]).sum(axis=-1), len(EDGES) - 1)
    upper = EDGE_ARRAY[idx]
    lower = np.where(idx > 0, EDGE_ARRAY[np.maximum(idx - 1, 0)], 0.0)
    c_hi = np.take_along_axis(cum, idx[..., None], -1)[..., 0]
    c_lo = np.where(idx > 0, np.take_along_axis(cum, np.maximum(idx - 1, 0)[..., None], -1)[..., 0], 0)
    frac = np.where(c_hi > c_lo, (rank - c_lo) / np.maximum(c_hi - c_lo, 1), 1.0)
    value = np.where(np.isinf(upper), lower, lower + (upper - lower) * frac)
    return np.where(total > 0, value, np.nan)


def _windows(a: np.ndarray, width: int) -> np.ndarray:
    """Sum over the last ``width`` intervals ending at each interval (fewer at the start)."""
    c = np.cumsum(a, axis=1)
    out = c.copy()
    out[:, width:] -= c[:, :-width]
    return out


def reference(batch: Batch, ends: np.ndarray) -> dict[str, np.ndarray]:
    """Stop times (inf when never) of seed-B and flagger T=1, on the canary's counts."""
    canary = deltas(batch)[:, :, 0]
    times = np.append(ends, np.inf)
    out: dict[str, np.ndarray] = {}
    for name, every, width_s in (("seed-B", 2, 30.0), ("flagger T=1", 4, 60.0)):
        width = max(1, round(width_s / (ends[1] - ends[0]))) if len(ends) > 1 else 1
        w = _windows(canary, width)
        n, x, h = w[..., 0], w[..., 1], w[..., 2:]
        checks = np.arange(every - 1, len(ends), every)
        if name == "seed-B":
            breach = (n > 0) & ((x > 0.05 * n) | (np.nan_to_num(_quantile(0.95, h), nan=0.0) > 2.0))
            run = np.zeros(len(n), dtype=int)
            stop = np.full(len(n), len(ends))
            for col in checks:
                run = np.where(breach[:, col], run + 1, 0)
                stop = np.where((run >= 3) & (stop == len(ends)), col, stop)
        else:
            failed = (n == 0) | (x > 0.01 * n) | ~(np.nan_to_num(_quantile(0.99, h), nan=np.inf) <= 0.5)
            stop = np.full(len(n), len(ends))
            seen = np.zeros(len(n), dtype=bool)
            for col in checks:
                stop = np.where(seen & (stop == len(ends)), col, stop)
                seen |= failed[:, col]
        out[name] = times[stop]
    return out
