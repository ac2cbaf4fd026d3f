"""The canary judge: fold one observation per interval into the evidence and decide.

``start`` -> ``step`` per interval -> (``conclude`` when the duration is over). Every decision names its rule and
gives its numbers. Worst wins: a crossed e-process or a guardrail breach FAILs at once; measurement errors end in
ERROR after ``consecutive_error_limit`` in a row; nothing without enough clean evidence is a PASS.

One false-rollback budget: the rules that can FAIL a canary against its baseline are the two split tests (errors
at ``alpha_errors``, latency at ``alpha_latency``; Ville's inequality bounds each, so a healthy canary is rolled
back with probability at most their sum, ``canary.alpha``), the limits judged against the baseline (which fail
only together with the split test of their signal, so they add nothing to it; guardrails.py) and pods ready (a
fact from the cluster, not an estimate from samples). A limit set to fail on its own (``shared_incident: false``)
is outside the budget and off by default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hotfix_actions.decide.canary import evidence as ev
from hotfix_actions.decide.canary import fmt, limits, power
from hotfix_actions.decide.canary.guardrails import Check, Result, evaluate, is_limit, limit_of, next_streak
from hotfix_actions.decide.canary.policy import Arm, NoData, Observation, Policy, Problem, ProblemKind, Signal
from hotfix_actions.decide.verdict import Verdict

__all__ = ["Decision", "Interval", "State", "classify", "conclude", "start", "step"]


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    rule: str
    reasons: tuple[str, ...]
    final: bool = False


@dataclass(frozen=True)
class Interval:
    """One row of the interval table and one log line."""

    index: int
    elapsed: float
    status: str  # ok | error | inconclusive
    canary: Arm | None
    baseline: Arm | None
    log_e_errors: float
    log_e_latency: float
    checks: tuple[Check, ...]
    verdict: Verdict  # so far
    note: str = ""


@dataclass(frozen=True)
class State:
    evidence: ev.Evidence
    intervals: int = 0
    consecutive_errors: int = 0
    streaks: tuple[int, ...] = ()
    last: str = "none"  # none | ok | error | inconclusive
    last_note: str = ""
    decided: Decision | None = None
    limits: tuple[limits.LimitState | None, ...] = ()  # per guardrail: the limit's test (None: pods ready)
    held: tuple[str, ...] = ()  # limits over during a shared incident, as of the last interval: no PASS now


def start(policy: Policy) -> State:
    return State(
        evidence=ev.empty(policy),
        streaks=tuple(0 for _ in policy.guardrails),
        limits=tuple(limits.empty(limit_of(g)) if is_limit(g) else None for g in policy.guardrails),
    )


def classify(policy: Policy, problems: tuple[Problem, ...]) -> tuple[list[Problem], list[Problem], list[Problem]]:
    """Split problems into (errors, inconclusive, ignored) by kind and the metric's ``on_no_data``."""
    errors: list[Problem] = []
    inconclusive: list[Problem] = []
    ignored: list[Problem] = []
    for problem in problems:
        if problem.kind is not ProblemKind.NO_DATA:
            errors.append(problem)
            continue
        rule = policy.no_data(problem.metric)
        if rule is NoData.FAIL or (problem.metric == "requests" and rule is NoData.IGNORE):
            errors.append(problem)
        elif rule is NoData.INCONCLUSIVE:
            inconclusive.append(problem)
        else:
            ignored.append(problem)
    return errors, inconclusive, ignored


def _arm_problem(name: str, arm: Arm | None) -> str | None:
    if arm is None:
        return f"{name}: no usable counts"
    if arm.requests < 0 or (arm.errors is not None and arm.errors < 0):
        return f"{name}: negative counts"
    if arm.errors is not None and arm.errors > arm.requests:
        return f"{name}: {fmt.count(arm.errors)} errors > {fmt.count(arm.requests)} requests"
    return None


