"""The emulator's state: repositories with their issues, pull requests, labels, releases and deployments.

Objects are kept as the JSON GitHub returns, built here with the fields clients read (PyGithub, Octokit).
"""

from __future__ import annotations

import base64
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hotfix_actions.testing.github_emulator.gitstore import BareGit

__all__ = ["EmulatorState", "RepoState", "now_iso"]

_ids = itertools.count(1000)


def next_id() -> int:
    return next(_ids)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def node_id(kind: str, number: int) -> str:
    return f"{kind}_" + base64.b64encode(f"{kind}:{number}".encode()).decode().rstrip("=")


@dataclass
class RepoState:
    owner: str
    name: str
    api: str  # http://host:port/api/v3
    web: str  # http://host:port
    git: BareGit | None = None
    default_branch: str = "main"
    id: int = field(default_factory=next_id)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # issues and pull requests share numbers
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower-case name -> label
    releases: dict[int, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    auto_merge: dict[int, dict[str, Any]] = field(default_factory=dict)  # pull number -> request
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def url(self) -> str:
        return f"{self.api}/repos/{self.full_name}"

    @property
    def html_url(self) -> str:
        return f"{self.web}/{self.full_name}"

    def next_number(self) -> int:
        return next(self._numbers)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node_id": node_id("R", self.id),
            "name": self.name,
            "full_name": self.full_name,
            "owner": user(self.owner, self.api, self.web),
            "private": True,
            "html_url": self.html_url,
            "url": self.url,
            "clone_url": f"{self.web}/{self.full_name}.git",
            "default_branch": self.default_branch,
            "visibility": "private",
            "permissions": {"admin": False, "maintain": False, "push": True, "triage": True, "pull": True},
            "allow_auto_merge": True,
            "archived": False,
            "fork": False,
        }

    # -- builders ------------------------------------------------------------------------------------
    def label(self, name: str, color: str = "ededed", description: str | None = None) -> dict[str, Any]:
        key = name.lower()
        if key not in self.labels:
            lid = next_id()
            self.labels[key] = {
                "id": lid,
                "node_id": node_id("LA", lid),
                "url": f"{self.url}/labels/{name}",
                "name": name,
                "color": color,
                "default": False,
                "description": description,
            }
        return self.labels[key]

    def new_issue(self, title: str, body: str | None, labels: list[str], actor: str) -> dict[str, Any]:
        number = self.next_number()
        iid = next_id()
        issue = {
            "id": iid,
            "node_id": node_id("I", iid),
            "number": number,
            "url": f"{self.url}/issues/{number}",
            "html_url": f"{self.html_url}/issues/{number}",
            "comments_url": f"{self.url}/issues/{number}/comments",
            "labels_url": f"{self.url}/issues/{number}/labels{{/name}}",
            "repository_url": self.url,
            "title": title,
            "body": body,
            "state": "open",
            "state_reason": None,
            "locked": False,
            "user": user(actor, self.api, self.web),
            "labels": [self.label(n) for n in labels],
            "assignees": [],
            "assignee": None,
            "milestone": None,
            "comments": 0,
            "created_at": now_iso(),
            "updated_at": now_iso(),
            "closed_at": None,
            "author_association": "MEMBER",
        }
        self.issues[number] = issue
        self.comments[number] = []
        return issue

    def branch_ref(self, branch: str, sha: str | None) -> dict[str, Any]:
        return {
            "label": f"{self.owner}:{branch}",
            "ref": branch,
            "sha": sha or "",
            "user": user(self.owner, self.api, self.web),
            "repo": self.as_json(),
        }


def user(login: str, api: str, web: str) -> dict[str, Any]:
    uid = abs(hash(login)) % 10_000_000
    return {
        "login": login,
        "id": uid,
        "node_id": node_id("U", uid),
        "type": "Bot" if login.endswith("[bot]") else "User",
        "url": f"{api}/users/{login}",
        "html_url": f"{web}/{login}",
        "avatar_url": f"{web}/avatars/{login}",
        "site_admin": False,
    }


@dataclass
class EmulatorState:
    """Every repository, behind one lock: handlers run on server threads."""

    api: str = ""
    web: str = ""
    repos: dict[str, RepoState] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def add_repo(self, full_name: str, git: BareGit | None = None, default_branch: str = "main") -> RepoState:
        owner, _, name = full_name.partition("/")
        with self.lock:
            repo = RepoState(owner, name, self.api, self.web, git=git, default_branch=default_branch)
            self.repos[full_name.lower()] = repo
            return repo

    def repo(self, owner: str, name: str) -> RepoState | None:
        return self.repos.get(f"{owner}/{name}".lower())
