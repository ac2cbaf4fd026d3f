"""Simulated Prometheus answers for benchmarks/canary_detection.py: pods, scrapes, restarts, incidents (numpy).

One run: ``BASE_PODS`` baseline pods serve requests second by second from 60 s before the analysis starts (their
counters are warm) to its end; the canary pod starts 5-25 s before the analysis (the command waits for it to be
Ready), and has no series until Prometheus first scrapes it. Per pod and second: requests ~ Poisson(rate), errors ~ Binomial(requests,
p), latencies as counts per histogram bucket ~ Multinomial(requests, pi) over {0.05, 0.1, 0.25, 0.5, 1, 2, 5, +Inf}
s (pi from a lognormal, median 100 ms, sigma_log 0.5). Counters are cumulative per pod.

Prometheus: every pod is scraped every 15 s at its own phase (uniform in [0, 15), as Prometheus spreads targets), and
an instant query at time T sees each pod's value at its last scrape at or before T. A pod restart (at a time drawn
per run) zeroes all its counters at once; for 15 s the pod serves nothing and is not ready, and a scrape in that time
fails, so its series are absent from the answers until its next good scrape (Prometheus marks them stale). Half the
restarts replace the pod: it comes back under a new ``instance`` label.

Scenarios change the rates of either arm: a regression (errors or latency) from ``onset``; a shared incident (both
arms' error rate times ``effect`` for 120 s from a time drawn in [0, 480) s, with latency x5 at 100x); bursts that hit
both arms (error bursts of 2-30 s about once a minute, each multiplying the error rate by 1 + a gamma with mean 30,
on a per-second jitter with coefficient of variation 0.5; traffic in gamma-distributed 5-second bursts); a canary share of 5% or a ramp from 10% to 50% over the first 10 minutes.

The gate reads both arms ``lag`` (one scrape interval) before each poll and the baseline once more at the poll
(canary_loop.LiveSource). What the benchmark reads from a batch of runs: per run and poll, each pod's visible
cumulative counters at both times (or absent), its instance label and the pods ready per arm; and, for the reference
deciders and the oracles, the same visible counts per arm without the restarts' losses (at the gate's time, and at
the poll itself).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

EDGES = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, math.inf)
LE_TEXT = ("0.05", "0.1", "0.25", "0.5", "1.0", "2.0", "5.0", "+Inf")
SCRAPE = 15.0
WARMUP = 60
P0 = 0.001
BASE_PODS = 3
DOWN = 15  # seconds a restarting pod serves nothing and is not ready
INCIDENT = 120.0  # seconds a shared incident lasts


def bucket_probs(median: float, sigma: float = 0.5) -> np.ndarray:
    cdf = [0.5 * (1 + math.erf((math.log(e) - math.log(median)) / (sigma * math.sqrt(2)))) for e in EDGES[:-1]]
    return np.diff(np.array([0.0, *cdf, 1.0]))


@dataclass(frozen=True)
class Scenario:
    kind: str  # healthy | errors | latency | shared | bursty | restart | ramp | ramp-errors
    rate: float  # requests per second, both arms together
    effect: float = 0.0  # p1 (errors), median factor (latency), incident multiplier (shared)
    onset: float = 0.0  # regression onset (s after the analysis starts)
    share: float = 0.5  # the canary's share of the traffic
    phase: str = ""  # restart: early | mid | late
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
            "shared": f"shared incident {self.effect:g}x",
            "bursty": "bursty errors and traffic, both arms",
            "restart": f"pod restart {self.phase}",
            "ramp": "ramp 10->50%, healthy",
        }[self.kind]
        share = f" share {self.share:.0%}" if self.share != 0.5 and "ramp" not in self.kind else ""
        onset = f" t0={self.onset:g}" if self.regressed else ""
        return f"R={self.rate:g}/s{share} {what}{onset}"


@dataclass
class Batch:
    """Per run (axis 0) and poll (axis 1): per pod (axis 2) the visible counters ``values[..., 10]`` (requests,
    errors, cumulative buckets by le), ``present`` (a series in the answer), the pod's instance generation, pods
    ready per arm; and ``ideal`` per arm: visible counts summed over pods, without restart losses."""

    values: np.ndarray  # (runs, polls, pods, 10) float
    present: np.ndarray  # (runs, polls, pods) bool
    generation: np.ndarray  # (runs, polls, pods) int
    ready: np.ndarray  # (runs, polls, 2) int: canary, baseline
    ideal: np.ndarray  # (runs, polls, 2, 10) float: cumulative per arm
    onset: np.ndarray  # (runs,) float: the regression onset (or the incident's start)
    ahead: np.ndarray  # like values, read at the poll itself (the gate's lookahead on the baseline)
    ahead_present: np.ndarray
    ahead_generation: np.ndarray
    fresh: np.ndarray  # like ideal, both arms read at the poll itself (what a gate without the lag would see)
    behind: np.ndarray  # (runs, pods, 10): read one more lag before the first poll (the starting point's lookbehind)
    behind_present: np.ndarray
    behind_generation: np.ndarray


def _rates(sc: Scenario, t: np.ndarray, runs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per run and second: the canary's share of traffic, and the total traffic multiplier (bursts)."""
    if sc.kind in ("ramp", "ramp-errors"):
        share = np.broadcast_to(0.1 + 0.4 * np.clip((t + 0.5) / 600.0, 0.0, 1.0), (runs, len(t)))
    else:
        share = np.full((runs, len(t)), sc.share)
    burst = np.ones((runs, len(t)))
    if sc.kind == "bursty":
        blocks = rng.gamma(2.0, 0.5, size=(runs, len(t) // 5 + 1))
        burst = np.repeat(blocks, 5, axis=1)[:, : len(t)]
    return share, burst


def _bursts(rng: np.random.Generator, runs: int, ticks: int) -> np.ndarray:
    """A multiplier per run and second on both arms' error rate: jitter (gamma, mean 1, CV 0.5) times error bursts
    (about one a minute, 2-30 s long, each multiplying the rate by 1 + a gamma with mean 30)."""
    g = rng.gamma(4.0, 0.25, size=(runs, ticks))
    for r in range(runs):
        start = 0.0
        while True:
            start += rng.exponential(60.0)
            if start >= ticks:
                break
            length = rng.uniform(2.0, 30.0)
            g[r, int(start) : int(start + length)] *= 1.0 + rng.gamma(1.0, 30.0)
    return g


def simulate(sc: Scenario, rng: np.random.Generator, runs: int, duration: float, interval: float, lag: float) -> Batch:
    t = np.arange(-WARMUP, int(duration) + int(SCRAPE) + 1, dtype=float)  # second i covers [t_i, t_i + 1)
    ticks, pods = len(t), 1 + BASE_PODS
    share, burst = _rates(sc, t, runs, rng)
    onset = np.full(runs, sc.onset)
    born = -rng.uniform(5.0, 25.0, size=runs)  # the canary pod started (and soon became Ready) before the analysis
    if sc.kind == "shared":
        onset = rng.uniform(0.0, 480.0, size=runs)
    # a bad hotfix (onset 0) is bad from the canary's first request; a latent regression starts at its onset
    after = t[None, :] >= np.where(onset <= 0, born, onset)[:, None]
    p_c = np.full((runs, ticks), P0)
    p_b = np.full((runs, ticks), P0)
    pi0, slow_pi = bucket_probs(0.1), None
    pi_c = np.broadcast_to(pi0, (runs, ticks, 8)).copy()
    pi_b = pi_c.copy()
    if sc.kind in ("errors", "ramp-errors"):
        p_c = np.where(after, sc.effect, p_c)
    if sc.kind == "latency":
        pi_c[after] = bucket_probs(0.1 * sc.effect)
    if sc.kind == "shared":
        during = after & (t[None, :] < onset[:, None] + INCIDENT)
        p_c = np.where(during, min(1.0, P0 * sc.effect), p_c)
        p_b = np.where(during, min(1.0, P0 * sc.effect), p_b)
        if sc.effect >= 100:
            slow_pi = bucket_probs(0.5)
            pi_c[during] = slow_pi
            pi_b[during] = slow_pi
    if sc.kind == "bursty":
        g = _bursts(rng, runs, ticks)
        p_c, p_b = np.minimum(1.0, p_c * g), np.minimum(1.0, p_b * g)

    # restarts: one pod per run, zeroed at ``restart``; down for DOWN seconds
    restart_at = np.full(runs, np.inf)
    who = np.zeros(runs, dtype=int)
    replaced = np.zeros(runs, dtype=bool)
    if sc.kind == "restart":
        lo, hi = {"early": (10.0, 60.0), "mid": (270.0, 330.0), "late": (500.0, 560.0)}[sc.phase]
        restart_at = rng.uniform(lo, hi, size=runs)
        who = np.where(rng.random(runs) < 0.5, 0, rng.integers(1, pods, size=runs))
        replaced = rng.random(runs) < 0.5
    pod_ids = np.arange(pods)[None, None, :]
    down = (
        (pod_ids == who[:, None, None])
        & (t[None, :, None] >= np.floor(restart_at)[:, None, None])
        & (t[None, :, None] < np.floor(restart_at)[:, None, None] + DOWN)
    )

    # per pod and second: requests, errors, buckets
    rate_pod = np.empty((runs, ticks, pods))
    rate_pod[..., 0] = sc.rate * share * burst
    rate_pod[..., 1:] = (sc.rate * (1 - share) * burst / BASE_PODS)[..., None]
    rate_pod = np.where(down, 0.0, rate_pod)
    rate_pod[..., 0] = np.where(t[None, :] >= born[:, None], rate_pod[..., 0], 0.0)
    n = rng.poisson(rate_pod).astype(np.int64)
    p = np.concatenate([p_c[..., None], np.repeat(p_b[..., None], BASE_PODS, axis=2)], axis=2)
    x = rng.binomial(n, p)
    h = np.empty((runs, ticks, pods, 8), dtype=np.int64)
    left = n.copy()
    mass = np.ones((runs, ticks, pods))
    pi = np.concatenate([pi_c[:, :, None, :], np.repeat(pi_b[:, :, None, :], BASE_PODS, axis=2)], axis=2)
    for b in range(7):
        q = np.clip(pi[..., b] / np.maximum(mass, 1e-300), 0.0, 1.0)
        h[..., b] = rng.binomial(left, q)
        left -= h[..., b]
        mass = mass - pi[..., b]
    h[..., 7] = left
    per_second = np.concatenate([n[..., None], x[..., None], np.cumsum(h, axis=3)], axis=3).astype(float)
    ideal_cum = np.cumsum(per_second, axis=1)  # (runs, ticks, pods, 10)

    # what the pods' counters say: zeroed at the restart
    cum = ideal_cum.copy()
    for r in np.flatnonzero(np.isfinite(restart_at)):
        k, pod = min(ticks, max(0, math.floor(restart_at[r]) + WARMUP)), who[r]  # the first second after it
        base = ideal_cum[r, k - 1, pod] if k > 0 else 0.0
        cum[r, k:, pod] -= base

    # polls and scrapes: the arms read ``lag`` before the poll, the baseline once more at the poll (lookahead)
    polls = np.arange(0.0, duration + 1e-9, interval)
    phase = rng.uniform(0.0, SCRAPE, size=(runs, pods))
    run_ix = np.arange(runs)[:, None, None]
    pod_ix = np.arange(pods)[None, None, :]

    def visible(asked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        last = phase[:, None, :] + SCRAPE * np.floor((asked[None, :, None] - phase[:, None, :]) / SCRAPE)
        idx = np.clip(np.floor(last).astype(int) + WARMUP - 1, 0, ticks - 1)  # seconds before the scrape, counted
        mine = pod_ix == who[:, None, None]
        down = mine & (last >= restart_at[:, None, None]) & (last < restart_at[:, None, None] + DOWN)
        down |= (pod_ix == 0) & (last < born[:, None, None])  # no series before the canary's first scrape
        gen = (mine & replaced[:, None, None] & (last >= restart_at[:, None, None])).astype(int)
        return cum[run_ix, idx, pod_ix], ~down, gen, ideal_cum[run_ix, idx, pod_ix]

    values, present, generation, ideal_pods = visible(polls - lag)
    ahead, ahead_present, ahead_generation, fresh_pods = visible(polls)
    behind, behind_present, behind_generation, _ = visible(polls[:1] - 2 * lag)
    not_ready = (
        (pod_ix == who[:, None, None])
        & (polls[None, :, None] >= restart_at[:, None, None])
        & (polls[None, :, None] < restart_at[:, None, None] + DOWN)
    )  # readiness is read from the cluster at the poll
    ready = np.stack([1 - not_ready[..., 0], BASE_PODS - not_ready[..., 1:].sum(axis=2)], axis=2).astype(int)
    ideal = np.stack([ideal_pods[:, :, 0], ideal_pods[:, :, 1:].sum(axis=2)], axis=2)
    fresh = np.stack([fresh_pods[:, :, 0], fresh_pods[:, :, 1:].sum(axis=2)], axis=2)
    return Batch(
        values,
        present,
        generation,
        ready,
        ideal,
        onset,
        ahead,
        ahead_present,
        ahead_generation,
        fresh,
        behind[:, 0],
        behind_present[:, 0],
        behind_generation[:, 0],
    )
