"""Canary detection benchmark: the command's own analysis loop against simulated Prometheus answers.

    .venv/bin/python benchmarks/canary_detection.py              # full grid
    .venv/bin/python benchmarks/canary_detection.py --smoke      # a few runs per cell (the test suite runs this)

Every run goes through ``services.canary_loop.analyze()`` (the loop ``hotfix canary`` runs) with the default policy
of ``.hotfix.yml`` (guardrails on, the early "not worse" PASS stopping the run, 15 s interval, 10 min duration), a
fake clock, and a source that answers each poll the way Prometheus answers the default queries: cumulative counters
per pod, scraped every 15 s at each pod's own phase, with restarts (all of a pod's counters zeroed, its series
absent while it is down, sometimes back under a new instance label) and readiness. canary_sim.py draws the runs;
canary_deciders.py has the oracles and two reference deciders. There is no vectorised copy of the gate.

Measures per cell: false rollbacks (healthy and shared-incident cells) with their Wilson 95% interval and n; for
regressions the power at the default duration (share of runs rolled back before the analysis ended or passed), the
median time to detect after the onset, and the same for the onset-aware two-sample oracle, the ratio, and the
reference deciders. A latent regression (onset inside the window) is timed over the runs still analysing at its
onset; the share that had passed before it is reported. The acceptance check exits 1 on any miss:
- every healthy and shared-incident cell: the Wilson upper bound of the false-rollback rate <= 1.3%;
- every error-regression cell whose onset-aware oracle detects in at least half its runs within the window:
  median time to detect <= 1.5x the oracle's (p1 >= 1%), <= 2x (p1 = 0.5%).
"""

from __future__ import annotations

import argparse
import io
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from canary_deciders import oracles, reference
from canary_sim import BASE_PODS, LE_TEXT, Batch, Scenario, simulate

from hotfix_actions.config.canary import CanaryConfig
from hotfix_actions.decide.canary.observe import Poll, QueryResult
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.report import Reporter
from hotfix_actions.services.canary_loop import Settings, analyze, settings_from_config

ARMS = {"canary": "web-canary", "baseline": "web"}
WALL0 = 1_700_000_000.0


# -- the command's loop over simulated answers ----------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return WALL0 + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Quiet(Reporter):
    """The command's reporter without the printing (the loop still formats every line)."""

    def step(self, text: str) -> None:
        pass


class SimSource:
    """Answers a poll as Prometheus answers the default queries (``sum by (instance)``, ``sum by (instance, le)``)."""

    def __init__(self, batch: Batch, run: int, interval: float, lag: float) -> None:
        self.now = (batch.values[run].tolist(), batch.present[run].tolist(), batch.generation[run].tolist())
        self.ahead = (
            batch.ahead[run].tolist(),
            batch.ahead_present[run].tolist(),
            batch.ahead_generation[run].tolist(),
        )
        self.behind = (
            batch.behind[run].tolist(),
            batch.behind_present[run].tolist(),
            batch.behind_generation[run].tolist(),
        )
        self.ready = batch.ready[run].tolist()
        self.interval = interval
        self.lag = lag

    @staticmethod
    def _answers(
        role: str, pods: range, values: list[list[float]], present: list[bool], gen: list[int]
    ) -> dict[str, QueryResult]:
        req, err, lat = [], [], []
        for pod in pods:
            if not present[pod]:
                continue
            instance = ("instance", f"{'canary' if pod == 0 else 'baseline'}-{pod}-{gen[pod]}:8080")
            v = values[pod]
            req.append(((instance,), v[0]))
            err.append(((instance,), v[1]))
            lat += [((instance, ("le", le)), v[2 + b]) for b, le in enumerate(LE_TEXT)]
        return {
            "requests": QueryResult(tuple(req)),
            "errors": QueryResult(tuple(err)),
            "latency": QueryResult(tuple(lat)),
        }

    def poll(self, elapsed: float, at: float) -> Poll:
        k = round(elapsed / self.interval)
        (values, present, gen), (a_values, a_present, a_gen) = ([x[k] for x in self.now], [x[k] for x in self.ahead])
        baseline = range(1, 1 + BASE_PODS)
        results = {
            "canary": self._answers("canary", range(1), values, present, gen),
            "baseline": self._answers("baseline", baseline, values, present, gen),
        }
        if self.lag > 0:
            results["lookahead"] = self._answers("baseline", baseline, a_values, a_present, a_gen)
            if k == 0:
                results["lookbehind"] = self._answers("baseline", baseline, *self.behind)
        ready = {"canary": (self.ready[k][0], 1), "baseline": (self.ready[k][1], BASE_PODS)}
        return Poll(elapsed, at, results, ready, self.lag)


def gate(settings: Settings, batch: Batch, run: int) -> tuple[Verdict, str, float]:
    """One run through analyze(): the verdict, its rule, and when it was decided (s since the start)."""
    source = SimSource(batch, run, settings.interval, settings.canary_lag)
    clock = FakeClock()
    analysis = analyze(settings, source, ARMS, Quiet(out=io.StringIO()), clock=clock)
    assert analysis.decision is not None
    stop = analysis.intervals[-1].elapsed if analysis.intervals else 0.0
    return analysis.decision.verdict, analysis.decision.rule, stop


