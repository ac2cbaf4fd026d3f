"""validate on a shallow clone with a token: the GitHub compare API answers the base question; git fetches carry the
token in a header (a private repository checked out with persist-credentials: false)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from click.testing import CliRunner

from hotfix_actions.cli import cli
from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.github_emulator.fixtures import TOKEN
from tests.gitrepos import Repo, hotfix_branch, make_project


def _shallow_clone(gh: GitHubEmulator, dest: Path, branch: str) -> Repo:
    header = "AUTHORIZATION: basic " + __import__("base64").b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    env = {
        **os.environ,
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{gh.url}/.extraheader",
        "GIT_CONFIG_VALUE_0": header,
    }
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", branch, gh.git_url("acme/shop"), str(dest)],
        env=env,
        check=True,
        capture_output=True,
    )
    return Repo(dest)


def test_shallow_private_clone_uses_compare_api_and_token_fetches(tmp_path: Path, emulator: GitHubEmulator) -> None:
    origin, work = make_project(tmp_path)
    branch = hotfix_branch(work)
    emulator.add_repo("acme/shop", git_dir=origin)
    clone = _shallow_clone(emulator, tmp_path / "ci", branch)
    env = {
        "HOTFIX_GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_API_URL": emulator.api_url,
        "GITHUB_SERVER_URL": emulator.url,
    }
    result = CliRunner().invoke(cli, ["validate", "--json", "--repo", str(clone.path)], env=env)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["verdict"] == "PASS"
    assert "GitHub compare API: ahead" in result.stderr
    assert emulator.calls("repos/compare-commits-with-basehead")
    assert TOKEN not in result.output


def test_without_the_token_a_private_shallow_clone_is_an_error_not_a_pass(
    tmp_path: Path, emulator: GitHubEmulator
) -> None:
    origin, work = make_project(tmp_path)
    branch = hotfix_branch(work)
    emulator.add_repo("acme/shop", git_dir=origin)
    clone = _shallow_clone(emulator, tmp_path / "ci", branch)
    result = CliRunner().invoke(
        cli, ["validate", "--json", "--repo", str(clone.path)], env={"GITHUB_SERVER_URL": emulator.url}
    )
    assert result.exit_code == 3, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["verdict"] == "ERROR"
