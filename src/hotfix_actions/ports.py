"""One typing.Protocol per external system. Services talk to these; adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Commit",
    "Deployments",
    "Event",
    "FileChange",
    "Git",
    "GitHub",
    "Notifier",
    "NullDeployments",
    "NullGitHub",
    "NullNotifier",
    "TagRef",
]


@dataclass(frozen=True)
class FileChange:
    path: str
    added: int
    deleted: int
    binary: bool = False


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    trailers: tuple[tuple[str, str], ...] = ()
    parents: int = 1


@dataclass(frozen=True)
class TagRef:
    name: str
    sha: str  # the peeled commit


class Git(Protocol):
    """A git repository, driven with argv lists; every ref was checked before it gets here."""

    def resolve(self, ref: str) -> str | None: ...
    def current_branch(self) -> str | None: ...
    def is_shallow(self) -> bool: ...
    def has_remote(self, remote: str) -> bool: ...
    def fetch(
        self,
        remote: str,
        refspecs: Sequence[str],
        *,
        depth: int | None = None,
        deepen: int | None = None,
        unshallow: bool = False,
    ) -> None: ...
    def is_ancestor(self, ancestor: str, descendant: str) -> bool | None: ...
    def count_commits(self, base: str, head: str) -> int: ...
    def tags(self, prefix: str, *, merged_into: str | None = None) -> list[TagRef]: ...
    def remote_tags(self, remote: str, prefix: str) -> list[TagRef]: ...
    def diff_numstat(self, base: str, head: str) -> list[FileChange]: ...
    def commits(self, base: str, head: str, trailer_keys: Sequence[str]) -> list[Commit]: ...
    def show_file(self, rev: str, path: str) -> str | None: ...
    def is_clean(self) -> bool: ...
    def create_branch(self, name: str, start: str) -> None: ...
    def write_and_commit(self, files: dict[str, str], message: str) -> str: ...
    def push(self, remote: str, refspec: str) -> None: ...


class GitHub(Protocol):
    """The GitHub REST API for one repository (PyGithub inside the adapter)."""

    def compare_status(self, base: str, head: str) -> str:
        """GitHub's compare status of head against base: ahead, behind, diverged or identical."""
        ...


class NullGitHub:
    """No token: every call says it cannot help, so callers fall back to git."""

    def compare_status(self, base: str, head: str) -> str:
        from hotfix_actions.errors import GitHubError

        raise GitHubError("no GitHub token", fix="pass github-token (GITHUB_TOKEN) to use the GitHub API")


@dataclass(frozen=True)
class Event:
    """Something the team must hear about. One per event, never one per interval."""

    kind: str  # started | canary | promoted | rolled_back | failed | merged_back | ...
    title: str
    version: str = ""
    verdict: str = ""
    reasons: tuple[str, ...] = ()
    actor: str = ""
    run_url: str = ""
    environment: str = ""
    fields: tuple[tuple[str, str], ...] = ()


class Notifier(Protocol):
    """Slack, a generic webhook, Teams... A failed notification is a warning: ``notify`` never raises."""

    def notify(self, event: Event) -> str | None:
        """Send; return a warning text when it could not be delivered, else None."""
        ...


class NullNotifier:
    """No webhook configured: nothing to send, nothing to ask."""

    def notify(self, event: Event) -> str | None:
        return None


class Deployments(Protocol):
    """GitHub Deployments for one repository: where GitHub users look for what runs where."""

    def start(self, environment: str, ref: str, payload: dict[str, str], description: str) -> int | None: ...
    def finish(self, deployment_id: int | None, state: str, description: str, log_url: str = "") -> None: ...
    def last_successful(self, environment: str) -> dict[str, str] | None: ...


class NullDeployments:
    """No token: deployments are not recorded."""

    def start(self, environment: str, ref: str, payload: dict[str, str], description: str) -> int | None:
        return None

    def finish(self, deployment_id: int | None, state: str, description: str, log_url: str = "") -> None:
        return None

    def last_successful(self, environment: str) -> dict[str, str] | None:
        return None
