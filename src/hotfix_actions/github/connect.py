"""Wiring for the command layer: a GitHub client or its null twin, and git over https with the token in a header.

The token never goes into a URL, an argv list or a log line: git gets it through ``GIT_CONFIG_*`` environment
entries (``http.<server>/.extraheader: AUTHORIZATION: basic ...``), which is how actions/checkout passes it too.
An empty entry first clears any header a checkout with persisted credentials left behind (two would be refused).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping

from hotfix_actions.decide.names import url_problem
from hotfix_actions.errors import UsageError
from hotfix_actions.github._client import ClientOptions
from hotfix_actions.ports import Deployments, GitHubRepoApi, NullDeployments, NullGitHubRepoApi

__all__ = ["connect", "deployments", "git_auth_env", "options"]


def options(
    api_url: str, *, write_interval: float = 1.0, on_retry: Callable[[str], None] | None = None
) -> ClientOptions:
    if problem := url_problem(api_url):
        raise UsageError(f"{api_url[:100]!r} {problem}", input_name="github-api-url")
    return ClientOptions(base_url=api_url, write_interval=write_interval, on_retry=on_retry)


def connect(token: str | None, repository: str | None, client: ClientOptions) -> GitHubRepoApi:
    """GitHubRepo when there is a token and a repository, else NullGitHubRepoApi (nothing is written)."""
    if not token or not repository:
        return NullGitHubRepoApi()
    from hotfix_actions.github.repo import GitHubRepo

    return GitHubRepo(token=token, repository=repository, options=client)


def git_auth_env(token: str, server_url: str, env: Mapping[str, str]) -> tuple[dict[str, str], str]:
    """``env`` plus the GIT_CONFIG_* entries that send the token to ``server_url``; also the header to mask."""
    if problem := url_problem(server_url):
        raise UsageError(f"{server_url[:100]!r} {problem}", input_name="github-server-url")
    header = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{token}".encode()).decode()
    result = dict(env)
    try:
        count = int(result.get("GIT_CONFIG_COUNT", "0") or 0)
    except ValueError:
        count = 0
    key = f"http.{server_url.rstrip('/')}/.extraheader"
    for value in ("", header):
        result[f"GIT_CONFIG_KEY_{count}"] = key
        result[f"GIT_CONFIG_VALUE_{count}"] = value
        count += 1
    result["GIT_CONFIG_COUNT"] = str(count)
    return result, header


def deployments(token: str | None, repository: str | None, client: ClientOptions, log_url: str = "") -> Deployments:
    """GitHubDeployments when there is a token and a repository, else NullDeployments (nothing is recorded)."""
    if not token or not repository:
        return NullDeployments()
    from hotfix_actions.github.deployments import GitHubDeployments

    return GitHubDeployments(token=token, repository=repository, options=client, log_url=log_url)
