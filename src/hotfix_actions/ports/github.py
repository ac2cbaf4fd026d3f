"""GitHub: the repository API, Deployments, and the notifiers that tell the team."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


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


@dataclass(frozen=True)
class PullRequestRef:
    number: int
    url: str
    created: bool  # False: an open pull request for the same head and base was found and updated


@dataclass(frozen=True)
class ReleaseRef:
    url: str
    created: bool


@dataclass(frozen=True)
class IssueRef:
    number: int
    url: str
    created: bool = False
    texts: tuple[str, ...] = ()  # the body, then every comment: what a rerun compares against


class GitHubRepoApi(GitHub, Protocol):
    """Writes to one repository: pull requests, labels, releases, issues. None means "no GitHub here"."""

    def open_or_update_pull(
        self, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> PullRequestRef | None:
        """The one open pull request from head into base, created or updated (body, labels); never a duplicate."""
        ...

    def enable_auto_merge(self, number: int) -> str | None:
        """Merge (with a merge commit) once checks pass; return a warning when it could not be enabled."""
        ...

    def ensure_release(self, tag: str, name: str, body: str) -> ReleaseRef | None: ...

    def find_issue(self, label: str, marker: str) -> IssueRef | None:
        """The issue (open or closed) carrying ``label`` whose body contains ``marker``, with its comments."""
        ...

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueRef | None: ...

    def comment(self, number: int, body: str) -> str | None: ...

    def ensure_label(self, name: str, color: str, description: str) -> None: ...


class NullGitHubRepoApi(NullGitHub):
    """No token: nothing is written to GitHub; callers report the manual steps instead."""

    def open_or_update_pull(
        self, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> PullRequestRef | None:
        return None

    def enable_auto_merge(self, number: int) -> str | None:
        return "no GitHub token: auto-merge not enabled"

    def ensure_release(self, tag: str, name: str, body: str) -> ReleaseRef | None:
        return None

    def find_issue(self, label: str, marker: str) -> IssueRef | None:
        return None

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueRef | None:
        return None

    def comment(self, number: int, body: str) -> str | None:
        return None

    def ensure_label(self, name: str, color: str, description: str) -> None:
        return None
