"""A real Prometheus (1 s scrapes, temporary storage, 127.0.0.1) scraping one sample app per arm."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hotfix_actions.config.canary import CanaryConfig, MetricQuery
from hotfix_actions.metrics import PrometheusMetrics
from hotfix_actions.report import Reporter
from hotfix_actions.sandbox.prometheus_runner import PrometheusRunner, Target
from hotfix_actions.sandbox.sample_app import Knobs, SampleApp
from hotfix_actions.services.canary_loop import (
    Analysis,
    LiveSource,
    SystemClock,
    analyze,
    arm_labels,
    settings_from_config,
)

NS = "default"
CANARY = "web-canary"
BASELINE = "web"
HEALTHY = Knobs(error_rate=0.0, latency_median=0.02, latency_sigma=0.3, load_rps=60.0)


@dataclass
class Stack:
    prom: PrometheusRunner
    canary: SampleApp
    baseline: SampleApp

    def reset(self, canary: Knobs = HEALTHY, baseline: Knobs = HEALTHY) -> None:
        """Set the knobs, then let requests still in flight from the last test finish and be scraped."""
        for app, knobs in ((self.canary, canary), (self.baseline, baseline)):
            app.set(**{k: getattr(knobs, k) for k in ("error_rate", "latency_median", "latency_sigma", "load_rps")})
        time.sleep(2.5)  # in-flight requests end and are scraped, and the reads one scrape (1 s) back see it


@contextmanager
def stack(workdir: Path) -> Iterator[Stack]:
    with SampleApp.start(HEALTHY, seed=1) as canary, SampleApp.start(HEALTHY, seed=2) as baseline:
        targets = [
            Target(canary.address, {"namespace": NS, "deployment": CANARY, "track": "canary"}),
            Target(baseline.address, {"namespace": NS, "deployment": BASELINE, "track": "baseline"}),
        ]
        with PrometheusRunner.start(workdir, targets) as prom:
            prom.wait_for_targets(2)
            yield Stack(prom, canary, baseline)


def reporter() -> Reporter:
    return Reporter(out=io.StringIO(), err=io.StringIO())


def text(rep: Reporter) -> str:
    assert isinstance(rep.out, io.StringIO) and isinstance(rep.err, io.StringIO)
    return rep.out.getvalue() + rep.err.getvalue()


def short_config(**changes: Any) -> CanaryConfig:
    """Short intervals for tests: 1 s polls, 100 requests per arm before a pass."""
    base = CanaryConfig(min_requests=100, scrape_interval=1.0)  # the test Prometheus scrapes every second
    metrics = changes.pop("metrics", None)
    if metrics:
        merged = {**base.metrics, **{k: MetricQuery(**v) if isinstance(v, dict) else v for k, v in metrics.items()}}
        base = replace(base, metrics=merged)
    return replace(base, **changes)


def run_live(
    prom_url: str, cfg: CanaryConfig, *, duration: str = "8s", interval: str = "1s", record: Any = None
) -> tuple[Analysis, Reporter]:
    settings = settings_from_config(cfg, interval=interval, duration=duration)
    rep = reporter()
    with PrometheusMetrics(prom_url, connect_timeout=0.5, deadline=2.0) as metrics:
        source = LiveSource(metrics, settings, arm_labels(settings, NS, CANARY, BASELINE))
        analysis = analyze(
            settings, source, {"canary": CANARY, "baseline": BASELINE}, rep, clock=SystemClock(), record=record
        )
    return analysis, rep
