"""Building the PyGithub client (retries, rate limits, timeouts) and translating its errors into GitHubError.

Bounded backoff: 5xx and rate-limit answers (403 or 429 with Retry-After, or a secondary rate limit message) are
retried at most ``retries`` times; a Retry-After above ``max_wait`` seconds is not waited for at all. A POST that got
a 5xx is not repeated (it may have been applied); callers make their writes idempotent by reading first.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotfix_actions.decide.names import url_problem
from hotfix_actions.errors import GitHubError, UsageError
from hotfix_actions.guard import clip

__all__ = ["ClientOptions", "make_client", "wrap"]

_SECONDARY = ("secondary rate limit", "please wait a few minutes", "please retry your request again later")


@dataclass(frozen=True)
class ClientOptions:
    base_url: str = "https://api.github.com"
    timeout: float = 20.0
    retries: int = 3
    backoff: float = 0.5
    max_wait: float = 120.0  # most seconds to wait for one rate-limit reset
    secondary_wait: float = 60.0  # GitHub asks for at least a minute when it names no Retry-After
    write_interval: float = 1.0  # GitHub's advice: one write a second, to stay clear of secondary limits
    on_retry: Callable[[str], None] | None = None

    def __post_init__(self) -> None:
        # The token goes to base_url: however the options are built, the one URL allowlist applies.
        if problem := url_problem(self.base_url):
            raise UsageError(f"{self.base_url[:100]!r} {problem}", input_name="github-api-url (GITHUB_API_URL)")


def make_client(token: str, options: ClientOptions) -> Any:
    from github import Auth, Github
    from github.GithubException import RateLimitExceededExceedsMaxWait
    from github.GithubRetry import GithubRetry

    logging.getLogger("github").setLevel(logging.WARNING)  # retries are reported through on_retry instead

    class BoundedRetry(GithubRetry):
        def increment(
            self,
            method: str | None = None,
            url: str | None = None,
            response: Any = None,
            error: Exception | None = None,
            _pool: Any = None,
            _stacktrace: Any = None,
        ) -> Any:
            if response is not None:
                retry_after = response.headers.get("Retry-After")
                if retry_after is not None and retry_after.isdigit() and float(retry_after) > options.max_wait:
                    raise RateLimitExceededExceedsMaxWait(
                        response.status,
                        {"message": f"Retry-After {retry_after}s exceeds the {options.max_wait:.0f}s budget"},
                        dict(response.headers),
                        wait=float(retry_after),
                    )
                if method == "POST" and response.status >= 500:
                    raise _NotRepeated(response.status)
            made = super().increment(method, url, response, error, _pool, _stacktrace)
            if options.on_retry is not None and response is not None:
                wait = response.headers.get("Retry-After") or f"{made.get_backoff_time():.1f}"
                attempt = f"{len(made.history)} of {options.retries}"
                options.on_retry(f"GitHub answered HTTP {response.status}; retrying in {wait}s ({attempt})")
            return made

    retry = BoundedRetry(
        total=options.retries,
        backoff_factor=options.backoff,
        status_forcelist=[429, 500, 502, 503, 504],
        secondary_rate_wait=options.secondary_wait,
        max_rate_limit_wait=options.max_wait,
    )
    return Github(
        auth=Auth.Token(token),
        base_url=options.base_url.rstrip("/"),
        timeout=max(1, int(options.timeout)),
        retry=retry,
        per_page=100,
        seconds_between_requests=None,
        seconds_between_writes=options.write_interval or None,
        lazy=True,
    )


class _NotRepeated(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status", None)
    if isinstance(status, int):
        return status
    text = str(exc)
    for code in (401, 403, 429, 500, 502, 503, 504):
        if f"too many {code} error responses" in text:
            return code
    cause = exc.__cause__ or exc.__context__
    return _status_of(cause) if cause is not None and cause is not exc else None


def _message_of(exc: BaseException) -> str:
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        errors = data.get("errors")
        detail = ""
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            detail = f": {errors[0].get('message') or errors[0].get('code')}"
        return clip(str(data["message"]), 200) + clip(detail, 200)  # secrets scrubbed before the cut
    return ""


def is_status(exc: BaseException, *codes: int) -> bool:
    return _status_of(exc) in codes


def wrap(what: str, exc: BaseException, options: ClientOptions) -> GitHubError:
    """A GitHubError that says what failed, why, and what to do; never the token, never a raw traceback."""
    status = _status_of(exc)
    message = _message_of(exc)
    lowered = (message or str(exc)).lower()
    if status == 401:
        return GitHubError(
            f"GitHub API {what}: the token was rejected (HTTP 401 {message or 'Bad credentials'})",
            fix="pass a valid token (GITHUB_TOKEN or a GitHub App token); it may have expired",
        )
    # A 403 that was retried until the budget ran out was a rate limit: GithubRetry retries no other 403.
    retried = "too many 403 error responses" in str(exc) or "too many 429 error responses" in str(exc)
    if status in (403, 429) and (
        status == 429 or retried or any(s in lowered for s in _SECONDARY) or "rate limit" in lowered
    ):
        return GitHubError(
            f"GitHub API {what}: rate limited (HTTP {status}) after {options.retries} retries"
            + (f": {message}" if "budget" in lowered else ""),
            fix="wait a few minutes and run the step again; every step is safe to repeat",
        )
    if status == 403:
        return GitHubError(
            f"GitHub API {what}: forbidden (HTTP 403 {message or ''})".rstrip(),
            fix="grant the job the permission it needs (contents, pull-requests, issues or deployments: write)",
        )
    if status == 404:
        return GitHubError(
            f"GitHub API {what}: not found (HTTP 404)", fix="check the repository name and that the token can see it"
        )
    if status is not None and status >= 500:
        return GitHubError(
            f"GitHub API {what}: GitHub failed (HTTP {status})"
            + (
                " and the write was not repeated"
                if isinstance(exc, _NotRepeated)
                else f" after {options.retries} retries"
            ),
            fix="GitHub may be degraded (githubstatus.com); run the step again later, it is safe to repeat",
        )
    if status is not None:
        return GitHubError(f"GitHub API {what}: HTTP {status} {message}".rstrip())
    return GitHubError(
        f"GitHub API {what}: cannot reach {options.base_url} ({type(exc).__name__})",
        fix="check the network and github-api-url (GITHUB_API_URL)",
    )
