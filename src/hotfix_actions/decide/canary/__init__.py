"""The canary judge: anytime-valid split tests on error and slow counts, guardrails, fail-closed rules. Pure."""

from __future__ import annotations

from hotfix_actions.decide.canary.judge import Decision, Interval, State, conclude, start, step
from hotfix_actions.decide.canary.policy import (
    DEFAULT_GUARDRAILS,
    Arm,
    EarlyPass,
    Guardrail,
    NoData,
    Observation,
    Policy,
    Problem,
    ProblemKind,
    Signal,
)

__all__ = [
    "DEFAULT_GUARDRAILS",
    "Arm",
    "Decision",
    "EarlyPass",
    "Guardrail",
    "Interval",
    "NoData",
    "Observation",
    "Policy",
    "Problem",
    "ProblemKind",
    "Signal",
    "State",
    "conclude",
    "start",
    "step",
]
