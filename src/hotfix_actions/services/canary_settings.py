"""The canary gate's settings: `.hotfix.yml` (and the command's options) resolved into the judge's policy, once.

Every template, guardrail and duration is checked here, before anything connects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hotfix_actions.config.canary import CanaryConfig, GuardrailConfig
from hotfix_actions.decide.canary import EarlyPass, Guardrail, NoData, Policy, Signal, fmt
from hotfix_actions.decide.canary.templates import parse_duration, template_problem
from hotfix_actions.errors import UsageError

__all__ = ["Settings", "settings_from_config"]


@dataclass(frozen=True)
class Settings:
    policy: Policy
    queries: Mapping[str, str]
    kinds: Mapping[str, str]
    selector: str
    interval: float
    duration: float
    ready_timeout: float
    cfg: CanaryConfig
    query_timeout: float = 10.0  # seconds per Prometheus query, all included
    canary_lag: float = 15.0  # the canary is read this much before the baseline (one scrape interval)
    budget: float = 0.0  # seconds for the whole analysis (polls included); 0: duration + 2 intervals + query_timeout

    @property
    def analysis_budget(self) -> float:
        return self.budget or self.duration + 2 * self.interval + self.query_timeout


def _seconds(value: str | float, name: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise UsageError(str(exc), input_name=name) from exc
    return seconds


def settings_from_config(
    cfg: CanaryConfig,
    *,
    interval: str | float | None = None,
    duration: str | float | None = None,
    compare: bool = True,
    scrape_interval: str | float | None = None,
) -> Settings:
    """Resolve `.hotfix.yml` plus options into the judge's policy; every template is checked here."""
    metrics = {**CanaryConfig().metrics, **cfg.metrics}
    for name, metric in metrics.items():
        if problem := template_problem(metric.query):
            raise UsageError(f"metrics.{name}.query: {problem}", input_name="canary")
    if metrics["requests"].on_no_data == "ignore":
        raise UsageError("metrics.requests.on_no_data cannot be ignore: requests are the evidence", input_name="canary")
    guardrails = tuple(_guardrail(k, g) for k, g in enumerate(cfg.guardrails))
    ep = cfg.early_pass
    policy = Policy(
        alpha_errors=cfg.alpha / 2,
        alpha_latency=cfg.alpha / 2,
        latency_bounds=tuple(cfg.latency_bounds),
        min_requests=cfg.min_requests,
        early_pass=EarlyPass(ep.enabled and compare, ep.margin, ep.negligible_rate, ep.alpha),
        guardrails=guardrails,
        consecutive_error_limit=cfg.consecutive_error_limit,
        on_no_data={name: NoData(m.on_no_data) for name, m in metrics.items()},
        compare=compare,
        require_power=cfg.require_power,
    )
    every = _seconds(interval if interval is not None else cfg.interval, "--interval")
    total = _seconds(duration if duration is not None else cfg.duration, "--duration")
    if every <= 0 or total < every:
        raise UsageError(f"interval {fmt.duration(every)} must be > 0 and <= duration {fmt.duration(total)}")
    budget = 0.0 if cfg.analysis_timeout is None else _seconds(cfg.analysis_timeout, "canary.analysis_timeout")
    return Settings(
        policy=policy,
        queries={name: m.query for name, m in metrics.items()},
        kinds={name: m.kind for name, m in metrics.items()},
        selector=cfg.selector,
        interval=every,
        duration=total,
        ready_timeout=_seconds(cfg.ready_timeout, "canary.ready_timeout"),
        cfg=cfg,
        query_timeout=_seconds(cfg.query_timeout, "canary.query_timeout"),
        budget=budget,
        canary_lag=(
            _seconds(scrape_interval if scrape_interval is not None else cfg.scrape_interval, "--scrape-interval")
            if compare
            else 0.0
        ),
    )


def _guardrail(k: int, g: GuardrailConfig) -> Guardrail:
    """One guardrail from `.hotfix.yml`, with what each signal needs checked (and said) here."""
    key = f"canary.guardrails[{k}] ({g.name})"
    signal = Signal(g.signal)
    if signal is Signal.READY:
        if g.min is None or g.max is not None or not 0 < g.min <= 1:
            raise UsageError(
                "a ready guardrail takes min (a share of desired pods in (0, 1]) and no max", input_name=key
            )
        return Guardrail(g.name, signal, None, g.min, g.consecutive or 5, g.shared_incident)
    if g.min is not None or g.max is None or g.consecutive is not None:
        raise UsageError(
            f"a {signal.value} guardrail takes max only: it is a sequential test of 'the canary is over max', "
            "so consecutive and min do not apply",
            input_name=key,
        )
    if signal is Signal.ERROR_RATE and not 0 < g.max < 1:
        raise UsageError(f"max {g.max:g} is not an error rate in (0, 1), e.g. 0.05", input_name=key)
    if signal is Signal.P95 and not g.max > 0:
        raise UsageError(f"max {g.max:g} is not a latency in seconds, e.g. 2.0", input_name=key)
    return Guardrail(g.name, signal, g.max, None, 5, g.shared_incident)
