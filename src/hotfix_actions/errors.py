"""The HotfixError tree. Adapters wrap SDK errors in these (with ``from``); only the CLI catches them.

Exit codes live here: 0 pass, 1 rejected, 2 usage or config error, 3 could not evaluate.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ClusterError",
    "ConfigError",
    "ConflictError",
    "DatabaseError",
    "ExitCode",
    "GitError",
    "GitHubError",
    "HotfixError",
    "InfraError",
    "LockHeldError",
    "MetricsError",
    "NotFoundError",
    "RejectedError",
    "UsageError",
]


class ExitCode(IntEnum):
    OK = 0
    REJECTED = 1
    USAGE = 2
    UNAVAILABLE = 3


class HotfixError(Exception):
    """Base error: a message for a person under stress, and optionally the fix."""

    exit_code: ExitCode = ExitCode.UNAVAILABLE

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} (fix: {self.fix})" if self.fix else self.message


class UsageError(HotfixError):
    """Bad input: an option, an argument, a name that fails its allowlist."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, input_name: str | None = None, fix: str | None = None) -> None:
        super().__init__(f"{input_name}: {message}" if input_name else message, fix=fix)
        self.input_name = input_name


class ConfigError(UsageError):
    """A .hotfix.yml that cannot be used: names the file, the line, the key and the fix."""

    def __init__(
        self, message: str, *, file: str, line: int | None = None, key: str | None = None, fix: str | None = None
    ) -> None:
        where = file if line is None else f"{file}:{line}"
        keypart = f"key '{key}': " if key else ""
        super().__init__(f"{where}: {keypart}{message}", fix=fix)
        self.file = file
        self.line = line
        self.key = key


class RejectedError(HotfixError):
    """A gate or check said no."""

    exit_code = ExitCode.REJECTED


class InfraError(HotfixError):
    """Could not evaluate: an external system failed or gave no usable answer."""

    exit_code = ExitCode.UNAVAILABLE


class GitError(InfraError):
    pass


class GitHubError(InfraError):
    pass


class ClusterError(InfraError):
    pass


class NotFoundError(ClusterError):
    """A named object does not exist: the input names something that is not there."""

    exit_code = ExitCode.USAGE


class ConflictError(ClusterError):
    """A write lost a race (HTTP 409); re-read and decide again."""


class LockHeldError(ClusterError):
    pass


class MetricsError(InfraError):
    pass


class DatabaseError(InfraError):
    pass
