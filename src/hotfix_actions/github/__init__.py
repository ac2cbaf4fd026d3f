"""The GitHub adapter: PyGithub, imported here only, pointed at ``base_url`` (GitHub, GHES or the test emulator)."""

from __future__ import annotations

from typing import Any

from hotfix_actions.errors import GitHubError, UsageError

__all__ = ["GitHubRepo"]


class GitHubRepo:
    """One repository through the REST API. Errors become GitHubError with the status and the fix."""

    def __init__(
        self,
        *,
        token: str,
        repository: str,
        base_url: str = "https://api.github.com",
        timeout: float = 20.0,
        retries: int = 3,
    ) -> None:
        if repository.count("/") != 1 or not all(repository.split("/")):
            raise UsageError(
                f"{repository!r} is not owner/name",
                input_name="github-repository",
                fix="pass the repository as owner/name",
            )
        from github import Auth, Github
        from github.GithubRetry import GithubRetry

        self._gh = Github(
            auth=Auth.Token(token),
            base_url=base_url.rstrip("/"),
            timeout=int(timeout),
            retry=GithubRetry(total=retries, backoff_factor=0.5),
            per_page=100,
        )
        self.repository = repository
        self._repo: Any = None

    def _wrap(self, what: str, exc: Exception) -> GitHubError:
        status = getattr(exc, "status", None)
        fixes = {
            401: "the token is invalid or expired; pass a valid GITHUB_TOKEN",
            403: "the token lacks a permission, or a rate limit was hit; check the job's permissions",
            404: "check the repository name and that the token can see it",
        }
        return GitHubError(
            f"GitHub API {what} failed" + (f" (HTTP {status})" if status else f": {exc}"), fix=fixes.get(status or 0)
        )

    @property
    def repo(self) -> Any:
        if self._repo is None:
            from github import GithubException

            try:
                self._repo = self._gh.get_repo(self.repository, lazy=True)
            except GithubException as exc:
                raise self._wrap("get repository", exc) from exc
        return self._repo

    def compare_status(self, base: str, head: str) -> str:
        from github import GithubException

        try:
            return str(self.repo.compare(base, head).status)
        except (GithubException, OSError) as exc:
            raise self._wrap("compare", exc) from exc
