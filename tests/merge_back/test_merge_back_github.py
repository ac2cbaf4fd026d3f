"""merge-back with a token: git over HTTP (token in a header), pull requests, labels, auto-merge and the release
through the GitHub emulator; API failures; the token in no output."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from hotfix_actions.config.merge_back import MergeBackConfig
from hotfix_actions.config.repository import RepositoryConfig
from hotfix_actions.config.validate import DEFAULT_BRANCH_PATTERN
from hotfix_actions.git import GitCli
from hotfix_actions.github import GitHubRepo
from hotfix_actions.github.connect import git_auth_env
from hotfix_actions.ports import NullNotifier
from hotfix_actions.report import Reporter
from hotfix_actions.services import merge_back as service
from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.conftest import read_outputs
from tests.github_emulator.fixtures import REPOSITORY, TOKEN, fast_options
from tests.gitrepos import Repo, git
from tests.merge_back.helpers import merge_back, parents, project, protect

HEADER_SECRET = base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()


def _over_http(tmp_path: Path, emulator: GitHubEmulator, **kwargs: dict[str, str]) -> tuple[Path, Repo, str]:
    origin, work, branch = project(tmp_path, **kwargs)
    emulator.add_repo(REPOSITORY, git_dir=origin)
    work.git("remote", "set-url", "origin", emulator.git_url(REPOSITORY))  # no credentials in the URL
    return origin, work, branch


def _env(emulator: GitHubEmulator) -> dict[str, str]:
    return {
        "HOTFIX_GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": emulator.api_url,
        "GITHUB_SERVER_URL": emulator.url,
        "GITHUB_RUN_ID": "42",
        "GITHUB_ACTOR": "alice",
        "HOTFIX_GITHUB_WRITE_INTERVAL": "0",
    }


def _no_token_anywhere(*texts: str) -> None:
    """Only the runner's ::add-mask:: commands (which the runner swallows) may carry the secrets."""
    for text in texts:
        shown = "\n".join(line for line in text.splitlines() if not line.startswith("::add-mask::"))
        assert TOKEN not in shown
        assert HEADER_SECRET not in shown


def test_clean_merge_back_over_https_with_the_token_in_a_header_and_a_release(
    tmp_path: Path, emulator: GitHubEmulator, gha: dict[str, Path]
) -> None:
    origin, work, branch = _over_http(tmp_path, emulator)
    result = merge_back(work, "--branch", branch, env=_env(emulator))
    assert result.exit_code == 0, result.output
    assert git(origin, "rev-parse", "v1.0.1^{commit}") == git(origin, "rev-parse", "main")
    assert git(origin, "branch", "--list", branch) == ""
    assert any(r.operation_id == "git" and r.method == "POST" for r in emulator.requests)  # pushed over HTTP
    release = next(iter(emulator.repo(REPOSITORY).releases.values()))
    assert release["tag_name"] == "v1.0.1"
    assert "- fix: login crash on empty password (" in release["body"]
    assert "Severity: high, Fixes: INC-42" in release["body"]
    assert "Changes since v1.0.0" in release["body"]
    outputs = read_outputs(gha["output"])
    assert outputs["release-url"] == release["html_url"]
    _no_token_anywhere(
        result.output,
        gha["output"].read_text(),
        gha["summary"].read_text(),
        (work.path / ".git" / "config").read_text(),
    )
    assert "::add-mask::" in result.output  # the token and the header were masked before anything else


def test_conflict_on_develop_opens_one_pull_request_listing_the_files(
    tmp_path: Path, emulator: GitHubEmulator, gha: dict[str, Path]
) -> None:
    origin, work, branch = _over_http(
        tmp_path, emulator, develop_change={"src/app.py": "def handler():\n    return 'develop'\n"}
    )
    result = merge_back(work, "--branch", branch, env=_env(emulator))
    assert result.exit_code == 0, result.output  # handed over: a warning, not a failure
    state = emulator.repo(REPOSITORY)
    ((number, pr),) = state.pulls.items()
    issue = state.issues[number]
    assert (pr["head"], pr["base"]) == ("merge-back/1.0.1-into-develop", "develop")
    assert issue["title"] == "Merge hotfix v1.0.1 into develop"
    assert "- `src/app.py`" in issue["body"] and "### To finish" in issue["body"]
    assert [label["name"] for label in issue["labels"]] == ["hotfix"]
    pending = json.loads(read_outputs(gha["output"])["pending"])
    assert pending == [
        {"branch": "develop", "url": f"{emulator.url}/{REPOSITORY}/pull/{number}", "reason": pending[0]["reason"]}
    ]
    assert git(origin, "branch", "--list", branch) != ""  # kept until develop has it

    again = merge_back(work, "--branch", branch, env=_env(emulator))
    assert again.exit_code == 0, again.output
    assert len(state.pulls) == 1  # updated, never duplicated
    assert f"pull request #{number} updated" in again.output
    assert len(emulator.calls("pulls/create")) == 1


