"""The analysis loop shared by `hotfix canary` and `hotfix monitor`: settings, poll sources, record and replay.

A source answers one poll: every metric of every arm evaluated at one Unix time (concurrently, each query under
its wall-clock deadline), plus pod readiness. ``analyze`` takes a starting point, then polls every interval and
folds each poll into the judge until a final decision or the end of the duration; it can also replay recorded
polls or walk a past time range. A live run and a walk over a past range both have a total budget
(``canary.analysis_timeout``): polls that do not fit end the analysis in ERROR, never in a PASS.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field, replace
from typing import Protocol

from hotfix_actions.decide.canary import (
    Policy,
    conclude,
    fmt,
    power,
    start,
    step,
    summary,
)
from hotfix_actions.decide.canary.judge import Decision, Interval, State
from hotfix_actions.decide.canary.observe import Poll, QueryResult, Tracker, observe
from hotfix_actions.decide.canary.policy import METRICS
from hotfix_actions.decide.canary.templates import ArmLabels, prom_duration, render
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ClusterError, MetricsError
from hotfix_actions.ports import Cluster, Metrics
from hotfix_actions.report import Reporter
from hotfix_actions.services.canary_record import poll_to_json, read_polls, recording
from hotfix_actions.services.canary_settings import Settings, settings_from_config

__all__ = [
    "Analysis",
    "Clock",
    "LiveSource",
    "Settings",
    "SystemClock",
    "analyze",
    "arm_labels",
    "poll_to_json",
    "read_polls",
    "recording",
    "settings_from_config",
]


class Clock(Protocol):
    def monotonic(self) -> float: ...
    def time(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class Source(Protocol):
    def poll(self, elapsed: float, at: float) -> Poll: ...


class LiveSource:
    """Queries every metric of every arm concurrently; readiness from the cluster.

    With a baseline, both arms are read ``canary_lag`` (one scrape interval) in the past, and the baseline once
    more at the poll time (the ``lookahead`` role; at the starting point also one more interval back, the
    ``lookbehind``). Pods are scraped at different moments within a scrape interval, so a change that hits both
    arms (an incident, a burst of errors) can reach one arm's counters before the other's; the baseline's counts
    around an interval show such a change before the judge counts the interval it falls in, and the judge leaves
    that interval out of the split tests (evidence.py). The data are one scrape interval older; the benchmark
    measures what that costs.
    """

    def __init__(
        self,
        metrics: Metrics,
        settings: Settings,
        arms: Mapping[str, ArmLabels],
        *,
        cluster: Cluster | None = None,
        namespace: str = "",
        say: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.metrics = metrics
        self.arms = arms
        self.cluster = cluster
        self.namespace = namespace
        self.say = say
        self.deadline = settings.query_timeout
        self.lag = settings.canary_lag if "baseline" in arms else 0.0
        self.queries = {
            (role, m): render(settings.queries[m], labels) for role, labels in arms.items() for m in METRICS
        }
        if self.lag > 0:
            self.queries.update({("lookahead", m): self.queries[("baseline", m)] for m in METRICS})

    def _one(self, promql: str, at: float) -> QueryResult:
        try:
            samples = self.metrics.query(promql, at=at)
        except MetricsError as exc:
            return QueryResult(error=exc.message.removeprefix("Prometheus query failed: "))
        return QueryResult(tuple((s.labels, s.value) for s in samples))

    def poll(self, elapsed: float, at: float) -> Poll:
        """Every query at once; one that has not answered by the deadline (plus a little for the adapter to say
        so itself) is an error for this poll, and the poll does not wait for it."""
        pool = ThreadPoolExecutor(max_workers=len(self.queries))
        try:
            times = {"lookahead": at, "lookbehind": at - 2 * self.lag}
            queries = dict(self.queries)
            if elapsed <= 0 and self.lag > 0:  # the starting point: the baseline's interval before it, too
                queries.update({("lookbehind", m): self.queries[("baseline", m)] for m in METRICS})
            futures = {key: pool.submit(self._one, q, times.get(key[0], at - self.lag)) for key, q in queries.items()}
            wait_for(futures.values(), timeout=self.deadline + 1.0)
            late = QueryResult(error=f"did not answer within the {self.deadline:g}s query deadline")
            answers = {key: f.result() if f.done() else late for key, f in futures.items()}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        results: dict[str, dict[str, QueryResult]] = {}
        for (role, metric), answer in answers.items():
            results.setdefault(role, {})[metric] = answer
        ready: dict[str, tuple[int, int]] = {}
        if self.cluster is not None:
            from hotfix_actions.kube.canary_ops import ready_counts

            for role, labels in self.arms.items():
                try:
                    ready[role] = ready_counts(self.cluster, self.namespace, labels.deployment)
                except ClusterError as exc:
                    self.say(f"readiness of {labels.deployment} unknown this interval: {exc.message}")
        return Poll(elapsed, at, results, ready, self.lag)


@dataclass
class Analysis:
    intervals: list[Interval] = field(default_factory=list)
    decision: Decision | None = None
    state: State | None = None
    polls: int = 0
    policy: Policy | None = None

    def detectable(self) -> list[power.Detectable]:
        assert self.state is not None and self.policy is not None
        return power.detectable(self.policy, self.state.evidence)

    def outputs(self) -> dict[str, str]:
        assert self.state is not None and self.decision is not None
        e = self.state.evidence
        from hotfix_actions.decide.canary.evidence import log_e_errors, log_e_latency

        seen = self.detectable() if self.policy is not None else []
        errors = [d for d in seen if d.signal == "errors"]
        latency = [d for d in seen if d.signal != "errors"]
        return {
            "detectable-errors": errors[0].text() if errors else "-",
            "detectable-latency": "; ".join(d.text() for d in latency) or "-",
            "rule": self.decision.rule,
            "e-value-errors": fmt.e_value(log_e_errors(e)),
            "e-value-latency": fmt.e_value(log_e_latency(e)),
            "canary-requests": fmt.count(e.canary_requests),
            "canary-errors": fmt.count(e.canary_errors),
            "baseline-requests": fmt.count(e.baseline_requests),
            "baseline-errors": fmt.count(e.baseline_errors),
            "intervals": str(self.state.intervals),
        }


def analyze(
    settings: Settings,
    source: Source,
    arms: Mapping[str, str],
    reporter: Reporter,
    *,
    schedule: Iterable[tuple[float, float]] | None = None,
    clock: Clock | None = None,
    polls: Iterable[Poll] | None = None,
    record: Callable[[Poll], None] | None = None,
) -> Analysis:
    """Poll, observe, judge. Live (``clock`` alone): a starting point now, then every interval until a final
    decision or the duration. ``schedule``: (elapsed, unix time) pairs to query, as fast as they answer (``clock``
    then only keeps the budget). ``polls``: recorded polls, replayed. Live runs and schedules stop at the analysis
    budget; a stop there is an ERROR."""
    policy = settings.policy
    result = Analysis(state=start(policy), policy=policy)
    tracker = Tracker()
    walk = _Walk(settings, source, schedule, clock, polls)
    for poll in walk:
        result.polls += 1
        if record is not None:
            record(poll)
        observation, tracker, notes = observe(policy, settings.kinds, tracker, poll, arms)
        if observation is None:
            reporter.step(f"[{fmt.duration(poll.elapsed):>6}] {'; '.join(notes)}")
            continue
        assert result.state is not None
        result.state, interval, decision = step(policy, result.state, observation)
        if notes:
            interval = replace(interval, note="; ".join(filter(None, [interval.note, *notes])))
        result.intervals.append(interval)
        reporter.step(summary.interval_line(interval, policy.compare))
        if decision.final:
            result.decision = decision
            return result
    assert result.state is not None
    if walk.cut_short:
        result.decision = Decision(Verdict.ERROR, "analysis budget", (walk.cut_short,), final=True)
        reporter.step(f"analysis stopped: {walk.cut_short}")
        return result
    result.decision = conclude(policy, result.state)
    return result


class _Walk:
    """The polls of one analysis, in order; ``cut_short`` says why it stopped before the end, if it did."""

    def __init__(
        self,
        settings: Settings,
        source: Source,
        schedule: Iterable[tuple[float, float]] | None,
        clock: Clock | None,
        polls: Iterable[Poll] | None,
    ) -> None:
        self.settings, self.source, self.schedule, self.clock, self.polls = settings, source, schedule, clock, polls
        self.cut_short = ""

    def _stop(self, done: int, planned: int, began: float, clock: Clock) -> None:
        budget = self.settings.analysis_budget
        self.cut_short = (
            f"could not evaluate: the analysis budget of {fmt.duration(budget)} (canary.analysis_timeout) ran out "
            f"after {done} of {planned} polls in {fmt.duration(clock.monotonic() - began)}: Prometheus answers too "
            "slowly"
        )

    def __iter__(self) -> Iterator[Poll]:
        if self.polls is not None:
            yield from self.polls
            return
        clock = self.clock or SystemClock()
        budget = self.settings.analysis_budget
        began = clock.monotonic()
        if self.schedule is not None:
            planned = list(self.schedule)
            for done, (elapsed, at) in enumerate(planned):
                if clock.monotonic() - began > budget:
                    self._stop(done, len(planned), began, clock)
                    return
                yield self.source.poll(elapsed, at)
            return
        interval, duration = self.settings.interval, self.settings.duration
        yield self.source.poll(0.0, clock.time())
        k = 1
        while k * interval <= duration + 1e-9:
            wait = began + k * interval - clock.monotonic()
            if wait > 0:
                clock.sleep(wait)
            if clock.monotonic() - began > budget:
                self._stop(k, int(duration // interval + 1e-9) + 1, began, clock)
                return
            yield self.source.poll(clock.monotonic() - began, clock.time())
            k += 1


def arm_labels(settings: Settings, namespace: str, canary: str, baseline: str) -> dict[str, ArmLabels]:
    window = prom_duration(settings.interval)
    return {
        "canary": ArmLabels(namespace, canary, "canary", window, settings.selector),
        "baseline": ArmLabels(namespace, baseline, "baseline", window, settings.selector),
    }
