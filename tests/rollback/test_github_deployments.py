"""The commands with GitHub Deployments wired in (the GitHub REST emulator): promote records a deployment, and
`rollback --to last-successful-deployment` reads its image back, then records the rollback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotfix_actions.cli import cli
from hotfix_actions.kube import ConnectOptions, connect
from hotfix_actions.sandbox import Sandbox
from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.conftest import read_outputs
from tests.github_emulator.fixtures import REPOSITORY, TOKEN
from tests.gitrepos import make_project
from tests.kube.kubefix import BAD, GOOD, GOOD2, NS, deployment, image_of


@pytest.fixture
def emulator() -> Iterator[GitHubEmulator]:
    gh = GitHubEmulator(tokens={TOKEN})
    gh.start()
    try:
        yield gh
    finally:
        gh.stop()
    assert gh.violations == [], gh.violations


def test_promote_and_rollback_record_github_deployments(
    sandbox: Sandbox, emulator: GitHubEmulator, tmp_path: Path, gha: dict[str, Path]
) -> None:
    origin, work = make_project(tmp_path)
    emulator.add_repo(REPOSITORY, git_dir=origin)
    sha = work.head()
    config = tmp_path / ".hotfix.yml"
    config.write_text("version: 1\ncluster: {poll_interval: 0.05}\n")
    env = {
        "HOTFIX_KUBECONFIG": str(sandbox.kubeconfig_path),
        "HOTFIX_CONFIG": str(config),
        "HOTFIX_GITHUB_TOKEN": TOKEN,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": emulator.api_url,
        "GITHUB_SHA": sha,
        "HOTFIX_ENVIRONMENT": "production",
    }
    sandbox.apply(deployment(image=GOOD))
    sandbox.wait_rollout(NS, "web")
    promoted = CliRunner().invoke(cli, ["promote", "-d", "web", "--image", GOOD2], env=env, catch_exceptions=False)
    assert promoted.exit_code == 0, promoted.output
    assert [line for line in promoted.output.splitlines() if TOKEN in line] == [f"::add-mask::{TOKEN}"]
    with connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path))) as kc:
        kc.set_images(NS, "web", {"web": BAD}, "a deploy outside the pipeline")
    gha["output"].write_text("")
    result = CliRunner().invoke(
        cli, ["rollback", "-d", "web", "--to", "last-successful-deployment"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "last successful deployment of production: " + GOOD2 in result.output
    assert read_outputs(gha["output"])["to-image"] == GOOD2 and image_of(sandbox) == GOOD2
    deployments = sorted(emulator.repo(REPOSITORY).deployments.values(), key=lambda d: d["id"])
    assert [d["environment"] for d in deployments] == ["production", "production"]
    assert [d["sha"] for d in deployments] == [sha, sha]
    assert deployments[0]["payload"]["image"] == GOOD2 and deployments[1]["payload"]["strategy"] == "undo"
    assert "emergency rollback" in deployments[1]["description"]