def step(policy: Policy, state: State, obs: Observation) -> tuple[State, Interval, Decision]:
    if state.decided is not None:
        raise ValueError("the judge already decided")
    errors, inconclusive, ignored = classify(policy, obs.problems)
    index = state.intervals + 1
    arms = [("canary", obs.canary)] + ([("baseline", obs.baseline)] if policy.compare else [])
    if not errors and inconclusive and (obs.canary is None or (policy.compare and obs.baseline is None)):
        return _inconclusive_step(policy, state, obs, index, inconclusive)
    if not errors:
        bad = [text for name, arm in arms if (text := _arm_problem(name, arm)) is not None]
        errors = [Problem("counts", "", ProblemKind.BAD_DATA, text) for text in bad]
    if errors:
        return _error_step(policy, state, obs, index, errors)

    canary, baseline = obs.canary, obs.baseline if policy.compare else None
    assert canary is not None
    ahead, behind = (obs.ahead, obs.behind) if policy.compare else (None, None)
    evidence = ev.update(policy, state.evidence, canary, baseline, ahead, behind)
    worse = {
        Signal.ERROR_RATE: policy.compare and ev.errors_crossed(policy, evidence) is not None,
        Signal.P95: policy.compare and ev.latency_crossed(policy, evidence) is not None,
    }
    judged = [
        evaluate(policy, g, lim, canary, baseline, worse.get(g.signal, False))
        for g, lim in zip(policy.guardrails, state.limits, strict=True)
    ]
    checks = tuple(check for _, check in judged)
    streaks = tuple(next_streak(s, c) for s, c in zip(state.streaks, checks, strict=True))
    held = tuple(c.text for c in checks if c.result is Result.SHARED and is_limit(c.guardrail))
    notes = [p.text() + " (inconclusive)" for p in inconclusive] + [p.text() + " (ignored)" for p in ignored]
    if canary.requests == 0:
        notes.append("no canary traffic in this interval")
    status = "inconclusive" if inconclusive else "ok"
    new = State(evidence, index, 0, streaks, status, "; ".join(notes), None, tuple(lim for lim, _ in judged), held)

    decision = (
        _failure(policy, new, checks)
        or (_early_pass(policy, new) if status == "ok" else None)
        or conclude(policy, new, final=False)
    )
    if decision.final:
        new = replace(new, decided=decision)
    interval = Interval(
        index,
        obs.elapsed,
        status,
        canary,
        baseline,
        ev.log_e_errors(evidence),
        ev.log_e_latency(evidence),
        checks,
        decision.verdict,
        new.last_note,
    )
    return new, interval, decision


def _inconclusive_step(
    policy: Policy, state: State, obs: Observation, index: int, problems: list[Problem]
) -> tuple[State, Interval, Decision]:
    """No counts this interval, by the metric's choice (on_no_data: inconclusive): no evidence, no error."""
    note = "; ".join(p.text() + " (inconclusive)" for p in problems)
    new = replace(state, intervals=index, consecutive_errors=0, last="inconclusive", last_note=note)
    decision = conclude(policy, new, final=False)
    log_err, log_lat = ev.log_e_errors(state.evidence), ev.log_e_latency(state.evidence)
    interval = Interval(index, obs.elapsed, "inconclusive", None, None, log_err, log_lat, (), decision.verdict, note)
    return new, interval, decision


def _error_step(
    policy: Policy, state: State, obs: Observation, index: int, errors: list[Problem]
) -> tuple[State, Interval, Decision]:
    streak = state.consecutive_errors + 1
    note = "; ".join(p.text() for p in errors)
    new = replace(state, intervals=index, consecutive_errors=streak, last="error", last_note=note)
    limit = policy.consecutive_error_limit
    if streak >= limit:
        decision = Decision(
            Verdict.ERROR,
            "consecutive measurement errors",
            (
                f"could not evaluate: {streak} measurement errors in a row "
                f"(consecutive_error_limit {limit}); last: {note}",
            ),
            final=True,
        )
        new = replace(new, decided=decision)
    else:
        decision = Decision(Verdict.ERROR, "measurement error", (f"measurement error {streak} of {limit}: {note}",))
    interval = Interval(
        index,
        obs.elapsed,
        "error",
        None,
        None,
        ev.log_e_errors(state.evidence),
        ev.log_e_latency(state.evidence),
        (),
        decision.verdict,
        note,
    )
    return new, interval, decision


