"""Outcomes as enums, combined by "worst wins" with the ordering kept as data."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from hotfix_actions.errors import ExitCode

__all__ = ["Status", "Verdict", "exit_code_for", "worst", "worst_status"]


class Verdict(StrEnum):
    PASS = "PASS"
    INCONCLUSIVE = "INCONCLUSIVE"
    ERROR = "ERROR"
    FAIL = "FAIL"


# Argo Rollouts' ranking: Successful < Inconclusive < Error < Failed.
_VERDICT_RANK = {Verdict.PASS: 0, Verdict.INCONCLUSIVE: 1, Verdict.ERROR: 2, Verdict.FAIL: 3}


class Status(StrEnum):
    """One row of a check table."""

    PASS = "pass"
    SKIP = "skip"
    WARN = "warn"
    ERROR = "error"
    FAIL = "fail"


_STATUS_RANK = {Status.PASS: 0, Status.SKIP: 1, Status.WARN: 2, Status.ERROR: 3, Status.FAIL: 4}

_STATUS_VERDICT = {
    Status.PASS: Verdict.PASS,
    Status.SKIP: Verdict.PASS,
    Status.WARN: Verdict.PASS,
    Status.ERROR: Verdict.ERROR,
    Status.FAIL: Verdict.FAIL,
}


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The worst verdict; an empty input is INCONCLUSIVE (no evidence is never a pass)."""
    items = list(verdicts)
    if not items:
        return Verdict.INCONCLUSIVE
    return max(items, key=_VERDICT_RANK.__getitem__)


def worst_status(statuses: Iterable[Status]) -> Verdict:
    items = list(statuses)
    if not items:
        return Verdict.INCONCLUSIVE
    return _STATUS_VERDICT[max(items, key=_STATUS_RANK.__getitem__)]


def exit_code_for(verdict: Verdict) -> ExitCode:
    if verdict is Verdict.PASS:
        return ExitCode.OK
    if verdict is Verdict.FAIL:
        return ExitCode.REJECTED
    return ExitCode.UNAVAILABLE
