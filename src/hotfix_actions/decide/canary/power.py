"""What a run could have detected: the minimum detectable effect (MDE) per signal, from the traffic it saw.

For the split test of one signal (errors, or requests slower than one latency bound) with canary and baseline
totals ``n_c``, ``n_b``, baseline events ``x_b`` (rate ``p_b = x_b / n_b``) and share ``rho = n_c / (n_c + n_b)``,
a canary whose rate were ``p_c`` would give each alternative ``psi_j`` an expected log-evidence of

    n_c p_c log(theta_j / rho) + n_b p_b log((1 - theta_j) / (1 - rho)),   theta_j = rho psi_j / (rho psi_j + 1 - rho)

The run "could have detected" ``p_c`` when, for some ``j``, that reaches what the e-process needs to cross from the
start: ``log(1/alpha) + log J`` (the mixture over alternatives), plus ``log K`` for latency (the mixture over
bounds). The MDE is the smallest such ``p_c``: a canary that bad would have been caught about half the time or more
(the e-process can also cross on the way); a worse one more often. It is a statement about the traffic seen, not
about the canary.

``powered``: the MDE is at most the early pass's margin over the baseline (or its negligible rate, when that is
larger): the run could have told "as good as the baseline" from "``margin`` times worse". ``canary.require_power``
turns a PASS at the end of the duration without that power into INCONCLUSIVE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hotfix_actions.decide.canary import fmt
from hotfix_actions.decide.canary.evidence import Evidence
from hotfix_actions.decide.canary.policy import Policy

__all__ = ["Detectable", "detectable", "mde", "under_powered"]


@dataclass(frozen=True)
class Detectable:
    signal: str  # "errors" or "requests slower than 500ms"
    rate: float | None  # the smallest canary rate the run could have detected; None: none at all
    baseline_rate: float | None
    target: float  # the rate the run should be able to detect (margin x baseline, or the negligible rate)
    alpha: float

    @property
    def powered(self) -> bool:
        return self.rate is not None and self.rate <= self.target + 1e-15

    def text(self) -> str:
        base = f"baseline {fmt.pct(self.baseline_rate)}"
        if self.rate is None:
            return f"{self.signal}: no regression detectable with the traffic seen ({base})"
        ratio = f", {self.rate / self.baseline_rate:.3g}x the baseline" if self.baseline_rate else ""
        return f"{self.signal}: a canary rate of {fmt.pct(self.rate)} or more ({base}{ratio}) at alpha {self.alpha:g}"


def mde(n_c: float, n_b: float, x_b: float, need: float, psi_grid: tuple[float, ...]) -> float | None:
    """The smallest canary rate whose expected log-evidence reaches ``need``; None if not even a rate of 1."""
    if n_c <= 0 or n_b <= 0:
        return None
    rho = n_c / (n_c + n_b)
    best = math.inf
    for psi in psi_grid:
        theta = rho * psi / (rho * psi + 1.0 - rho)
        gain = math.log(theta / rho)  # per canary event
        loss = x_b * math.log((1.0 - theta) / (1.0 - rho))  # baseline events, expected as seen (<= 0)
        best = min(best, (need - loss) / (gain * n_c))
    return best if best <= 1.0 else None


def _need(alpha: float, policy: Policy, mixtures: int = 1) -> float:
    return math.log(1 / alpha) + math.log(len(policy.psi_grid)) + math.log(mixtures)


def _target(policy: Policy, baseline_rate: float | None) -> float:
    rule = policy.early_pass
    return max(rule.margin * (baseline_rate or 0.0), rule.negligible_rate)


def detectable(policy: Policy, e: Evidence) -> list[Detectable]:
    """Per signal with data: what the run could have detected (compare mode only; empty otherwise)."""
    if not policy.compare:
        return []
    out: list[Detectable] = []
    if e.errors_seen:
        p_b = fmt.rate_of(e.baseline_errors, e.baseline_requests)
        need = _need(policy.alpha_errors, policy)
        rate = mde(e.canary_requests, e.baseline_requests, e.baseline_errors, need, policy.psi_grid)
        out.append(Detectable("errors", rate, p_b, _target(policy, p_b), policy.alpha_errors))
    bounds = len(policy.latency_bounds)
    need = _need(policy.alpha_latency, policy, bounds)
    for k, bound in enumerate(policy.latency_bounds):
        if not e.latency_seen[k]:
            continue
        p_b = fmt.rate_of(e.baseline_slow[k], e.baseline_observed)
        rate = mde(e.canary_observed, e.baseline_observed, e.baseline_slow[k], need, policy.psi_grid)
        what = f"requests slower than {fmt.seconds(bound)}"
        out.append(Detectable(what, rate, p_b, _target(policy, p_b), policy.alpha_latency))
    return out


def under_powered(policy: Policy, e: Evidence) -> list[str]:
    """Reasons, one per signal, where the run could not detect the early pass's margin (empty: powered)."""
    return [
        f"{d.text()}; could not detect {fmt.pct(d.target)} (margin {policy.early_pass.margin:g}x the baseline or "
        f"the negligible rate {fmt.pct(policy.early_pass.negligible_rate)})"
        for d in detectable(policy, e)
        if not d.powered
    ]
