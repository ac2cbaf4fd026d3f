"""The judge against the real Prometheus server scraping one sample app per arm (1 s scrapes, 1 s polls)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.sandbox.sample_app import Knobs
from tests.canary.stack import HEALTHY, Stack, run_live, short_config, stack, text

pytestmark = pytest.mark.prometheus


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with stack(tmp_path_factory.mktemp("prometheus")) as s:
        yield s


def test_healthy_canary_passes(live: Stack) -> None:
    live.reset()
    analysis, rep = run_live(live.prom.url, short_config(), duration="6s")
    assert analysis.decision is not None
    assert analysis.decision.verdict is Verdict.PASS, analysis.decision.reasons
    assert analysis.decision.rule == "duration complete"
    assert len(analysis.intervals) == 6
    assert analysis.state is not None and analysis.state.evidence.canary_requests >= 200
    log = text(rep)
    assert "starting point recorded" in log and "so far PASS" in log and "E_err" in log


def test_five_percent_errors_fail_fast(live: Stack) -> None:
    live.reset(canary=Knobs(error_rate=0.05, latency_median=0.02, latency_sigma=0.3, load_rps=60.0))
    analysis, _ = run_live(live.prom.url, short_config(), duration="30s")
    decision = analysis.decision
    assert decision is not None and decision.verdict is Verdict.FAIL, decision
    assert decision.rule.startswith("sequential test (errors)")
    assert len(analysis.intervals) <= 12, [i.verdict for i in analysis.intervals]
    assert "canary worse than baseline" in decision.reasons[0]


def test_slow_canary_fails_on_latency(live: Stack) -> None:
    live.reset(canary=Knobs(error_rate=0.0, latency_median=0.4, latency_sigma=0.2, load_rps=30.0))
    analysis, _ = run_live(live.prom.url, short_config(), duration="30s")
    decision = analysis.decision
    assert decision is not None and decision.verdict is Verdict.FAIL, decision
    assert "sequential test (latency)" in decision.rule
    assert len(analysis.intervals) <= 10
    assert "requests slower than 250ms" in " ".join(decision.reasons)


def test_no_traffic_is_insufficient_data(live: Stack) -> None:
    quiet = Knobs(load_rps=0.0)
    live.reset(canary=quiet, baseline=quiet)
    analysis, _ = run_live(live.prom.url, short_config(), duration="4s")
    decision = analysis.decision
    assert decision is not None and decision.verdict is Verdict.INCONCLUSIVE
    assert decision.rule == "insufficient traffic"
    assert "canary served 0 requests" in decision.reasons[0]


def test_wrong_metric_name_is_an_error_not_a_pass(live: Stack) -> None:
    live.reset()
    cfg = short_config(metrics={"requests": {"query": "sum by (instance) (http_requestz_total{ {{ selector }} })"}})
    analysis, rep = run_live(live.prom.url, cfg, duration="10s")
    decision = analysis.decision
    assert decision is not None and decision.verdict is Verdict.ERROR
    assert decision.rule == "consecutive measurement errors"
    assert "requests: no data: the query returned an empty vector" in decision.reasons[0]
    assert len(analysis.intervals) == 4  # the starting point never came: 4 errors in a row


def test_nan_result_is_an_error(live: Stack) -> None:
    live.reset()
    cfg = short_config(
        metrics={"errors": {"query": "sum by (instance) (http_requests_total{ {{ selector }} }) / 0 * 0"}}
    )
    analysis, _ = run_live(live.prom.url, cfg, duration="10s")
    decision = analysis.decision
    assert decision is not None and decision.verdict is Verdict.ERROR
    assert "errors: not finite: nan" in decision.reasons[0]


def test_empty_errors_can_be_ignored(live: Stack) -> None:
    """on_no_data: ignore leaves the metric out, says so, and still decides on requests and latency."""
    live.reset()
    cfg = short_config(
        metrics={
            "errors": {
                "query": 'sum by (instance) (http_requests_total{ {{ selector }},code="599" })',
                "on_no_data": "ignore",
            }
        }
    )
    analysis, rep = run_live(live.prom.url, cfg, duration="4s")
    assert analysis.decision is not None and analysis.decision.verdict is Verdict.PASS
    assert "errors: no data" in text(rep) and "(ignored)" in text(rep)


def test_prometheus_stopped_in_the_middle_gives_error(tmp_path: Path) -> None:
    with stack(tmp_path) as s:
        s.reset(canary=HEALTHY, baseline=HEALTHY)
        timer = threading.Timer(3.5, s.prom.stop)
        timer.start()
        try:
            analysis, rep = run_live(s.prom.url, short_config(), duration="20s")
        finally:
            timer.cancel()
    decision = analysis.decision
    assert decision is not None and decision.verdict is Verdict.ERROR, decision
    assert decision.rule == "consecutive measurement errors"
    assert "4 measurement errors in a row" in decision.reasons[0]
    assert "query failed" in decision.reasons[0]
    assert len(analysis.intervals) < 12
    assert "so far PASS" not in text(rep).splitlines()[-1]
