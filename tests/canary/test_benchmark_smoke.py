"""The detection benchmark runs end to end in its smoke mode, through the command's own loop.

Speed and the statistical targets are the benchmark's business (benchmarks/canary_detection.py, full grid); here the
runs are far too few for its acceptance check, so only the mechanics are asserted: every table and row, that the
runs went through ``services.canary_loop.analyze``, and that the simulated answers are what the loop reads.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="module")
def bench() -> Any:
    sys.path.insert(0, str(BENCH))
    import canary_detection

    return canary_detection


def test_smoke_run_produces_every_table_through_analyze(bench: Any, tmp_path: Path, monkeypatch: Any) -> None:
    import hotfix_actions.services.canary_loop as loop

    calls: list[int] = []
    real = loop.analyze

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(bench, "analyze", counted)
    out = tmp_path / "tables.md"
    assert bench.main(["--smoke", "--jobs", "1", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    cells = bench.smoke_grid()
    assert len(calls) == sum(sc.runs for sc in cells)  # every run went through the command's loop
    assert "### False rollbacks" in text and "### Regressions: power at the default duration" in text
    for sc in cells:
        assert f"| {sc.label()} |" in text
    assert f"{len(calls)} runs through analyze() in {len(cells)} cells" in text


def test_the_simulated_answers_are_what_the_loop_reads(bench: Any) -> None:
    """One healthy run without restarts: the judge's per-interval counts (after observe's differencing of the
    per-pod cumulative answers) add up to what the pods served between the starting point and the end."""
    from canary_sim import Scenario, simulate

    from hotfix_actions.config.canary import CanaryConfig, EarlyPassConfig
    from hotfix_actions.decide.canary.judge import start, step
    from hotfix_actions.decide.canary.observe import Tracker, observe
    from hotfix_actions.services.canary_loop import settings_from_config

    settings = settings_from_config(CanaryConfig(early_pass=EarlyPassConfig(enabled=False)))
    sc = Scenario("healthy", 100.0, runs=1)
    batch = simulate(sc, np.random.default_rng(3), 1, settings.duration, settings.interval, settings.canary_lag)
    source = bench.SimSource(batch, 0, settings.interval, settings.canary_lag)
    tracker, state, begun = Tracker(), start(settings.policy), None
    requests = [0.0, 0.0]
    for k in range(int(settings.duration // settings.interval) + 1):
        poll = source.poll(k * settings.interval, bench.WALL0 + k * settings.interval)
        obs, tracker, _ = observe(settings.policy, settings.kinds, tracker, poll, bench.ARMS)
        if obs is None:
            begun = begun if tracker.snapshots is None else k
            continue
        assert obs.canary is not None and obs.baseline is not None and obs.ahead is not None
        requests[0] += obs.canary.requests
        requests[1] += obs.baseline.requests
        state, _, _ = step(settings.policy, state, obs)
    assert begun is not None
    served = batch.values[0, -1, :, 0] - batch.values[0, begun, :, 0]
    assert requests == pytest.approx([served[0], served[1:].sum()])
    assert math.isclose(state.evidence.canary_requests, requests[0])


def test_the_onset_aware_oracle_knows_the_onset(bench: Any) -> None:
    """A 1% canary error rate from 300 s at 100 requests/s: the onset-aware oracle stops within a few polls of the
    onset; the one that starts at 0 needs longer (the pre-onset intervals count against it)."""
    from canary_deciders import oracles
    from canary_sim import Scenario, simulate

    sc = Scenario("errors", 100.0, 0.01, 300.0, runs=100)
    batch = simulate(sc, np.random.default_rng(7), sc.runs, 600.0, 15.0, 15.0)
    aware, blind = oracles(batch, sc, np.arange(15.0, 600.0 + 1e-9, 15.0))
    assert 15 <= float(np.median(aware - 300.0)) <= 90
    assert float(np.mean(blind)) > float(np.mean(aware)) + 15
