"""The only code that knows GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and workflow commands.

Inside GitHub Actions it writes outputs (multi-line safe, random delimiter), the Markdown job summary,
annotations, groups and masks; outside it prints plain readable text. With ``--json`` the progress lines go
to stderr and stdout carries exactly one JSON object: verdict, reasons, outputs, checks.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hotfix_actions.decide.verdict import Status, Verdict, exit_code_for
from hotfix_actions.errors import ExitCode, HotfixError

__all__ = ["PROBLEMS", "Outcome", "Reporter", "Row", "md_escape", "md_table", "problem_reasons"]

_ICON = {
    Status.PASS: "✅",
    Status.SKIP: "⏭️",
    Status.WARN: "⚠️",
    Status.ERROR: "🛑",
    Status.FAIL: "❌",
}
_VERDICT_ICON = {Verdict.PASS: "✅", Verdict.INCONCLUSIVE: "❔", Verdict.ERROR: "🛑", Verdict.FAIL: "❌"}


@dataclass(frozen=True)
class Row:
    """One check: its name, its result and the reason, with numbers."""

    check: str
    status: Status
    reason: str

    @property
    def text(self) -> str:
        """How a row reads as a reason: "size: 21 file(s) (max 20) ..."."""
        return f"{self.check}: {self.reason}"


PROBLEMS = frozenset({Status.WARN, Status.FAIL, Status.ERROR})


def problem_reasons(rows: Sequence[Row], statuses: frozenset[Status] = PROBLEMS) -> list[str]:
    """The reasons of the rows that did not pass (warnings included unless ``statuses`` says otherwise)."""
    return [r.text for r in rows if r.status in statuses]


@dataclass(frozen=True)
class Outcome:
    """What a command decided: the verdict, every reason, its outputs and its check table."""

    command: str
    verdict: Verdict
    reasons: Sequence[str] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)
    rows: Sequence[Row] = ()
    title: str = ""
    markdown: str = ""
    exit_code: ExitCode | None = None

    @property
    def code(self) -> ExitCode:
        return self.exit_code if self.exit_code is not None else exit_code_for(self.verdict)

    def as_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "verdict": self.verdict.value,
            "exit_code": int(self.code),
            "reasons": list(self.reasons),
            "outputs": dict(self.outputs),
            "checks": [{"check": r.check, "result": r.status.value, "reason": r.reason} for r in self.rows],
        }


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def md_escape(text: str) -> str:
    """Escape untrusted text for a Markdown table cell (no HTML, no column breaks)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\r", "")
        .replace("\n", "<br>")
    )


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(rows_cell for rows_cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


class Reporter:
    """Writes progress, results and workflow commands for one command run."""

    def __init__(
        self,
        *,
        github_actions: bool = False,
        output_path: str | None = None,
        summary_path: str | None = None,
        json_mode: bool = False,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.github_actions = github_actions
        self.output_path = Path(output_path) if output_path else None
        self.summary_path = Path(summary_path) if summary_path else None
        self.json_mode = json_mode
        self._out = out
        self._err = err
        self._masked: list[str] = []
        self._summary_parts: list[str] = []

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, json_mode: bool = False) -> Reporter:
        return cls(
            github_actions=env.get("GITHUB_ACTIONS") == "true",
            output_path=env.get("GITHUB_OUTPUT") or None,
            summary_path=env.get("GITHUB_STEP_SUMMARY") or None,
            json_mode=json_mode,
        )

    # -- low level -----------------------------------------------------------------------------------
    @property
    def out(self) -> IO[str]:
        return self._out or sys.stdout

    @property
    def err(self) -> IO[str]:
        return self._err or sys.stderr

    @property
    def progress(self) -> IO[str]:
        """Progress lines: stderr in JSON mode so stdout stays one JSON object."""
        return self.err if self.json_mode else self.out

    def redact(self, text: str) -> str:
        for value in self._masked:
            text = text.replace(value, "***")
        return text

    def _emit(self, line: str, stream: IO[str] | None = None) -> None:
        target = stream or self.progress
        target.write(self.redact(line) + "\n")
        target.flush()

    def mask(self, value: str | None) -> None:
        """Register a secret: masked in every later line here and, in Actions, by the runner (per line)."""
        if not value:
            return
        for part in [value, *value.splitlines()]:
            part = part.strip()
            if len(part) < 3 or part in self._masked:
                continue
            self._masked.append(part)
            self._masked.sort(key=len, reverse=True)
            if self.github_actions:
                self.progress.write(f"::add-mask::{_escape_data(part)}\n")

    # -- progress ------------------------------------------------------------------------------------
    def step(self, message: str) -> None:
        """One line per step while it runs."""
        self._emit(f"▶ {message}")

    def info(self, message: str) -> None:
        self._emit(f"  {message}")

    def annotate(
        self, level: str, message: str, *, file: str | None = None, line: int | None = None, title: str | None = None
    ) -> None:
        if level not in {"error", "warning", "notice"}:
            raise ValueError(level)
        if self.github_actions:
            props = []
            if file:
                props.append(f"file={_escape_property(file)}")
            if line:
                props.append(f"line={line}")
            if title:
                props.append(f"title={_escape_property(title)}")
            prop_text = (" " + ",".join(props)) if props else ""
            self._emit(f"::{level}{prop_text}::{_escape_data(self.redact(message))}")
        else:
            where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
            self._emit(f"{level}: {where}{message}", self.err)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        if self.github_actions:
            self._emit(f"::group::{_escape_data(title)}")
        else:
            self.step(title)
        try:
            yield
        finally:
            if self.github_actions:
                self._emit("::endgroup::")

    def untrusted(self, text: str) -> None:
        """Print text that may hold workflow commands (commit messages, branch names) inertly."""
        if self.github_actions:
            token = os.urandom(16).hex()
            self._emit(f"::stop-commands::{token}")
            self._emit(text)
            self._emit(f"::{token}::")
        else:
            self._emit(text)

    # -- results -------------------------------------------------------------------------------------
    def set_output(self, name: str, value: str) -> None:
        if self.output_path is None:
            return
        value = self.redact(value)
        delimiter = f"ghadelimiter_{os.urandom(16).hex()}"
        while delimiter in value:
            delimiter = f"ghadelimiter_{os.urandom(16).hex()}"
        with self.output_path.open("a", encoding="utf-8") as fh:
            fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def add_summary(self, markdown: str) -> None:
        self._summary_parts.append(markdown)

    def _flush_summary(self) -> None:
        if self.summary_path is None or not self._summary_parts:
            return
        with self.summary_path.open("a", encoding="utf-8") as fh:
            fh.write(self.redact("\n".join(self._summary_parts)) + "\n")
        self._summary_parts.clear()

    def _text_table(self, rows: Sequence[Row]) -> str:
        width = max([len("check"), *(len(r.check) for r in rows)])
        lines = [f"  {'check'.ljust(width)}  result  reason"]
        for r in rows:
            lines.append(f"  {r.check.ljust(width)}  {r.status.value.upper().ljust(6)}  {r.reason}")
        return "\n".join(lines)

    def outcome_markdown(self, outcome: Outcome) -> str:
        title = outcome.title or f"hotfix {outcome.command}"
        parts = [f"## {_VERDICT_ICON[outcome.verdict]} {md_escape(title)}: {outcome.verdict.value}\n"]
        if outcome.rows:
            parts.append(
                md_table(
                    ["Check", "Result", "Reason"],
                    [
                        [md_escape(r.check), f"{_ICON[r.status]} {r.status.value}", md_escape(r.reason)]
                        for r in outcome.rows
                    ],
                )
            )
        if outcome.reasons and not outcome.rows:
            parts.append("\n".join(f"- {md_escape(r)}" for r in outcome.reasons) + "\n")
        if outcome.markdown:
            parts.append(outcome.markdown)
        return "\n".join(parts)

    def finish(self, outcome: Outcome) -> ExitCode:
        """Write outputs, the step summary, the final table (or the JSON object); return the exit code."""
        for name, value in outcome.outputs.items():
            self.set_output(name, value)
        self.set_output("verdict", outcome.verdict.value)
        self.set_output("reasons", json.dumps(list(outcome.reasons)))
        self.add_summary(self.outcome_markdown(outcome))
        self._flush_summary()
        if self.json_mode:
            self._emit(json.dumps(outcome.as_json(), sort_keys=True), self.out)
            return outcome.code
        if outcome.rows:
            self._emit(self._text_table(outcome.rows))
        for reason in outcome.reasons if not outcome.rows else ():
            self._emit(f"  - {reason}")
        self._emit(f"{_VERDICT_ICON[outcome.verdict]} {outcome.title or outcome.command}: {outcome.verdict.value}")
        if self.github_actions and outcome.verdict is not Verdict.PASS:
            self.annotate("error", f"{outcome.command}: {outcome.verdict.value}: " + "; ".join(outcome.reasons))
        return outcome.code

    def fail(self, command: str, exc: HotfixError) -> ExitCode:
        """Report an error caught at the boundary: a clear message, the fix, the exit code."""
        verdict = Verdict.FAIL if exc.exit_code == ExitCode.REJECTED else Verdict.ERROR
        outcome = Outcome(
            command=command,
            verdict=verdict,
            reasons=[str(exc)],
            exit_code=exc.exit_code,
            title=f"hotfix {command}",
        )
        if not self.json_mode:
            self.annotate("error", str(exc))
        self.add_summary(self.outcome_markdown(outcome))
        self._flush_summary()
        self.set_output("verdict", verdict.value)
        self.set_output("reasons", json.dumps([str(exc)]))
        if self.json_mode:
            self._emit(json.dumps(outcome.as_json(), sort_keys=True), self.out)
        return exc.exit_code
