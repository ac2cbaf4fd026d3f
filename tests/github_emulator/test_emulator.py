"""The emulator itself: conformance checks, state, faults, git smart HTTP, and running as a process."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from github import Auth, Github, GithubException

from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.github_emulator.fixtures import REPOSITORY, TOKEN
from tests.gitrepos import git, hotfix_branch, make_project

AUTH = {"Authorization": f"token {TOKEN}"}


def _client(gh: GitHubEmulator) -> Github:
    return Github(
        auth=Auth.Token(TOKEN),
        base_url=gh.api_url,
        per_page=100,
        seconds_between_requests=None,
        seconds_between_writes=None,
        retry=0,
    )


@pytest.fixture
def project(tmp_path: Path, emulator: GitHubEmulator) -> tuple[Path, str]:
    origin, work = make_project(tmp_path)
    branch = hotfix_branch(work)
    emulator.add_repo(REPOSITORY, git_dir=origin)
    return origin, branch


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "problem"),
    [
        ("GET", "/repos/acme/shop/pulls?state=opened", None, 400, "'opened' is not one of"),
        ("GET", "/repos/acme/shop/pulls?colour=red", None, 400, "unknown query parameter 'colour'"),
        ("POST", "/repos/acme/shop/pulls", {"titel": "x", "head": "a", "base": "b"}, 422, "'titel' was unexpected"),
        ("POST", "/repos/acme/shop/deployments/1/statuses", {"state": "done"}, 422, "'done' is not one of"),
        ("POST", "/repos/acme/shop/deployments", {}, 422, "'ref' is a required property"),
        ("GET", "/repos/acme/shop/issues/first", None, 400, "'first' is not of type 'integer'"),
        ("DELETE", "/repos/acme/shop/pulls", None, 404, "method not allowed"),
        ("GET", "/repos/acme/shop/no-such-thing", None, 404, "no such path"),
        ("POST", "/repos/acme/shop/issues", None, 422, "a request body is required"),
    ],
)
def test_a_non_conforming_request_is_refused_and_recorded(
    emulator: GitHubEmulator, project: tuple[Path, str], method: str, path: str, body: object, status: int, problem: str
) -> None:
    emulator.expect_violations = True
    response = httpx.request(method, emulator.api_url + path, json=body, headers=AUTH, timeout=10)
    assert response.status_code == status
    assert any(problem in v for v in emulator.violations), emulator.violations
    assert problem in response.json()["message"]
    assert emulator.requests[-1].problems  # recorded with the request


def test_pygithub_add_to_labels_sends_a_body_the_current_description_rejects(
    emulator: GitHubEmulator, project: tuple[Path, str]
) -> None:
    """PyGithub posts a bare list; the description only allows {"labels": [...]}: the adapter avoids this call."""
    emulator.expect_violations = True
    repo = _client(emulator).get_repo(REPOSITORY)
    issue = repo.create_issue(title="x")
    with pytest.raises(GithubException) as caught:
        issue.add_to_labels("hotfix")
    assert caught.value.status == 422
    assert emulator.violations == [
        "issues/add-labels: body: (root): ['hotfix'] is not valid under any of the given schemas"
    ]


def test_authentication(emulator: GitHubEmulator, project: tuple[Path, str]) -> None:
    url = emulator.api_url + "/repos/acme/shop"
    assert httpx.get(url, timeout=10).status_code == 401
    assert httpx.get(url, headers={"Authorization": "token wrong"}, timeout=10).json()["message"] == "Bad credentials"
    assert httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()["full_name"] == REPOSITORY
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    assert httpx.get(url, headers={"Authorization": f"Basic {basic}"}, timeout=10).status_code == 200
    assert httpx.get(emulator.api_url + "/repos/acme/other", headers=AUTH, timeout=10).status_code == 404


def test_pull_requests_are_stateful_and_never_duplicated(emulator: GitHubEmulator, project: tuple[Path, str]) -> None:
    _, branch = project
    repo = _client(emulator).get_repo(REPOSITORY)
    pr = repo.create_pull(base="main", head=branch, title="t", body="b")
    assert (pr.number, pr.head.ref, pr.base.ref, pr.state) == (1, branch, "main", "open")
    with pytest.raises(GithubException) as dup:
        repo.create_pull(base="main", head=branch, title="t", body="b")
    assert dup.value.status == 422 and "already exists" in str(dup.value)
    assert [p.number for p in repo.get_pulls(state="open", head=f"acme:{branch}", base="main")] == [1]
    assert list(repo.get_pulls(state="open", head="acme:other")) == []
    pr.edit(body="new body")
    assert repo.get_pull(1).body == "new body"
    with pytest.raises(GithubException) as missing:
        repo.create_pull(base="main", head="no-such-branch", title="t", body="b")
    assert missing.value.status == 422
    issue = repo.create_issue(title="an issue", labels=["post-mortem"])
    assert issue.number == 2  # issues and pull requests share numbers
    issue.create_comment("first")
    assert [c.body for c in repo.get_issue(2).get_comments()] == ["first"]
    assert [i.number for i in repo.get_issues(state="all", labels=["post-mortem"])] == [2]


def test_compare_and_refs_come_from_the_bare_repository(emulator: GitHubEmulator, project: tuple[Path, str]) -> None:
    origin, branch = project
    repo = _client(emulator).get_repo(REPOSITORY)
    comparison = repo.compare("main", branch)
    assert (comparison.status, comparison.ahead_by, comparison.behind_by) == ("ahead", 1, 0)
    assert repo.compare(branch, "main").status == "behind"
    head = git(origin, "rev-parse", f"refs/heads/{branch}")
    assert repo.get_git_ref(f"heads/{branch}").object.sha == head
    repo.create_git_ref(f"refs/heads/copy-of-{branch.replace('/', '-')}", head)
    assert git(origin, "rev-parse", f"refs/heads/copy-of-{branch.replace('/', '-')}") == head


def test_releases_and_deployments(emulator: GitHubEmulator, project: tuple[Path, str]) -> None:
    origin, branch = project
    repo = _client(emulator).get_repo(REPOSITORY)
    release = repo.create_git_release("v1.0.1", "v1.0.1", "notes", target_commitish=branch)
    assert repo.get_release("v1.0.1").id == release.id
    assert git(origin, "rev-parse", "v1.0.1^{commit}") == git(origin, "rev-parse", branch)  # GitHub tags the target
    with pytest.raises(GithubException):
        repo.create_git_release("v1.0.1", "v1.0.1", "again")
    staging = repo.create_deployment(
        ref=branch, environment="staging", auto_merge=False, required_contexts=[], production_environment=False
    )
    staging.create_status("success")
    newer = repo.create_deployment(
        ref="main", environment="staging", auto_merge=False, required_contexts=[], production_environment=False
    )
    newer.create_status("success")
    # GitHub's auto_inactive: an older successful deployment of a non-production environment goes inactive.
    assert [s.state for s in staging.get_statuses()] == ["inactive", "success"]
    assert [d.id for d in repo.get_deployments(environment="staging")] == [newer.id, staging.id]


def test_pagination_follows_link_headers(emulator: GitHubEmulator, project: tuple[Path, str]) -> None:
    repo = emulator.repo(REPOSITORY)
    for n in range(130):
        repo.new_issue(f"issue {n}", None, ["bulk"], "someone")
    found = list(_client(emulator).get_repo(REPOSITORY).get_issues(state="all", labels=["bulk"]))
    assert len(found) == 130
    assert len(emulator.calls("issues/list-for-repo")) == 2  # 100 per page


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("unauthorized", 401),
        ("forbidden", 403),
        ("secondary_rate_limit", 403),
        ("rate_limit_429", 429),
        ("server_error", 502),
    ],
)
def test_faults_answer_the_matching_requests_then_stop(
    emulator: GitHubEmulator, project: tuple[Path, str], kind: str, status: int
) -> None:
    emulator.inject(kind, times=2, operation="repos/get", retry_after=7)
    url = emulator.api_url + "/repos/acme/shop"
    answers = [httpx.get(url, headers=AUTH, timeout=10) for _ in range(3)]
    assert [a.status_code for a in answers] == [status, status, 200]
    assert answers[0].headers["Retry-After"] == "7"
    assert [r.fault for r in emulator.calls("repos/get")] == [kind, kind, None]
    other = httpx.get(emulator.api_url + "/repos/acme/shop/pulls", headers=AUTH, timeout=10)
    assert other.status_code == 200  # faults match their operation only


def test_git_smart_http_needs_the_token_and_runs_the_hooks(
    tmp_path: Path, emulator: GitHubEmulator, project: tuple[Path, str]
) -> None:
    origin, branch = project
    url = emulator.git_url(REPOSITORY)
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    denied = subprocess.run(["git", "ls-remote", url], capture_output=True, text=True, env=env, check=False)
    assert denied.returncode != 0
    header = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    env.update(
        {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"http.{emulator.url}/.extraheader", "GIT_CONFIG_VALUE_0": header}
    )
    subprocess.run(["git", "clone", "-q", url, str(tmp_path / "viahttp")], env=env, check=True)
    work = tmp_path / "viahttp"
    (work / "new.txt").write_text("x\n")
    git(work, "add", "new.txt")
    git(work, "commit", "-qm", "fix: over http")
    subprocess.run(["git", "push", "-q", "origin", "HEAD:refs/heads/pushed-over-http"], cwd=work, env=env, check=True)
    assert git(origin, "rev-parse", "pushed-over-http") == git(work, "rev-parse", "HEAD")
    hook = origin / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n")
    hook.chmod(0o755)
    refused = subprocess.run(
        ["git", "push", "origin", "HEAD:refs/heads/another"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "pre-receive hook declined" in refused.stderr
    assert "ghs_" not in (work / ".git" / "config").read_text()


def test_runs_as_a_process_and_stops_on_sigterm(tmp_path: Path) -> None:
    origin, _ = make_project(tmp_path)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hotfix_actions.testing.github_emulator",
            "--repo",
            f"{REPOSITORY}={origin}",
            "--token-file",
            str(token_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["api_url"].startswith("http://127.0.0.1:")
        assert ready["git"][REPOSITORY].endswith("/acme/shop.git")
        response = httpx.get(ready["api_url"] + "/repos/acme/shop/branches/main", headers=AUTH, timeout=10)
        assert response.json()["commit"]["sha"] == git(origin, "rev-parse", "main")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