# -- measures -------------------------------------------------------------------------------------------------------
def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def median(values: np.ndarray) -> float:
    """Median with misses as inf: inf when fewer than half the runs detect."""
    if len(values) == 0:
        return math.inf
    return float(np.quantile(values, 0.5, method="inverted_cdf"))


@dataclass
class Cell:
    sc: Scenario
    n: int = 0
    rollbacks: int = 0  # ours: FAIL (any time)
    verdicts: dict[str, int] = field(default_factory=dict)
    rules: dict[str, int] = field(default_factory=dict)
    ttd: list[float] = field(default_factory=list)  # ours, regressed: per run still analysing at the onset
    early_fail: int = 0  # regressed: FAIL before the onset
    passed_before: int = 0  # regressed: stopped (PASS or other) before the onset
    oracle: list[float] = field(default_factory=list)
    oracle0: list[float] = field(default_factory=list)
    oracle_fresh: list[float] = field(default_factory=list)
    refs: dict[str, list[float]] = field(default_factory=dict)
    pass_time: list[float] = field(default_factory=list)  # healthy: when the PASS came
    seconds: float = 0.0


def run_cell(args: tuple[Scenario, int, int]) -> Cell:
    sc, seed, batch_size = args
    started = time.perf_counter()
    settings = settings_from_config(CanaryConfig())
    rng = np.random.default_rng(seed)
    cell = Cell(sc)
    ends = np.arange(settings.interval, settings.duration + 1e-9, settings.interval)
    for lo in range(0, sc.runs, batch_size):
        size = min(batch_size, sc.runs - lo)
        batch = simulate(sc, rng, size, settings.duration, settings.interval, settings.canary_lag)
        if sc.regressed:
            aware, blind = oracles(batch, sc, ends)
            fresh, _ = oracles(batch, sc, ends, fresh=True)
            refs = reference(batch, ends)
        for r in range(size):
            verdict, rule, stop = gate(settings, batch, r)
            cell.n += 1
            cell.verdicts[verdict.value] = cell.verdicts.get(verdict.value, 0) + 1
            cell.rules[rule] = cell.rules.get(rule, 0) + 1
            failed = verdict is Verdict.FAIL
            cell.rollbacks += failed
            if not sc.regressed:
                if verdict is Verdict.PASS:
                    cell.pass_time.append(stop)
                continue
            onset = float(batch.onset[r])
            if stop < onset:
                cell.early_fail += failed
                cell.passed_before += not failed
                continue
            cell.ttd.append(stop - onset if failed else math.inf)
            cell.oracle.append(float(aware[r]) - onset)
            cell.oracle0.append(float(blind[r]))
            cell.oracle_fresh.append(float(fresh[r]) - onset)
            for name, stops in refs.items():
                cell.refs.setdefault(name, []).append(float(stops[r]) - onset)
    cell.seconds = time.perf_counter() - started
    return cell


# -- the grid -------------------------------------------------------------------------------------------------------
LOW_RATES = (1.0, 5.0, 20.0)
RATES = (1.0, 5.0, 20.0, 100.0, 1000.0)


def grid(regressed: int, healthy: int) -> list[Scenario]:
    cells = [
        Scenario("errors", r, p1, t0, runs=regressed)
        for r in RATES
        for p1 in (0.005, 0.01, 0.05, 0.5)
        for t0 in (0.0, 300.0)
    ]
    cells += [Scenario("latency", r, x, 0.0, runs=regressed) for r in (5.0, 100.0, 1000.0) for x in (1.5, 3.0, 10.0)]
    cells += [Scenario("ramp-errors", r, 0.01, runs=regressed) for r in (20.0, 100.0, 1000.0)]
    cells += [Scenario("errors", r, 0.05, share=0.05, runs=regressed) for r in (20.0, 100.0, 1000.0)]
    cells += [Scenario("healthy", r, runs=healthy) for r in RATES]
    cells += [Scenario("healthy", r, share=0.05, runs=healthy) for r in (20.0, 100.0, 1000.0)]
    cells += [Scenario("ramp", r, runs=healthy) for r in (20.0, 100.0, 1000.0)]
    cells += [Scenario("shared", r, m, runs=healthy) for r in (5.0, 100.0, 1000.0) for m in (2.0, 5.0, 10.0, 100.0)]
    cells += [Scenario("bursty", r, runs=healthy) for r in (5.0, 100.0, 1000.0)]
    cells += [
        Scenario("restart", r, phase=ph, runs=healthy) for r in (5.0, 100.0, 1000.0) for ph in ("early", "mid", "late")
    ]
    return cells


def smoke_grid() -> list[Scenario]:
    """One cell of each kind, a few runs: the mechanics, not the statistics."""
    return [
        Scenario("errors", 100.0, 0.05, 0.0, runs=6),
        Scenario("errors", 5.0, 0.5, 300.0, runs=4),
        Scenario("latency", 100.0, 10.0, runs=4),
        Scenario("ramp-errors", 100.0, 0.01, runs=3),
        Scenario("healthy", 20.0, share=0.05, runs=4),
        Scenario("ramp", 100.0, runs=3),
        Scenario("shared", 1000.0, 100.0, runs=4),
        Scenario("bursty", 100.0, runs=3),
        Scenario("restart", 100.0, phase="early", runs=4),
    ]


