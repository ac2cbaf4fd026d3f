"""`hotfix deployment start|finish|last-successful` against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hotfix_actions.cli import cli
from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.github_emulator.fixtures import REPOSITORY, TOKEN
from tests.gitrepos import git, make_project

GOOD = "reg.example/shop@sha256:" + "a" * 64
BAD = "reg.example/shop@sha256:" + "b" * 64


@pytest.fixture
def sha(tmp_path: Path, emulator: GitHubEmulator) -> str:
    origin, _ = make_project(tmp_path)
    emulator.add_repo(REPOSITORY, git_dir=origin)
    return git(origin, "rev-parse", "main")


def _run(emulator: GitHubEmulator, *args: str, token: str = TOKEN) -> Result:
    env = {
        "HOTFIX_GITHUB_TOKEN": token,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": emulator.api_url,
        "HOTFIX_GITHUB_WRITE_INTERVAL": "0",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "99",
    }
    return CliRunner().invoke(cli, ["deployment", *args, "--json"], env=env)


def _out(result: Result) -> dict[str, str]:
    assert result.exit_code == 0, result.output
    outputs: dict[str, str] = json.loads(result.stdout)["outputs"]
    return outputs


def test_start_finish_rollback_and_last_successful(emulator: GitHubEmulator, sha: str) -> None:
    good = _out(_run(emulator, "start", "--sha", sha, "--image", GOOD, "--strategy", "canary"))["deployment-id"]
    _out(_run(emulator, "finish", "--deployment-id", good, "--state", "success"))
    bad = _out(_run(emulator, "start", "--sha", sha, "--image", BAD))["deployment-id"]
    state = emulator.repo(REPOSITORY)
    deployment = state.deployments[int(bad)]
    assert (deployment["sha"], deployment["ref"], deployment["environment"]) == (sha, sha, "production")
    assert deployment["payload"] == {"image": BAD, "strategy": "canary"}
    assert state.statuses[int(bad)][0]["state"] == "in_progress"
    assert state.statuses[int(bad)][0]["log_url"] == "https://github.com/acme/shop/actions/runs/99"
    _out(_run(emulator, "finish", "--deployment-id", bad, "--state", "success"))
    assert _out(_run(emulator, "last-successful"))["image"] == BAD
    # the rollback marks the bad deployment inactive; finding it needs no id
    assert _out(_run(emulator, "finish", "--state", "inactive", "--sha", sha))["deployment-id"] == bad
    assert [s["state"] for s in state.statuses[int(bad)]] == ["in_progress", "success", "inactive"]
    assert _out(_run(emulator, "last-successful"))["image"] == GOOD


def test_without_a_token_nothing_is_recorded(emulator: GitHubEmulator, sha: str) -> None:
    result = _run(emulator, "start", "--sha", sha, "--image", GOOD, token="")
    assert _out(result)["deployment-id"] == ""
    assert json.loads(result.stdout)["checks"][0]["result"] == "skip"
    assert _run(emulator, "last-successful", token="").exit_code == 1
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["start", "--sha", "main", "--image", GOOD], "--sha"),
        (["start", "--sha", "a" * 40, "--image", "Not An Image"], "--image"),
        (["start", "--sha", "a" * 40, "--image", GOOD, "--environment", "prod;rm -rf"], "--environment"),
        (["start", "--sha", "a" * 40, "--image", GOOD, "--strategy", "Canary!"], "--strategy"),
        (["finish", "--state", "inactive", "--sha", "abc"], "--sha"),
    ],
)
def test_bad_input_is_refused_before_any_call(
    emulator: GitHubEmulator, sha: str, args: list[str], problem: str
) -> None:
    result = _run(emulator, *args)
    assert result.exit_code == 2
    assert problem in json.loads(result.stdout)["reasons"][0]
    assert emulator.requests == []


def test_a_token_without_the_deployments_permission(emulator: GitHubEmulator, sha: str) -> None:
    emulator.inject("forbidden", times=None, operation="repos/create-deployment")
    result = _run(emulator, "start", "--sha", sha, "--image", GOOD)
    assert result.exit_code == 3
    reason = json.loads(result.stdout)["reasons"][0]
    assert "forbidden (HTTP 403" in reason and "deployments: write" in reason
