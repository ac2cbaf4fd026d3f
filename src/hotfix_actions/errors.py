"""The HotfixError tree. Adapters wrap SDK errors in these (with ``from``); only the CLI catches them.

Exit codes live here: 0 pass, 1 rejected, 2 usage or config error, 3 could not evaluate (for the cluster
commands: cluster unreachable or not answering). The cluster commands that write (rollback, promote, monitor) add
4 locked (another run holds the Deployment's Lease), 5 superseded (another writer changed the Deployment after our
write; nothing of ours is claimed), and the shell's 128+N for a signal: 130 after SIGINT, 143 after SIGTERM.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ClusterError",
    "ConfigError",
    "ConflictError",
    "DatabaseError",
    "ExitCode",
    "ForbiddenError",
    "GitError",
    "GitHubError",
    "HotfixError",
    "InfraError",
    "Interrupted",
    "LockHeldError",
    "MetricsError",
    "NotFoundError",
    "RejectedError",
    "UnreachableError",
    "UsageError",
]


class ExitCode(IntEnum):
    OK = 0
    REJECTED = 1
    USAGE = 2
    UNAVAILABLE = 3
    LOCKED = 4  # another run holds the Lease of the Deployment (or Service)
    SUPERSEDED = 5  # another writer changed the Deployment after our write: our target is no longer what rolls out
    SIGINT = 130  # 128 + 2, as a shell reports it
    SIGTERM = 143  # 128 + 15


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


class ForbiddenError(ClusterError):
    """The API server refused the kubeconfig's identity (401) or a permission it lacks (403 from RBAC): a
    configuration problem with a named fix, "forbidden: needs <verb> <resource>"."""

    exit_code = ExitCode.USAGE


class UnreachableError(ClusterError):
    """The API server did not answer (refused, reset, or no answer) for the whole cluster deadline."""


class LockHeldError(ClusterError):
    """Another run holds the Lease: "locked by <holder> since <time>, renewed <n> s ago"."""

    exit_code = ExitCode.LOCKED


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: stop waiting, clean up, say what state things were left in.

    A BaseException, like KeyboardInterrupt, so no ``except Exception`` on the way (a notifier, a retry loop) can
    swallow it; the cluster commands turn it into an outcome with ``exit_code``.
    """

    def __init__(self, signal_name: str, code: ExitCode) -> None:
        super().__init__(f"interrupted by {signal_name}")
        self.signal_name = signal_name
        self.exit_code = code


class MetricsError(InfraError):
    pass


class DatabaseError(InfraError):
    pass
