"""What a fleet run says: one result per target (each step's verdict, reason and time), the table at the end, the
Markdown job summary with a timeline, and the single notification of each event listing every target.

A cell states only what was checked: "rolled back" appears after the rollback service verified the rollout of the
release it went back to; a target the run never reached reads "not reached: unchanged" only after its Deployment
was read and still runs the release it ran before.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hotfix_actions.decide.verdict import Status, Verdict, worst
from hotfix_actions.ports import Event
from hotfix_actions.report import Row, md_escape, md_table

__all__ = ["StepResult", "TargetResult", "event", "from_data", "markdown", "merge", "rows", "to_data"]


@dataclass
class StepResult:
    verdict: Verdict
    reason: str
    started: float  # epoch seconds
    seconds: float

    def cell(self) -> str:
        return f"{self.verdict.value} {self.seconds:.1f}s"


@dataclass
class TargetResult:
    """Everything one target went through in this invocation (steps it did not run stay None)."""

    target: str
    wave: str
    wave_index: int
    gate: StepResult | None = None
    promote: StepResult | None = None
    bake: StepResult | None = None
    rollback: StepResult | None = None
    note: str = ""  # what was found instead of run: "already promoted and baked", "not reached: unchanged (...)"
    error: bool = False  # the target could not be opened, locked or read (the note says why)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def steps(self) -> list[tuple[str, StepResult]]:
        found = [("gate", self.gate), ("promote", self.promote), ("bake", self.bake), ("rollback", self.rollback)]
        return [(name, step) for name, step in found if step is not None]

    @property
    def verdict(self) -> Verdict:
        """The worst of the steps before any rollback (the rollback has its own column)."""
        verdicts = [s.verdict for name, s in self.steps() if name != "rollback"]
        return worst(verdicts) if verdicts else Verdict.PASS

    def problem(self) -> str:
        bad = [f"{name}: {s.reason}" for name, s in self.steps() if s.verdict is not Verdict.PASS]
        return "; ".join(bad)

    def rollback_text(self) -> str:
        if self.rollback is None:
            return "-"
        return f"{self.rollback.verdict.value}: {self.rollback.reason}"

    def summary(self) -> str:
        cells = [f"{name} {step.cell()}" for name, step in self.steps()]
        text = "; ".join(cells) or "nothing to do"
        if self.note:
            text = f"{self.note}; {text}" if cells else self.note
        return text


def _status(result: TargetResult) -> Status:
    if result.error:
        return Status.ERROR
    if not result.steps():
        return Status.SKIP
    verdict = worst([result.verdict, *([result.rollback.verdict] if result.rollback else [])])
    return {Verdict.PASS: Status.PASS, Verdict.FAIL: Status.FAIL}.get(verdict, Status.ERROR)


def rows(results: list[TargetResult]) -> list[Row]:
    """One row per target: "eu-west (wave canary)", its worst status, every step with its time, and why."""
    out = []
    for r in sorted(results, key=lambda x: (x.wave_index, x.target)):
        reason = r.summary()
        if problem := r.problem():
            reason += f" -- {problem}"
        if r.rollback is not None:
            reason += f" -- rollback {r.rollback_text()}"
        out.append(Row(f"{r.target} (wave {r.wave})", _status(r), reason))
    return out


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M:%S")


def markdown(results: list[TargetResult], title: str) -> str:
    """The table (target, wave, gate, promote, bake, verdict, rollback, times) and a Mermaid timeline."""
    ordered = sorted(results, key=lambda x: (x.wave_index, x.target))
    table = []
    for r in ordered:

        def cell(step: StepResult | None) -> str:
            return step.cell() if step else "-"

        first = min((s.started for _, s in r.steps()), default=None)
        table.append(
            [
                md_escape(r.target),
                md_escape(r.wave),
                cell(r.gate),
                cell(r.promote),
                cell(r.bake),
                r.verdict.value,
                md_escape(r.rollback_text()),
                _clock(first) if first is not None else "-",
                md_escape(r.problem() or r.note or ""),
            ]
        )
    parts = [
        f"### {md_escape(title)}\n",
        md_table(["Target", "Wave", "Gate", "Promote", "Bake", "Verdict", "Rollback", "Started", "Why"], table),
    ]
    sections: list[str] = []
    for r in ordered:
        if not r.steps():
            continue
        sections.append(f"    section {_safe(r.target)}")
        for name, step in r.steps():
            crit = "crit, " if step.verdict is not Verdict.PASS else ""
            seconds = max(1, round(step.seconds))
            sections.append(f"    {name} :{crit}{_safe(r.target)}-{name}, {_clock(step.started)}, {seconds}s")
    if sections:
        chart = "\n".join(sections)
        parts.append(f"```mermaid\ngantt\n    dateFormat HH:mm:ss\n    axisFormat %H:%M:%S\n{chart}\n```\n")
    return "\n".join(parts)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def event(
    kind: str,
    title: str,
    results: list[TargetResult],
    *,
    version: str,
    verdict: Verdict,
    run_url: str,
    actor: str,
    extra: tuple[str, ...] = (),
) -> Event:
    """One notification for the whole fleet: a reason line per target, in wave order."""
    lines = [*extra]
    for r in sorted(results, key=lambda x: (x.wave_index, x.target)):
        text = f"{r.target} (wave {r.wave}): {r.verdict.value}"
        if problem := r.problem():
            text += f" ({problem})"
        elif r.note:
            text += f" ({r.note})"
        if r.rollback is not None:
            text += f"; rollback {r.rollback_text()}"
        lines.append(text)
    return Event(
        kind=kind,
        title=title,
        version=version,
        verdict=verdict.value,
        reasons=tuple(lines),
        actor=actor,
        run_url=run_url,
        fields=tuple((r.target, r.verdict.value) for r in sorted(results, key=lambda x: (x.wave_index, x.target))),
    )


def to_data(results: list[TargetResult]) -> list[dict[str, object]]:
    """The results as JSON data (a job's share of a fleet run, for the workflow's report job)."""
    out: list[dict[str, object]] = []
    for r in sorted(results, key=lambda x: (x.wave_index, x.target)):
        steps = {
            name: {"verdict": s.verdict.value, "reason": s.reason, "started": s.started, "seconds": s.seconds}
            for name, s in r.steps()
        }
        item: dict[str, object] = {"target": r.target, "wave": r.wave, "waveIndex": r.wave_index, "steps": steps}
        out.append({**item, "note": r.note, "error": r.error})
    return out


def from_data(data: object) -> list[TargetResult]:
    """Results read back; ValueError naming what is not a result."""
    if not isinstance(data, list):
        raise ValueError("not a list of target results")
    found = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("steps"), dict):
            raise ValueError("a target result needs target, wave, waveIndex and steps")
        result = TargetResult(str(item["target"]), str(item.get("wave", "")), int(item.get("waveIndex", 0)))
        result.note, result.error = str(item.get("note") or ""), bool(item.get("error"))
        for name, step in item["steps"].items():
            if name not in ("gate", "promote", "bake", "rollback") or not isinstance(step, dict):
                raise ValueError(f"unknown step {str(name)[:40]!r}")
            value = StepResult(
                Verdict(str(step["verdict"])), str(step["reason"]), float(step["started"]), float(step["seconds"])
            )
            setattr(result, name, value)
        found.append(result)
    return found


def _changed(step: StepResult) -> bool:
    return step.verdict is Verdict.PASS and step.reason.startswith("rolled back")


def merge(results: list[TargetResult]) -> dict[str, TargetResult]:
    """Several jobs' results of the same targets as one per target: the later step of each kind wins, notes join."""
    merged: dict[str, TargetResult] = {}
    for r in results:
        into = merged.setdefault(r.target, TargetResult(r.target, r.wave, r.wave_index))
        for name, step in r.steps():
            current: StepResult | None = getattr(into, name)
            if current is None:
                setattr(into, name, step)
                continue
            first, later = (current, step) if current.started <= step.started else (step, current)
            if name == "rollback" and _changed(first) and later.verdict is Verdict.PASS and not _changed(later):
                # the target went back in one job and a later job found it there: the change is what happened
                setattr(into, name, StepResult(first.verdict, f"{first.reason}; found there again later",
                                               first.started, first.seconds))  # fmt: skip
            else:
                setattr(into, name, later)
        if r.note and r.note not in into.note:
            into.note = f"{into.note}; {r.note}" if into.note else r.note
        into.error = into.error or r.error
    return merged
