"""GitHub Deployments and their statuses: ports.Deployments over PyGithub."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from hotfix_actions.errors import UsageError
from hotfix_actions.github._client import ClientOptions, make_client, wrap
from hotfix_actions.github.repo import check_repository, sdk_errors

__all__ = ["FINISH_STATES", "GitHubDeployments"]

FINISH_STATES = ("success", "failure", "error", "inactive")
T = TypeVar("T")


class GitHubDeployments:
    """One deployment per start (ref = the commit SHA, payload = image and strategy); statuses record the rest.

    ``last_successful`` walks the newest deployments of an environment and returns the payload of the first whose
    latest status is ``success``: a deployment set ``inactive`` after a rollback is skipped.
    """

    def __init__(
        self, *, token: str, repository: str, options: ClientOptions | None = None, log_url: str = "", scan: int = 30
    ) -> None:
        check_repository(repository)
        self.options = options or ClientOptions()
        self._gh = make_client(token, self.options)
        self.repository = repository
        self.log_url = log_url
        self.scan = scan
        self._repo: Any = None

    @property
    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self._gh.get_repo(self.repository)
        return self._repo

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except sdk_errors() as exc:
            raise wrap(what, exc, self.options) from exc

    def start(self, environment: str, ref: str, payload: dict[str, str], description: str) -> int | None:
        def run() -> int:
            deployment = self.repo.create_deployment(
                ref=ref,
                task="deploy",
                auto_merge=False,
                required_contexts=[],
                payload=dict(payload),
                environment=environment,
                description=description[:140],
                transient_environment=False,
                production_environment=environment == "production",
            )
            extra = {"target_url": self.log_url} if self.log_url else {}
            deployment.create_status("in_progress", description=description[:140], **extra)
            return int(deployment.id)

        return self._call(f"create deployment to {environment}", run)

    def finish(self, deployment_id: int | None, state: str, description: str, log_url: str = "") -> None:
        if deployment_id is None:
            return
        if state not in FINISH_STATES:
            raise UsageError(f"{state!r} is not one of {', '.join(FINISH_STATES)}", input_name="--state")
        url = log_url or self.log_url

        def run() -> None:
            deployment = self.repo.get_deployment(deployment_id)
            extra = {"target_url": url} if url else {}
            deployment.create_status(state, description=description[:140], **extra)

        self._call(f"set deployment {deployment_id} {state}", run)

    def latest(self, environment: str, sha: str | None = None) -> int | None:
        """The newest deployment to ``environment`` (of ``sha`` when given): for finishing without an id."""

        def run() -> int | None:
            found = self.repo.get_deployments(sha=sha, environment=environment) if sha else None
            for deployment in found if found is not None else self.repo.get_deployments(environment=environment):
                return int(deployment.id)
            return None

        return self._call(f"list deployments of {environment}", run)

    def last_successful(self, environment: str) -> dict[str, str] | None:
        def run() -> dict[str, str] | None:
            for index, deployment in enumerate(self.repo.get_deployments(environment=environment)):
                if index >= self.scan:
                    return None
                for status in deployment.get_statuses():
                    if status.state != "success":
                        break
                    return _plain(deployment.payload)
            return None

        return self._call(f"last successful deployment of {environment}", run)


def _plain(payload: Any) -> dict[str, str]:
    if isinstance(payload, str):
        try:
            payload = json.loads(payload) if payload else {}
        except ValueError:
            return {}
    if not isinstance(payload, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()}