def _failure(policy: Policy, state: State, checks: tuple[Check, ...]) -> Decision | None:
    reasons: list[str] = []
    rules: list[str] = []
    if policy.compare:
        if (text := ev.errors_crossed(policy, state.evidence)) is not None:
            reasons.append(text)
            rules.append("sequential test (errors)")
        if (text := ev.latency_crossed(policy, state.evidence)) is not None:
            reasons.append(text)
            rules.append("sequential test (latency)")
    for streak, check in zip(state.streaks, checks, strict=True):
        g = check.guardrail
        if is_limit(g) and check.result is Result.BREACH:
            reasons.append(f"guardrail {check.text}")
            rules.append(f"guardrail ({g.name})")
        elif not is_limit(g) and streak >= g.consecutive:
            reasons.append(f"guardrail {check.text} in {streak} consecutive intervals (limit {g.consecutive})")
            rules.append(f"guardrail ({g.name})")
    if not reasons:
        return None
    return Decision(Verdict.FAIL, ", ".join(rules), tuple(reasons), final=True)


def _early_pass(policy: Policy, state: State) -> Decision | None:
    rule = policy.early_pass
    if not (rule.enabled and policy.compare) or any(state.streaks) or state.held:
        return None
    e = state.evidence
    if min(e.canary_requests, e.baseline_requests) < policy.min_requests:
        return None
    shown = ev.not_worse(policy, e)
    if shown is None:
        return None
    head = (
        f"early PASS (rule: not worse, anytime-valid at alpha {rule.alpha:g}): canary {fmt.count(e.canary_requests)} "
        f"and baseline {fmt.count(e.baseline_requests)} requests >= min_requests {policy.min_requests}"
    )
    return Decision(Verdict.PASS, "not worse (anytime-valid)", (head, *shown), final=True)


def conclude(policy: Policy, state: State, *, final: bool = True) -> Decision:
    """The verdict when the duration is over (or, with ``final=False``, the verdict so far)."""
    if state.decided is not None:
        return state.decided
    e = state.evidence
    if state.intervals == 0:
        return Decision(Verdict.INCONCLUSIVE, "no data", ("no measurement was taken",), final)
    if state.last == "error":
        return Decision(
            Verdict.ERROR,
            "measurement error",
            (
                f"could not evaluate: the last measurement failed "
                f"({state.consecutive_errors} in a row): {state.last_note}",
            ),
            final,
        )
    low = [
        f"{name} served {fmt.count(n)} requests"
        for name, n in (("canary", e.canary_requests), ("baseline", e.baseline_requests))
        if n < policy.min_requests and (policy.compare or name == "canary")
    ]
    if low:
        text = f"insufficient traffic: {' and '.join(low)} (min_requests {policy.min_requests})"
        return Decision(Verdict.INCONCLUSIVE, "insufficient traffic", (text,), final)
    if state.last == "inconclusive":
        text = f"inconclusive: the last interval had no usable data: {state.last_note}"
        return Decision(Verdict.INCONCLUSIVE, "no data", (text,), final)
    open_streaks = [
        f"guardrail {g.name} breached in the last {s} interval(s) (fails at {g.consecutive})"
        for g, s in zip(policy.guardrails, state.streaks, strict=True)
        if s
    ]
    if open_streaks:
        return Decision(Verdict.INCONCLUSIVE, "open guardrail breach", tuple(open_streaks), final)
    if state.held:
        return Decision(Verdict.INCONCLUSIVE, "canary over a limit (shared incident)", state.held, final)
    seen = tuple(f"could have detected: {d.text()}" for d in power.detectable(policy, e))
    if policy.require_power and (weak := power.under_powered(policy, e)):
        why = (
            "under-powered (canary.require_power): the run could not have told the canary from a "
            f"{policy.early_pass.margin:g}x worse one",
            *weak,
        )
        return Decision(Verdict.INCONCLUSIVE, "under-powered", why, final)
    return Decision(Verdict.PASS, "duration complete", (ev.pass_summary(policy, e, state.intervals), *seen), final)