def test_protected_production_gets_a_pull_request_with_the_merge_and_auto_merge(
    tmp_path: Path, emulator: GitHubEmulator
) -> None:
    origin, work, branch = _over_http(tmp_path, emulator)
    protect(origin, "main")
    main_before = git(origin, "rev-parse", "main")
    result = merge_back(work, "--branch", branch, "--auto-merge", env=_env(emulator))
    assert result.exit_code == 0, result.output
    assert git(origin, "rev-parse", "main") == main_before
    assert parents(origin, "merge-back/1.0.1-into-main") == [main_before, git(origin, "rev-parse", branch)]
    assert "waits until main has the hotfix" in result.output
    assert git(origin, "tag", "--list", "v1.0.1") == ""
    state = emulator.repo(REPOSITORY)
    ((number, pr),) = state.pulls.items()
    assert pr["base"] == "main" and state.auto_merge[number] == {"merge_method": "merge"}
    assert len(emulator.calls("graphql")) == 1


def test_a_401_from_the_api_fails_clearly_and_a_rerun_continues(tmp_path: Path, emulator: GitHubEmulator) -> None:
    origin, work, branch = _over_http(
        tmp_path, emulator, develop_change={"src/app.py": "def handler():\n    return 'develop'\n"}
    )
    emulator.inject("unauthorized", times=None)
    failed = merge_back(work, "--branch", branch, env=_env(emulator))
    assert failed.exit_code == 3, failed.output
    assert "the token was rejected (HTTP 401" in failed.output and "pass a valid token" in failed.output
    assert git(origin, "rev-parse", "v1.0.1^{commit}") == git(origin, "rev-parse", "main")  # git work was done
    emulator.clear_faults()
    rerun = merge_back(work, "--branch", branch, env=_env(emulator))
    assert rerun.exit_code == 0, rerun.output
    assert "plan: main: contains" in rerun.output
    assert len(emulator.repo(REPOSITORY).pulls) == 1
    _no_token_anywhere(failed.output, rerun.output)


def test_a_403_without_permission_and_a_secondary_rate_limit(tmp_path: Path, emulator: GitHubEmulator) -> None:
    origin, work, branch = _over_http(
        tmp_path, emulator, develop_change={"src/app.py": "def handler():\n    return 'develop'\n"}
    )
    emulator.inject("secondary_rate_limit", times=1, operation="pulls/create", retry_after=1)
    emulator.inject("forbidden", times=1, operation="repos/create-release")
    result = merge_back(work, "--branch", branch, env=_env(emulator))
    assert result.exit_code == 3, result.output  # the release could not be created: run again
    assert "retrying in 1s (1 of 3)" in result.output
    assert [r.status for r in emulator.calls("pulls/create")] == [403, 201]
    assert "forbidden (HTTP 403 Resource not accessible by integration)" in result.output
    rerun = merge_back(work, "--branch", branch, env=_env(emulator))
    assert rerun.exit_code == 0, rerun.output
    assert len(emulator.repo(REPOSITORY).releases) == 1


def test_git_never_sees_the_token_in_its_arguments(tmp_path: Path, emulator: GitHubEmulator) -> None:
    origin, work, branch = _over_http(tmp_path, emulator)
    env, header = git_auth_env(TOKEN, emulator.url, {k: v for k, v in __import__("os").environ.items()})
    git_cli = GitCli(work.path, env=env)
    reporter = Reporter()
    reporter.mask(TOKEN)
    outcome = service.run(
        service.MergeBackRequest(branch=branch),
        RepositoryConfig(),
        MergeBackConfig(),
        DEFAULT_BRANCH_PATTERN,
        git_cli,
        GitHubRepo(token=TOKEN, repository=REPOSITORY, options=fast_options(emulator)),
        reporter,
        NullNotifier(),
    )
    assert outcome.verdict.value == "PASS"
    argv = json.dumps(git_cli.calls)
    _no_token_anywhere(argv)
    assert git(origin, "rev-parse", "v1.0.1^{commit}") == git(origin, "rev-parse", "main")


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_without_a_valid_token_git_over_https_fails_clearly(
    tmp_path: Path, emulator: GitHubEmulator, token: str
) -> None:
    _, work, branch = _over_http(tmp_path, emulator)
    env = {**_env(emulator), "HOTFIX_GITHUB_TOKEN": token}
    result = merge_back(work, "--branch", branch, env=env)
    assert result.exit_code == 3
    assert "git fetch failed" in result.output
    _no_token_anywhere(result.output)