# -- report ---------------------------------------------------------------------------------------------------------
def fmt_s(v: float) -> str:
    if math.isinf(v):
        return "∞"
    return f"{v:.0f}" if v >= 10 else f"{v:.1f}"


def report(cells: list[Cell]) -> tuple[str, list[str]]:
    failures: list[str] = []
    out = ["### False rollbacks, guardrails on, the command's defaults (Wilson 95% interval)\n"]
    out.append("| cell | n | rolled back | FPR | Wilson 95% | PASS early (median s) | other verdicts |")
    out.append("|---|---|---|---|---|---|---|")
    for c in cells:
        if c.sc.regressed:
            continue
        lo, hi = wilson(c.rollbacks, c.n)
        others = ", ".join(f"{v} {k}" for k, v in sorted(c.verdicts.items()) if k not in ("PASS", "FAIL")) or "-"
        rules = [r for r in c.rules if r not in ("not worse (anytime-valid)", "duration complete")]
        pass_t = fmt_s(median(np.array(c.pass_time))) if c.pass_time else "-"
        out.append(
            f"| {c.sc.label()} | {c.n} | {c.rollbacks} | {c.rollbacks / max(c.n, 1):.2%} | [{lo:.2%}, {hi:.2%}] "
            f"| {pass_t} | {others}{' (' + '; '.join(rules) + ')' if rules else ''} |"
        )
        if hi > 0.013:
            failures.append(f"{c.sc.label()}: false rollbacks {c.rollbacks}/{c.n}, Wilson upper {hi:.2%} > 1.3%")
    out.append("\n### Regressions: power at the default duration (10 min) and time to detect after the onset\n")
    out.append(
        "| cell | n | power [Wilson 95%] | passed before onset | ours median TTD (s) | oracle 2S (onset-aware) "
        "| ratio | oracle 2S@0 | oracle 2S fresh | seed-B | flagger T=1 | target |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in cells:
        if not c.sc.regressed:
            continue
        k = sum(math.isfinite(t) for t in c.ttd)
        lo, hi = wilson(k, len(c.ttd))
        ours = median(np.array(c.ttd))
        oracle = median(np.array(c.oracle))
        ratio = ours / oracle if math.isfinite(oracle) and oracle > 0 else math.nan
        refs = [fmt_s(median(np.array(c.refs.get(name, [])))) for name in ("seed-B", "flagger T=1")]
        target = ""
        if c.sc.kind in ("errors", "ramp-errors") and c.sc.onset < 600:
            limit = 2.0 if c.sc.effect < 0.01 else 1.5
            if math.isfinite(oracle):
                target = f"<= {limit}x"
                if not ratio <= limit + 1e-9:
                    target += " MISSED"
                    failures.append(
                        f"{c.sc.label()}: median TTD {fmt_s(ours)} s = {ratio:.2f}x the oracle's {fmt_s(oracle)} s > {limit}x"
                    )
            else:
                target = "oracle < 50% in window"
        out.append(
            f"| {c.sc.label()} | {len(c.ttd)} | {k / max(len(c.ttd), 1):.1%} [{lo:.1%}, {hi:.1%}] | "
            f"{c.passed_before}/{c.n}{' (' + str(c.early_fail) + ' FAIL)' if c.early_fail else ''} | {fmt_s(ours)} | {fmt_s(oracle)} | "
            f"{ratio:.2f} | {fmt_s(median(np.array(c.oracle0)))} | {fmt_s(median(np.array(c.oracle_fresh)))} | "
            f"{refs[0]} | {refs[1]} | {target} |"
        )
    return "\n".join(out) + "\n", failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="a few runs of one cell per kind (mechanics only)")
    ap.add_argument("--runs", type=int, default=300, help="runs per regression cell (default 300)")
    ap.add_argument("--healthy-runs", type=int, default=2000, help="runs per healthy or incident cell (default 2000)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=100, help="runs simulated at once")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--only", default="", help="only cells whose label contains this text")
    ap.add_argument("--out", type=Path, help="also write the Markdown tables here")
    args = ap.parse_args(argv)
    cells = smoke_grid() if args.smoke else grid(args.runs, args.healthy_runs)
    cells = [c for c in cells if args.only in c.label()]
    jobs = [(sc, args.seed + i, args.batch) for i, sc in enumerate(cells)]
    started = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(run_cell, jobs))
    else:
        results = [run_cell(job) for job in jobs]
    elapsed = time.perf_counter() - started
    text, failures = report(results)
    runs = sum(c.n for c in results)
    text += f"\n{runs} runs through analyze() in {len(results)} cells; wall time {elapsed:.0f} s on {args.jobs} processes.\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    if args.smoke:
        return 0
    for failure in failures:
        print(f"TARGET MISSED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
