"""A local GitHub REST API emulator that checks every request against GitHub's OpenAPI description.

    with GitHubEmulator(tokens={"t0ken"}) as gh:
        gh.add_repo("acme/shop", git_dir=bare_origin)          # refs and compare come from this bare repository
        client = github.Github(auth=Auth.Token("t0ken"), base_url=gh.api_url)
        ...
        assert gh.violations == []

It binds 127.0.0.1 on a free port, keeps state (issues, pull requests, labels, releases, deployments and their
statuses, comments), serves git smart HTTP for the bare repositories (``gh.git_url("acme/shop")``, token in a Basic
``Authorization`` header), records every request (``gh.requests``, ``gh.calls("pulls/create")``) and injects faults
(``gh.inject("secondary_rate_limit", retry_after=1)``). Run it as a process with
``python -m hotfix_actions.testing.github_emulator``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any

from hotfix_actions.testing.github_emulator.faults import KINDS, Fault
from hotfix_actions.testing.github_emulator.gitstore import BareGit
from hotfix_actions.testing.github_emulator.openapi import SPEC_RELATIVE, Spec, find_spec
from hotfix_actions.testing.github_emulator.server import Recorded, Server, serve_forever
from hotfix_actions.testing.github_emulator.state import EmulatorState, RepoState

__all__ = [
    "KINDS",
    "SPEC_RELATIVE",
    "Fault",
    "GitHubEmulator",
    "Recorded",
    "RepoState",
    "Spec",
    "find_spec",
    "load_spec",
]


@cache
def load_spec(path: Path | None = None) -> Spec:
    """The OpenAPI description, parsed once per process. Without a path: the nearest node_modules copy."""
    if path is None:
        path = find_spec(Path.cwd()) or find_spec(Path(__file__).resolve().parent)
    if path is None:
        raise FileNotFoundError(
            f"{SPEC_RELATIVE} not found above {Path.cwd()}; run `npm ci` at the repository root (package.json pins "
            "@octokit/openapi)"
        )
    return Spec.load(path)


class GitHubEmulator:
    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("test-token",),
        spec: Spec | Path | None = None,
        validate: bool = True,
        actor: str = "github-actions[bot]",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if validate:
            spec = spec if isinstance(spec, Spec) else load_spec(spec)
        self.state = EmulatorState()
        self._server = Server(self.state, spec if validate else None, set(tokens), actor)  # type: ignore[arg-type]
        self._host, self._port = host, port
        self._httpd: Any = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.expect_violations = False  # fixtures assert no violations at teardown unless a test sets this

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> GitHubEmulator:
        self._httpd, self._thread = serve_forever(self._server, self._host, self._port)
        self.url = f"http://{self._host}:{self._httpd.server_address[1]}"
        self.state.api, self.state.web = self.api_url, self.url
        for repo in self.state.repos.values():
            repo.api, repo.web = self.api_url, self.url
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> GitHubEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v3"

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/api/graphql"

    def git_url(self, full_name: str) -> str:
        return f"{self.url}/{full_name}.git"

    # -- state -----------------------------------------------------------------------------------------
    def add_repo(self, full_name: str, *, git_dir: str | Path | None = None, default_branch: str = "main") -> RepoState:
        return self.state.add_repo(full_name, BareGit(git_dir) if git_dir else None, default_branch)

    def repo(self, full_name: str) -> RepoState:
        owner, _, name = full_name.partition("/")
        found = self.state.repo(owner, name)
        if found is None:
            raise KeyError(full_name)
        return found

    def add_token(self, token: str) -> None:
        self._server.tokens.add(token)

    # -- faults and records ----------------------------------------------------------------------------
    def inject(self, kind: str, **kwargs: Any) -> Fault:
        fault = Fault(kind, **kwargs)
        with self._server.lock:
            self._server.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._server.lock:
            self._server.faults.clear()

    @property
    def requests(self) -> list[Recorded]:
        with self._server.lock:
            return list(self._server.requests)

    @property
    def violations(self) -> list[str]:
        with self._server.lock:
            return list(self._server.violations)

    def calls(self, operation_id: str | None = None, *, method: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if (operation_id is None or r.operation_id == operation_id) and (method is None or r.method == method)
        ]
