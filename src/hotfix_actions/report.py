"""The only code that knows GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and workflow commands.

Inside GitHub Actions it writes outputs (multi-line safe, random delimiter), the Markdown job summary,
annotations, groups and masks; outside it prints plain readable text. With ``--json`` the progress lines go
to stderr and stdout carries exactly one JSON object: verdict, reasons, outputs, checks.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from hotfix_actions.decide.verdict import Status, Verdict, exit_code_for
from hotfix_actions.errors import ExitCode, HotfixError
from hotfix_actions.guard import Secrets, activate, inert, json_line

__all__ = ["PROBLEMS", "Outcome", "Reporter", "Row", "md_escape", "md_table", "print_lines", "problem_reasons"]

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
    """Untrusted text for a Markdown table cell: inert (one line, no commands), no HTML, no column breaks."""
    return inert(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(rows_cell for rows_cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


class _LogLines(logging.Handler):
    def __init__(self, reporter: Reporter) -> None:
        super().__init__(logging.WARNING)
        self.reporter = reporter

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a library's broken format string: show it raw rather than lose the warning
            message = str(record.msg)
        self.reporter._emit(f"{record.levelname.lower()}: {record.name}: {message}", self.reporter.err)


def print_lines(text: str, stream: IO[str] | None = None) -> None:
    """Text that no Reporter wrote (click's usage errors, a traceback): each line made inert, to stderr."""
    target = stream or sys.stderr
    for line in text.splitlines():
        target.write(inert(line) + "\n")
    target.flush()


class Reporter:
    """Writes progress, results and workflow commands for one command run.

    Every line it prints passes ``guard.inert`` after the secrets are scrubbed: no text given to it, whatever its
    origin, can become a workflow command. Workflow commands are written by ``_command`` alone.
    """

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
        self.secrets = Secrets()
        activate(self.secrets)  # adapters that shorten server text scrub with this registry (guard.clip)
        self._summary_parts: list[str] = []

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, json_mode: bool = False) -> Reporter:
        reporter = cls(
            github_actions=env.get("GITHUB_ACTIONS") == "true",
            output_path=env.get("GITHUB_OUTPUT") or None,
            summary_path=env.get("GITHUB_STEP_SUMMARY") or None,
            json_mode=json_mode,
        )
        reporter.capture_logging()
        return reporter

    def capture_logging(self) -> None:
        """Library warnings (urllib3, PyGithub, ...) that no handler takes go through this reporter too: scrubbed
        and inert, to stderr (they may quote a URL or a server's answer)."""
        logging.lastResort = _LogLines(self)

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
        """``text`` without any registered secret (every form of it)."""
        return self.secrets.scrub(text)

    def clean(self, text: object) -> str:
        """Any text as one printable line: secrets scrubbed, then made inert."""
        return inert(self.redact(text if isinstance(text, str) else str(text)))

    def _write(self, line: str, stream: IO[str] | None = None) -> None:
        target = stream or self.progress
        target.write(line + "\n")
        target.flush()

    def _emit(self, text: object, stream: IO[str] | None = None) -> None:
        """One line of text: whatever it holds, it prints as one inert line."""
        self._write(self.clean(text), stream)

    def _command(self, name: str, data: str = "", properties: Mapping[str, str] | None = None) -> None:
        """The only place a workflow command is written: our name, escaped properties and data, all inert."""
        props = ",".join(f"{key}={_escape_property(self.clean(value))}" for key, value in (properties or {}).items())
        self._write(f"::{name}{' ' + props if props else ''}::{_escape_data(self.clean(data))}")

    def mask(self, value: str | None) -> None:
        """Register a secret: every form of it is masked in later lines here and, in Actions, by the runner
        (one ``::add-mask::`` per line, since the runner masks line by line)."""
        for form in self.secrets.add(value):
            if not self.github_actions:
                continue
            for line in form.splitlines():
                if line.strip():
                    self._write(f"::add-mask::{_escape_data(line)}")

    # -- progress ------------------------------------------------------------------------------------
    def step(self, message: str) -> None:
        """One line per step while it runs."""
        self._emit(f"▶ {self.clean(message)}")

    def info(self, message: str) -> None:
        self._emit(f"  {self.clean(message)}")

    def annotate(
        self, level: str, message: str, *, file: str | None = None, line: int | None = None, title: str | None = None
    ) -> None:
        if level not in {"error", "warning", "notice"}:
            raise ValueError(level)
        if self.github_actions:
            props: dict[str, str] = {}
            if file:
                props["file"] = file
            if line:
                props["line"] = str(int(line))
            if title:
                props["title"] = title
            self._command(level, message, props)
        else:
            where = f"{self.clean(file)}:{int(line)}: " if file and line else (f"{self.clean(file)}: " if file else "")
            self._emit(f"{level}: {where}{self.clean(message)}", self.err)

    @contextmanager
    def group(self, title: str) -> Iterator[None]:
        if self.github_actions:
            self._command("group", title)
        else:
            self.step(title)
        try:
            yield
        finally:
            if self.github_actions:
                self._command("endgroup")

    def untrusted(self, text: str) -> None:
        """Print text of several lines from outside (a commit message, a pull request body): line by line, each
        inert."""
        for line in self.redact(text).splitlines() or [""]:
            self._emit(f"  {self.clean(line)}")

    def document(self, text: str) -> None:
        """A document for the reader or a pipe (YAML, a configuration): in Actions every line is made inert; in a
        terminal or a pipe it is written as it is, with the secrets scrubbed."""
        if self.github_actions:
            for line in self.redact(text).splitlines():
                self._emit(line, self.out)
        else:
            self.out.write(self.redact(text).encode("utf-8", "backslashreplace").decode("utf-8"))
            self.out.flush()

    # -- results -------------------------------------------------------------------------------------
    def set_output(self, name: str, value: str) -> None:
        if self.output_path is None:
            return
        value = self.redact(value)
        delimiter = f"ghadelimiter_{os.urandom(16).hex()}"
        while delimiter in value:
            delimiter = f"ghadelimiter_{os.urandom(16).hex()}"
        with self.output_path.open("a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")

    def add_summary(self, markdown: str) -> None:
        self._summary_parts.append(markdown)

    def _flush_summary(self) -> None:
        if self.summary_path is None or not self._summary_parts:
            return
        with self.summary_path.open("a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(self.redact("\n".join(self._summary_parts)) + "\n")
        self._summary_parts.clear()

    def _cleaned(self, outcome: Outcome) -> Outcome:
        """The outcome as it may be shown: reasons, rows and title inert and scrubbed; outputs scrubbed."""
        return replace(
            outcome,
            reasons=[self.clean(r) for r in outcome.reasons],
            rows=[Row(self.clean(r.check), r.status, self.clean(r.reason)) for r in outcome.rows],
            title=self.clean(outcome.title),
            outputs={name: self.redact(value) for name, value in outcome.outputs.items()},
        )

    def _text_table(self, rows: Sequence[Row]) -> list[str]:
        width = max([len("check"), *(len(r.check) for r in rows)])
        lines = [f"  {'check'.ljust(width)}  result  reason"]
        for r in rows:
            lines.append(f"  {r.check.ljust(width)}  {r.status.value.upper().ljust(6)}  {r.reason}")
        return lines

    def outcome_markdown(self, outcome: Outcome) -> str:
        title = outcome.title or f"hotfix {outcome.command}"
        parts = [f"## {_VERDICT_ICON[outcome.verdict]} {md_escape(self.redact(title))}: {outcome.verdict.value}\n"]
        if outcome.rows:
            parts.append(
                md_table(
                    ["Check", "Result", "Reason"],
                    [
                        [
                            md_escape(self.redact(r.check)),
                            f"{_ICON[r.status]} {r.status.value}",
                            md_escape(self.redact(r.reason)),
                        ]
                        for r in outcome.rows
                    ],
                )
            )
        if outcome.reasons and not outcome.rows:
            parts.append("\n".join(f"- {md_escape(self.redact(r))}" for r in outcome.reasons) + "\n")
        if outcome.markdown:
            parts.append(outcome.markdown)
        return "\n".join(parts)

    def finish(self, outcome: Outcome) -> ExitCode:
        """Write outputs, the step summary, the final table (or the JSON object); return the exit code.

        The reasons are the same inert, scrubbed text everywhere: log, summary, outputs and JSON."""
        outcome = self._cleaned(outcome)
        for name, value in outcome.outputs.items():
            self.set_output(name, value)
        self.set_output("verdict", outcome.verdict.value)
        self.set_output("reasons", json.dumps(list(outcome.reasons)))
        self.add_summary(self.outcome_markdown(outcome))
        self._flush_summary()
        if self.json_mode:
            self._write(json_line(outcome.as_json()), self.out)
            return outcome.code
        for line in self._text_table(outcome.rows) if outcome.rows else ():
            self._emit(line)
        for reason in outcome.reasons if not outcome.rows else ():
            self._emit(f"  - {reason}")
        self._emit(f"{_VERDICT_ICON[outcome.verdict]} {outcome.title or outcome.command}: {outcome.verdict.value}")
        if self.github_actions and outcome.verdict is not Verdict.PASS:
            self.annotate("error", f"{outcome.command}: {outcome.verdict.value}: " + "; ".join(outcome.reasons))
        return outcome.code

    def fail(self, command: str, exc: HotfixError) -> ExitCode:
        """Report an error caught at the boundary: a clear message, the fix, the exit code."""
        verdict = Verdict.FAIL if exc.exit_code == ExitCode.REJECTED else Verdict.ERROR
        message = self.clean(str(exc))
        outcome = Outcome(
            command=command,
            verdict=verdict,
            reasons=[message],
            exit_code=exc.exit_code,
            title=f"hotfix {command}",
        )
        if not self.json_mode:
            self.annotate("error", message)
        self.add_summary(self.outcome_markdown(outcome))
        self._flush_summary()
        self.set_output("verdict", verdict.value)
        self.set_output("reasons", json.dumps([message]))
        if self.json_mode:
            self._write(json_line(outcome.as_json()), self.out)
        return exc.exit_code
