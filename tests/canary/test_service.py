"""The analysis loop with a fake clock and a Metrics double: scheduling, the overall budget, past ranges."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import pytest

from hotfix_actions.config.canary import CanaryConfig, EarlyPassConfig, GuardrailConfig
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import MetricsError, UsageError
from hotfix_actions.metrics import PrometheusMetrics
from hotfix_actions.ports import MetricSample
from hotfix_actions.services.canary import judge_only
from hotfix_actions.services.canary_loop import LiveSource, SystemClock, analyze, arm_labels, settings_from_config
from tests.canary.stack import reporter, text
from tests.metrics import slow_server


@dataclass
class FakeClock:
    now: float = 0.0
    wall0: float = 1_700_000_000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return self.wall0 + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeMetrics:
    """Counters that grow with the evaluation time: 20 req/s per arm, the canary failing ``canary_error`` of them."""

    canary_error: float = 0.0
    per_query_delay: float = 0.0
    clock: FakeClock | None = None
    fail_after: float = math.inf
    asked: list[tuple[str, float]] = field(default_factory=list)

    def describe(self) -> str:
        return "fake"

    def query(self, promql: str, *, at: float) -> list[MetricSample]:
        self.asked.append((promql, at))
        if self.clock is not None:
            self.clock.now += self.per_query_delay
        t = at - 1_700_000_000.0
        if t > self.fail_after:
            raise MetricsError("Prometheus query failed: connection refused")
        canary = "web-canary" in promql
        n = 20.0 * t
        inst = (("instance", "a:1"),)
        if "http_request_duration_seconds_bucket" in promql:
            return [MetricSample((*inst, ("le", le)), n) for le in ("0.25", "0.5", "1.0", "2.0", "+Inf")]
        if "5.." in promql:
            return [MetricSample(inst, math.floor(n * (self.canary_error if canary else 0.0)))]
        return [MetricSample(inst, n)]


def test_live_loop_polls_every_interval_at_one_time_per_poll() -> None:
    s = settings_from_config(CanaryConfig(min_requests=100), interval="15s", duration="2m")
    clock = FakeClock()
    metrics = FakeMetrics()
    source = LiveSource(metrics, s, arm_labels(s, "default", "web-canary", "web"))
    rep = reporter()
    analysis = analyze(s, source, {"canary": "web-canary", "baseline": "web"}, rep, clock=clock)
    assert analysis.decision is not None and analysis.decision.verdict is Verdict.PASS
    assert analysis.decision.rule in {"not worse (anytime-valid)", "duration complete"}
    baseline = sorted({at for q, at in metrics.asked if "web-canary" not in q})
    canary = sorted({at for q, at in metrics.asked if "web-canary" in q})
    t0 = 1_700_000_000.0
    # both arms are read one scrape interval (15 s) before each poll, the baseline also at the poll (lookahead)
    # and, at the starting point, one more interval back (lookbehind)
    assert canary[:3] == [t0 - 15.0, t0, t0 + 15.0]
    assert baseline == [t0 - 30.0, *canary, canary[-1] + 15.0]
    assert len(metrics.asked) == 9 * len(canary) + 3  # 3 metrics x 3 reads per poll, and the lookbehind


def test_a_failing_canary_fails_in_the_loop() -> None:
    s = settings_from_config(CanaryConfig(min_requests=100), interval="15s", duration="10m")
    clock = FakeClock()
    source = LiveSource(FakeMetrics(canary_error=0.05), s, arm_labels(s, "default", "web-canary", "web"))
    analysis = analyze(s, source, {"canary": "web-canary", "baseline": "web"}, reporter(), clock=clock)
    assert analysis.decision is not None and analysis.decision.verdict is Verdict.FAIL
    assert clock.now <= 60  # 15 canary errors a poll: a few polls


def test_slow_queries_end_the_analysis_within_its_budget() -> None:
    cfg = CanaryConfig(min_requests=100, early_pass=EarlyPassConfig(enabled=False))
    s = settings_from_config(cfg, interval="10s", duration="60s")
    clock = FakeClock()
    metrics = FakeMetrics(per_query_delay=5.0, clock=clock)  # 6 queries: 30 s per poll (threads share the clock)
    source = LiveSource(metrics, s, arm_labels(s, "default", "web-canary", "web"))
    rep = reporter()
    analysis = analyze(s, source, {"canary": "web-canary", "baseline": "web"}, rep, clock=clock)
    assert clock.now <= 60 + 2 * 10 + 10 + 30  # the budget (duration + 2 intervals + query deadline) and one poll
    assert analysis.polls < 7
    assert analysis.decision is not None and analysis.decision.verdict is Verdict.ERROR  # never a PASS
    assert analysis.decision.rule == "analysis budget"
    assert "the analysis budget of 1m30s (canary.analysis_timeout) ran out after" in analysis.decision.reasons[0]
    assert "analysis stopped: could not evaluate" in text(rep)


def test_a_past_range_walk_has_a_budget_too() -> None:
    """--from/--to: polls as fast as Prometheus answers, but not for ever: past the budget it is an ERROR."""
    cfg = CanaryConfig(min_requests=100, analysis_timeout=60.0, early_pass=EarlyPassConfig(enabled=False))
    s = settings_from_config(cfg, interval="15s", duration="10m")
    clock = FakeClock()
    metrics = FakeMetrics(per_query_delay=2.0, clock=clock)  # 12 s of (fake) time per poll
    labels = arm_labels(s, "default", "web-canary", "web")
    outcome = judge_only(
        s, reporter(), metrics=metrics, labels=labels, window=(1_700_000_000.0, 1_700_003_600.0), clock=clock
    )
    assert outcome.verdict is Verdict.ERROR
    assert re.search(r"ran out after [2-6] of 241 polls", outcome.reasons[0]), outcome.reasons


@pytest.mark.parametrize(
    ("guardrail", "text"),
    [
        (GuardrailConfig("e", "error_rate", max=0.05, consecutive=3), "consecutive and min do not apply"),
        (GuardrailConfig("e", "error_rate", max=5.0), "is not an error rate in (0, 1)"),
        (GuardrailConfig("e", "error_rate"), "takes max only"),
        (GuardrailConfig("p", "p95", max=2.0, min=0.1), "takes max only"),
        (GuardrailConfig("r", "ready", max=1.0), "takes min"),
        (GuardrailConfig("r", "ready", min=1.5), "takes min"),
    ],
)
def test_settings_refuse_guardrails_that_do_not_fit_their_signal(guardrail: GuardrailConfig, text: str) -> None:
    with pytest.raises(UsageError, match=re.escape(text)):
        settings_from_config(CanaryConfig(guardrails=(guardrail,)))


def test_a_trickling_prometheus_is_an_error_within_the_deadline_and_one_interval() -> None:
    """A real server on 127.0.0.1 that sends its answer one byte every 0.2 s: each poll is an ERROR at the query
    deadline (1 s), never a PASS; with consecutive_error_limit 1 the analysis ends in ERROR within the deadline
    plus one interval."""
    cfg = CanaryConfig(min_requests=100, consecutive_error_limit=1, query_timeout=1.0)
    s = settings_from_config(cfg, interval="2s", duration="30s")
    rep = reporter()
    with slow_server.running("trickle") as url, PrometheusMetrics(url, deadline=s.query_timeout) as metrics:
        source = LiveSource(metrics, s, arm_labels(s, "default", "web-canary", "web"))
        began = time.monotonic()
        analysis = analyze(s, source, {"canary": "web-canary", "baseline": "web"}, rep, clock=SystemClock())
        took = time.monotonic() - began
    assert analysis.decision is not None and analysis.decision.verdict is Verdict.ERROR
    assert took <= 1.0 + 2.0, took
    assert "did not answer within 1s (the query deadline" in text(rep)


def test_outage_after_a_while_ends_in_error() -> None:
    cfg = CanaryConfig(min_requests=100, early_pass=EarlyPassConfig(enabled=False))
    s = settings_from_config(cfg, interval="15s", duration="10m")
    source = LiveSource(FakeMetrics(fail_after=40), s, arm_labels(s, "default", "web-canary", "web"))
    rep = reporter()
    analysis = analyze(s, source, {"canary": "web-canary", "baseline": "web"}, rep, clock=FakeClock())
    assert analysis.decision is not None and analysis.decision.verdict is Verdict.ERROR
    assert "connection refused" in analysis.decision.reasons[0]
    assert "error: web-canary requests: query failed: connection refused" in text(rep)
    assert text(rep).rstrip().endswith("so far ERROR")


def test_past_range_queries_each_interval_time() -> None:
    s = settings_from_config(CanaryConfig(min_requests=100), interval="15s", duration="10m")
    metrics = FakeMetrics(canary_error=0.05)
    labels = arm_labels(s, "default", "web-canary", "web")
    window = (1_700_000_000.0, 1_700_000_120.0)
    outcome = judge_only(s, reporter(), metrics=metrics, labels=labels, window=window)
    assert outcome.verdict is Verdict.FAIL and outcome.outputs["rolled-back"] == "false"
    assert min(at for q, at in metrics.asked if "web-canary" in q) == window[0] - 15.0  # one scrape interval back
    assert max(at for _, at in metrics.asked) <= window[1]
    with pytest.raises(UsageError, match="--to must be after --from"):
        judge_only(s, reporter(), metrics=metrics, labels=labels, window=(window[1], window[0]))


@pytest.mark.parametrize(
    ("changes", "text"),
    [
        ({"interval": "1m", "duration": "30s"}, "must be > 0 and <= duration"),
        ({"interval": "soon"}, "not a duration"),
    ],
)
def test_settings_refuse_bad_durations(changes: dict[str, str], text: str) -> None:
    with pytest.raises(UsageError, match=text):
        settings_from_config(CanaryConfig(), **changes)  # type: ignore[arg-type]


def test_settings_refuse_bad_templates_and_ignored_requests() -> None:
    from hotfix_actions.config.canary import MetricQuery

    bad = CanaryConfig(metrics={"errors": MetricQuery("sum(x{ {{ pod }} })")})
    with pytest.raises(UsageError, match=r"metrics\.errors\.query: unknown variable"):
        settings_from_config(bad)
    ignored = CanaryConfig(metrics={"requests": MetricQuery("sum(x)", on_no_data="ignore")})
    with pytest.raises(UsageError, match="cannot be ignore"):
        settings_from_config(ignored)
    partial = settings_from_config(CanaryConfig(metrics={"errors": MetricQuery("sum(y)")}))
    assert set(partial.queries) == {"requests", "errors", "latency"} and partial.queries["errors"] == "sum(y)"


@dataclass
class ScrapedPrometheus:
    """Per pod, counters seen only at that pod's scrapes (every 15 s, at its own phase): the canary pod at 14 s
    past each 15 s, the baseline pod at 1 s past. 50 requests per second each, errors 0.1%, and from ``incident``
    a shared incident: 10% errors in both arms (a dependency down)."""

    incident: float = 100.0

    def describe(self) -> str:
        return "scraped"

    def _count(self, t: float, rate: float) -> float:
        before = min(t, self.incident)
        return 50.0 * (0.001 * before + rate * max(0.0, t - self.incident))

    def query(self, promql: str, *, at: float) -> list[MetricSample]:
        t = at - 1_700_000_000.0 + 60.0  # the pods started a minute before the analysis
        phase = 14.0 if "web-canary" in promql else 1.0
        scraped = phase + 15.0 * math.floor((t - phase) / 15.0)
        inst = (("instance", "a:1"),)
        n = 50.0 * scraped
        if "http_request_duration_seconds_bucket" in promql:
            return [MetricSample((*inst, ("le", le)), n) for le in ("0.25", "0.5", "1.0", "2.0", "+Inf")]
        if "5.." in promql:
            return [MetricSample(inst, math.floor(self._count(scraped, 0.1)))]
        return [MetricSample(inst, n)]


@pytest.mark.parametrize(("lag", "verdict"), [("0s", Verdict.FAIL), ("15s", Verdict.INCONCLUSIVE)])
def test_a_shared_incident_that_reaches_the_canary_first_is_not_a_rollback(lag: str, verdict: Verdict) -> None:
    """The finding: pods are scraped at different moments, so a shared incident's first errors can reach the
    canary's counters 13 s before the baseline's. Read at the same time (lag 0) that looks like a regression and
    rolls the healthy canary back; read one scrape interval earlier (the default), the baseline always sees the
    incident first and the canary is not failed (the error-rate limit holds the PASS back while it lasts)."""
    cfg = CanaryConfig(min_requests=100, scrape_interval=lag, early_pass=EarlyPassConfig(enabled=False))
    s = settings_from_config(cfg, interval="15s", duration="3m")
    source = LiveSource(ScrapedPrometheus(), s, arm_labels(s, "default", "web-canary", "web"))
    analysis = analyze(s, source, {"canary": "web-canary", "baseline": "web"}, reporter(), clock=FakeClock())
    assert analysis.decision is not None
    assert analysis.decision.verdict is verdict, analysis.decision.reasons
