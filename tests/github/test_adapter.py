"""GitHubRepo and GitHubDeployments (PyGithub) against the emulator: idempotent writes and every failure mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotfix_actions.errors import GitHubError, UsageError
from hotfix_actions.github import GitHubDeployments, GitHubRepo
from hotfix_actions.github.connect import connect, deployments, git_auth_env, options
from hotfix_actions.ports import NullDeployments, NullGitHubRepoApi
from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.github_emulator.fixtures import REPOSITORY, TOKEN, fast_options
from tests.gitrepos import hotfix_branch, make_project

DIGEST = "reg.example/shop@sha256:" + "a" * 64


@pytest.fixture
def branch(tmp_path: Path, emulator: GitHubEmulator) -> str:
    origin, work = make_project(tmp_path)
    name = hotfix_branch(work)
    emulator.add_repo(REPOSITORY, git_dir=origin)
    return name


def _repo(gh: GitHubEmulator, messages: list[str] | None = None, **kwargs: float) -> GitHubRepo:
    return GitHubRepo(token=TOKEN, repository=REPOSITORY, options=fast_options(gh, messages, **kwargs))


def test_open_or_update_pull_never_duplicates_and_labels_with_a_conforming_body(
    emulator: GitHubEmulator, branch: str
) -> None:
    repo = _repo(emulator)
    first = repo.open_or_update_pull(branch, "main", "Merge", "body 1", ["hotfix"])
    again = repo.open_or_update_pull(branch, "main", "Merge", "body 2", ["hotfix"])
    assert first is not None and again is not None
    assert (first.created, again.created, first.number) == (True, False, again.number)
    state = emulator.repo(REPOSITORY)
    assert len(state.pulls) == 1
    assert state.issues[first.number]["body"] == "body 2"
    assert [label["name"] for label in state.issues[first.number]["labels"]] == ["hotfix"]
    assert [r.body for r in emulator.calls("issues/add-labels")] == [{"labels": ["hotfix"]}]  # only once
    assert repo.enable_auto_merge(first.number) is None
    assert state.auto_merge[first.number] == {"merge_method": "merge"}


def test_labels_releases_and_issues_are_idempotent(emulator: GitHubEmulator, branch: str) -> None:
    repo = _repo(emulator)
    repo.ensure_label("post-mortem", "b60205", "Post-incident review")
    repo.ensure_label("post-mortem", "b60205", "Post-incident review")
    assert len(emulator.calls("issues/create-label")) == 1
    made = repo.ensure_release("v1.0.1", "v1.0.1", "notes")
    kept = repo.ensure_release("v1.0.1", "v1.0.1", "notes")
    assert made is not None and kept is not None and (made.created, kept.created, made.url) == (True, False, kept.url)
    assert emulator.calls("repos/create-release")[0].body["make_latest"] == "legacy"
    assert repo.find_issue("post-mortem", "<!-- m -->") is None
    issue = repo.create_issue("Post-mortem", "<!-- m --> body", ["post-mortem"])
    assert issue is not None
    repo.comment(issue.number, "an update")
    found = repo.find_issue("post-mortem", "<!-- m -->")
    assert found is not None and found.number == issue.number and found.texts == ("<!-- m --> body", "an update")


def test_deployments_record_statuses_and_find_the_last_success(emulator: GitHubEmulator, branch: str) -> None:
    port = GitHubDeployments(
        token=TOKEN, repository=REPOSITORY, options=fast_options(emulator), log_url="https://ci/run/1"
    )
    state = emulator.repo(REPOSITORY)
    assert port.last_successful("production") is None
    good = port.start("production", branch, {"image": DIGEST, "strategy": "canary"}, "deploy good")
    port.finish(good, "success", "healthy")
    bad = port.start("production", "main", {"image": "reg.example/shop:bad", "strategy": "canary"}, "deploy bad")
    assert good is not None and bad is not None
    assert [s["state"] for s in state.statuses[bad]] == ["in_progress"]
    assert state.statuses[bad][0]["target_url"] == "https://ci/run/1"
    assert state.deployments[bad]["payload"] == {"image": "reg.example/shop:bad", "strategy": "canary"}
    port.finish(bad, "success", "promoted")
    assert port.last_successful("production") == {"image": "reg.example/shop:bad", "strategy": "canary"}
    port.finish(bad, "inactive", "rolled back")
    assert port.last_successful("production") == {"image": DIGEST, "strategy": "canary"}
    assert port.latest("production") == bad
    assert port.last_successful("staging") is None
    with pytest.raises(UsageError):
        port.finish(bad, "done", "x")
    port.finish(None, "success", "nothing to finish")  # a start without a token returns None: finishing it is a no-op


@pytest.mark.parametrize(
    ("kind", "expected", "fix"),
    [
        ("unauthorized", "the token was rejected (HTTP 401", "pass a valid token"),
        ("forbidden", "forbidden (HTTP 403 Resource not accessible by integration)", "permission"),
        ("secondary_rate_limit", "rate limited (HTTP 403) after 3 retries", "wait a few minutes"),
        ("rate_limit_429", "rate limited (HTTP 429) after 3 retries", "wait a few minutes"),
        ("server_error", "GitHub failed (HTTP 502) after 3 retries", "githubstatus.com"),
    ],
)
def test_failures_become_github_errors_with_a_fix_and_bounded_retries(
    emulator: GitHubEmulator, branch: str, kind: str, expected: str, fix: str
) -> None:
    emulator.inject(kind, times=None, retry_after=0 if "rate" in kind else None)
    messages: list[str] = []
    with pytest.raises(GitHubError) as caught:
        _repo(emulator, messages).compare_status("main", branch)
    assert expected in caught.value.message
    assert fix in (caught.value.fix or "")
    assert TOKEN not in str(caught.value)
    attempts = len(emulator.calls("repos/compare-commits-with-basehead"))
    assert attempts == (1 if kind in ("unauthorized", "forbidden") else 4)  # 1 + 3 retries at most
    assert len(messages) == attempts - 1


def test_a_secondary_rate_limit_is_waited_out_once(emulator: GitHubEmulator, branch: str) -> None:
    emulator.inject("secondary_rate_limit", times=1, retry_after=1)
    messages: list[str] = []
    assert _repo(emulator, messages).compare_status("main", branch) == "ahead"
    assert messages == ["GitHub answered HTTP 403; retrying in 1s (1 of 3)"]
    assert [r.status for r in emulator.calls("repos/compare-commits-with-basehead")] == [403, 200]


def test_a_retry_after_beyond_the_budget_is_not_waited_for(emulator: GitHubEmulator, branch: str) -> None:
    emulator.inject("secondary_rate_limit", times=None, retry_after=3600)
    with pytest.raises(GitHubError) as caught:
        _repo(emulator, max_wait=5).compare_status("main", branch)
    assert "Retry-After 3600s exceeds the 5s budget" in caught.value.message
    assert len(emulator.calls("repos/compare-commits-with-basehead")) == 1


def test_a_post_that_got_a_5xx_is_not_repeated(emulator: GitHubEmulator, branch: str) -> None:
    emulator.inject("server_error", times=None, operation="issues/create")
    with pytest.raises(GitHubError) as caught:
        _repo(emulator).create_issue("x", "y", [])
    assert "the write was not repeated" in caught.value.message
    assert len(emulator.calls("issues/create")) == 1


def test_without_a_token_the_null_ports_write_nothing(emulator: GitHubEmulator) -> None:
    client = options(emulator.api_url)
    assert isinstance(connect(None, REPOSITORY, client), NullGitHubRepoApi)
    assert isinstance(connect(TOKEN, None, client), NullGitHubRepoApi)
    assert isinstance(deployments("", REPOSITORY, client), NullDeployments)
    assert isinstance(connect(TOKEN, REPOSITORY, client), GitHubRepo)
    with pytest.raises(UsageError):
        GitHubRepo(token=TOKEN, repository="not-a-repo")
    with pytest.raises(UsageError):
        options("http://api.example.com")  # plain http only for loopback
    assert emulator.requests == []


def test_git_auth_env_sends_the_token_in_a_header_after_clearing_others() -> None:
    env, header = git_auth_env(
        TOKEN, "https://github.com", {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "a.b", "GIT_CONFIG_VALUE_0": "c"}
    )
    assert env["GIT_CONFIG_COUNT"] == "3"
    assert env["GIT_CONFIG_KEY_1"] == env["GIT_CONFIG_KEY_2"] == "http.https://github.com/.extraheader"
    assert env["GIT_CONFIG_VALUE_1"] == ""  # resets a header persisted by actions/checkout
    assert env["GIT_CONFIG_VALUE_2"] == header
    assert header.startswith("AUTHORIZATION: basic ") and TOKEN not in header
    assert TOKEN not in "".join(env.values())
    with pytest.raises(UsageError):
        git_auth_env(TOKEN, "ext::sh -c evil", {})
