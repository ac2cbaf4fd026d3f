"""One repository through the REST API: compare, pull requests, labels, releases and issues."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hotfix_actions.errors import UsageError
from hotfix_actions.github._client import ClientOptions, is_status, make_client, wrap
from hotfix_actions.ports import IssueRef, PullRequestRef, ReleaseRef

__all__ = ["GitHubRepo", "sdk_errors"]

T = TypeVar("T")


def sdk_errors() -> tuple[type[BaseException], ...]:
    from github import GithubException

    from hotfix_actions.github._client import _NotRepeated

    return (GithubException, OSError, _NotRepeated)


def check_repository(repository: str) -> None:
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name or not all(c.isalnum() or c in "-_." for c in owner + name):
        raise UsageError(
            f"{repository[:100]!r} is not owner/name",
            input_name="github-repository",
            fix="pass the repository as owner/name (GITHUB_REPOSITORY)",
        )


class GitHubRepo:
    """Implements ports.GitHub and ports.GitHubRepoApi. Errors become GitHubError with the status and the fix."""

    def __init__(
        self,
        *,
        token: str,
        repository: str,
        base_url: str = "https://api.github.com",
        timeout: float = 20.0,
        retries: int = 3,
        options: ClientOptions | None = None,
    ) -> None:
        check_repository(repository)
        self.options = options or ClientOptions(base_url=base_url, timeout=timeout, retries=retries)
        self._gh = make_client(token, self.options)
        self.repository = repository
        self.owner = repository.split("/", maxsplit=1)[0]
        self._repo: Any = None

    @property
    def repo(self) -> Any:
        if self._repo is None:
            self._repo = self._gh.get_repo(self.repository)  # lazy: no request until a field is read
        return self._repo

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except sdk_errors() as exc:
            raise wrap(what, exc, self.options) from exc

    def compare_status(self, base: str, head: str) -> str:
        return self._call("compare", lambda: str(self.repo.compare(base, head).status))

    # -- pull requests -------------------------------------------------------------------------------
    def _open_pull(self, head: str, base: str) -> Any:
        for pr in self.repo.get_pulls(state="open", head=f"{self.owner}:{head}", base=base):
            return pr
        return None

    def open_or_update_pull(
        self, head: str, base: str, title: str, body: str, labels: Sequence[str]
    ) -> PullRequestRef | None:
        from github import GithubException

        def run() -> PullRequestRef:
            pr, created = self._open_pull(head, base), False
            if pr is None:
                try:
                    pr = self.repo.create_pull(base=base, head=head, title=title, body=body, maintainer_can_modify=True)
                    created = True
                except GithubException as exc:
                    if not is_status(exc, 422) or (pr := self._open_pull(head, base)) is None:
                        raise
            elif pr.body != body or pr.title != title:
                pr.edit(title=title, body=body)
            have = {label.name.lower() for label in pr.labels}
            missing = [name for name in labels if name.lower() not in have]
            if missing:
                self._gh.requester.requestJsonAndCheck(
                    "POST", f"{self.repo.url}/issues/{pr.number}/labels", input={"labels": missing}
                )
            return PullRequestRef(number=int(pr.number), url=str(pr.html_url), created=created)

        return self._call(f"pull request {head} -> {base}", run)

    def enable_auto_merge(self, number: int) -> str | None:
        try:
            self.repo.get_pull(number).enable_automerge(merge_method="MERGE")
        except sdk_errors() as exc:
            return f"auto-merge not enabled on #{number}: {wrap('enable auto-merge', exc, self.options).message}"
        return None

    def ensure_label(self, name: str, color: str, description: str) -> None:
        from github import GithubException

        def run() -> None:
            try:
                self.repo.get_label(name).color  # noqa: B018 - lazy object: reading a field not given fetches it
            except GithubException as exc:
                if not is_status(exc, 404):
                    raise
                try:
                    self.repo.create_label(name=name, color=color, description=description)
                except GithubException as again:
                    if not is_status(again, 422):  # created meanwhile
                        raise

        self._call(f"label {name}", run)

    # -- releases ------------------------------------------------------------------------------------
    def ensure_release(self, tag: str, name: str, body: str) -> ReleaseRef | None:
        from github import GithubException

        def run() -> ReleaseRef:
            try:
                return ReleaseRef(url=str(self.repo.get_release(tag).html_url), created=False)
            except GithubException as exc:
                if not is_status(exc, 404):
                    raise
            release = self.repo.create_git_release(tag=tag, name=name, message=body, make_latest="legacy")
            return ReleaseRef(url=str(release.html_url), created=True)

        return self._call(f"release {tag}", run)

    # -- issues --------------------------------------------------------------------------------------
    def find_issue(self, label: str, marker: str) -> IssueRef | None:
        def run() -> IssueRef | None:
            for issue in self.repo.get_issues(state="all", labels=[label], sort="created", direction="asc"):
                if issue.pull_request is None and marker in (issue.body or ""):
                    comments = tuple(c.body or "" for c in issue.get_comments())
                    return IssueRef(int(issue.number), str(issue.html_url), False, (issue.body or "", *comments))
            return None

        return self._call("find issue", run)

    def create_issue(self, title: str, body: str, labels: Sequence[str]) -> IssueRef | None:
        def run() -> IssueRef:
            issue = self.repo.create_issue(title=title, body=body, labels=list(labels))
            return IssueRef(int(issue.number), str(issue.html_url), True, (body,))

        return self._call("create issue", run)

    def comment(self, number: int, body: str) -> str | None:
        return self._call(
            f"comment on #{number}", lambda: str(self.repo.get_issue(number).create_comment(body).html_url)
        )
