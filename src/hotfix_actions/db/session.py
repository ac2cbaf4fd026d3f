"""A psql process kept open on one database: statements go in on stdin, rows and messages come back on one stream.

Each request ends with ``\\echo <nonce> <label> :ERROR``, so the reader knows where the answer ends and whether it
failed, without parsing SQL. stderr is merged into stdout, so an error message always arrives before the marker that
follows it. ``VERBOSITY terse`` keeps each message on one line.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from hotfix_actions.errors import DatabaseError

__all__ = ["Answer", "PsqlSession", "SessionEnded"]

_MESSAGE = re.compile(r"^(?:psql:<stdin>:\d+: )?(ERROR|FATAL|PANIC|WARNING|NOTICE|INFO|DETAIL|HINT|CONTEXT):\s+(.*)$")
_CLIENT_ERROR = re.compile(
    r"^psql: (?:error: )?(.*)$|^(server closed the connection unexpectedly|connection to server)"
)
_MAX_ROWS = 10_000


class SessionEnded(DatabaseError):
    """The psql process (or its server session) ended before the answer came."""


@dataclass
class Answer:
    label: str
    error: bool
    rows: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def error_text(self) -> str:
        errors = [m for m in self.messages if m.startswith(("ERROR", "FATAL", "PANIC", "psql"))]
        return " | ".join(errors or self.messages) or "failed without a message"


class PsqlSession:
    """One long-lived psql on one database. ``scrub`` removes secrets from every message we keep."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        name: str,
        stop_on_error: bool = False,
        scrub: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.name = name
        self._scrub = scrub
        self._nonce = f"@@hotfix-{secrets.token_hex(8)}"
        self._seq = 0
        self._answers: dict[str, Answer] = {}
        self._rows: list[str] = []
        self._messages: list[str] = []
        self._cond = threading.Condition()
        self._ended = False
        self.all_messages: list[str] = []
        args = [*argv, "--no-psqlrc", "--quiet", "--no-align", "--tuples-only", "--no-password", "--file=-"]
        args.append(f"--set=ON_ERROR_STOP={1 if stop_on_error else 0}")
        try:
            self.proc = subprocess.Popen(
                args,
                env=dict(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as exc:
            raise DatabaseError(f"psql could not start: {exc.strerror}") from None
        self._reader = threading.Thread(target=self._read, name=f"psql-{name}", daemon=True)
        self._reader.start()
        self.pid = 0
        try:
            self.send("\\set VERBOSITY terse\nSET standard_conforming_strings = on;\n")
            rows = self.execute("SELECT pg_backend_pid();", timeout=60)
            self.pid = int(rows[0])
        except (DatabaseError, ValueError, IndexError) as exc:
            self.kill()
            detail = exc.message if isinstance(exc, DatabaseError) else "no backend pid"
            raise DatabaseError(f"could not open the {name} session: {detail}") from None

    # -- reading -------------------------------------------------------------------------------------
    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if line.startswith(self._nonce + " "):
                _, label, error = [*line.split(" ", 2), "", ""][:3]
                with self._cond:
                    self._answers[label] = Answer(label, error.strip() == "true", self._rows, self._messages)
                    self._rows, self._messages = [], []
                    self._cond.notify_all()
                continue
            m = _MESSAGE.match(line)
            c = None if m else _CLIENT_ERROR.match(line)
            with self._cond:
                if m or c:
                    text = self._scrub(f"{m.group(1)}: {m.group(2)}" if m else f"psql: {line.removeprefix('psql: ')}")
                    self._messages.append(text)
                    self.all_messages.append(text)
                    del self.all_messages[:-200]
                elif len(self._rows) < _MAX_ROWS:
                    self._rows.append(line)
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    # -- writing -------------------------------------------------------------------------------------
    def send(self, text: str | bytes) -> None:
        """Write to psql's stdin as is (a statement, a meta-command, or a piece of a script)."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        stdin = self.proc.stdin
        if stdin is None or stdin.closed:
            raise SessionEnded(f"the {self.name} session's input is closed")
        try:
            stdin.write(data)
            stdin.flush()
        except (BrokenPipeError, ValueError, OSError):
            raise SessionEnded(f"the {self.name} session ended: {self.last_error()}") from None

    def mark(self, label: str | None = None) -> str:
        """Ask psql to echo a marker once everything sent so far has run; returns its label."""
        if label is None:
            self._seq += 1
            label = f"q{self._seq}"
        self.send(f"\\echo {self._nonce} {label} :ERROR\n")
        return label

    def wait(self, label: str, timeout: float | None) -> Answer | None:
        """The answer up to marker ``label``; None on timeout; SessionEnded when psql ended first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while label not in self._answers:
                if self._ended:
                    raise SessionEnded(f"the {self.name} session ended: {self.last_error()}")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(0.5 if remaining is None else min(remaining, 0.5))
            return self._answers.pop(label)

    def execute(self, sql: str, *, timeout: float = 120.0) -> list[str]:
        """Run ``sql`` (one or more statements); the rows it printed; DatabaseError on an error or a timeout."""
        self.send(sql if sql.endswith("\n") else sql + "\n")
        label = self.mark()
        answer = self.wait(label, timeout)
        if answer is None:
            raise DatabaseError(f"the {self.name} session did not answer within {timeout:.0f}s")
        # ERROR reflects the last statement only (a failed statement followed by COMMIT reads as success)
        if answer.error or any(m.startswith(("ERROR", "FATAL", "PANIC", "psql")) for m in answer.messages):
            raise DatabaseError(answer.error_text[:600])
        return answer.rows

    # -- state ---------------------------------------------------------------------------------------
    def last_error(self) -> str:
        errors = [m for m in self.all_messages if not m.startswith(("WARNING", "NOTICE", "INFO"))]
        return " | ".join(errors[-3:]) if errors else "no message"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, timeout: float = 10.0) -> None:
        """End the session: close its input (psql quits, the server ends the session), kill it if it hangs."""
        try:
            if self.proc.stdin and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._reader.join(2)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # a process that survives SIGKILL
            self.proc.wait(10)
        try:
            if self.proc.stdin and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass
        self._reader.join(2)
