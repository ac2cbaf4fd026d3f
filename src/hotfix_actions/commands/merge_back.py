"""`hotfix merge-back`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import click

from hotfix_actions.commands._common import Edge, hotfix_command, repo_root
from hotfix_actions.config.merge_back import MergeBackConfig
from hotfix_actions.config.notify import NotifyConfig
from hotfix_actions.config.repository import RepositoryConfig
from hotfix_actions.config.validate import ValidateConfig
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

__all__ = ["command", "run_url"]


def run_url(env: Mapping[str, str]) -> str:
    """The link to this workflow run, from GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_RUN_ID."""
    server, repository = env.get("GITHUB_SERVER_URL", ""), env.get("GITHUB_REPOSITORY", "")
    run_id = env.get("GITHUB_RUN_ID", "")
    return f"{server}/{repository}/actions/runs/{run_id}" if server and repository and run_id.isdigit() else ""


@hotfix_command("merge-back", short_help="Merge a finished hotfix into develop and open release branches; tag it.")
@click.option(
    "--branch",
    envvar="HOTFIX_BRANCH",
    help="The hotfix branch (default: GITHUB_HEAD_REF, a pushed hotfix/* GITHUB_REF_NAME, else the "
    "checked-out one). Env: HOTFIX_BRANCH.",
)
@click.option(
    "--version", "version", envvar="HOTFIX_VERSION", help="X.Y.Z; must match the branch name. Env: HOTFIX_VERSION."
)
@click.option("--keep-branch", is_flag=True, envvar="HOTFIX_KEEP_BRANCH", help="Keep the hotfix branch even when done.")
@click.option(
    "--auto-merge/--no-auto-merge",
    default=None,
    envvar="HOTFIX_AUTO_MERGE",
    help="Enable auto-merge on merge-back pull requests (default: merge_back.auto_merge).",
)
@click.option(
    "--release/--no-release",
    default=None,
    envvar="HOTFIX_RELEASE",
    help="Create the GitHub release (default: merge_back.create_release).",
)
@click.option("--dry-run", is_flag=True, envvar="HOTFIX_DRY_RUN", help="Print the plan; write nothing.")
@click.option("--repo", "repo_path", envvar="HOTFIX_REPO", default=".", type=click.Path(file_okay=False, exists=True))
@click.option(
    "--github-token",
    envvar="HOTFIX_GITHUB_TOKEN",
    default=None,
    help="Token for pull requests, the release and git over https. Pass it as HOTFIX_GITHUB_TOKEN: "
    "an argument is visible to other processes.",
)
@click.option("--github-repository", envvar="GITHUB_REPOSITORY", default=None, help="owner/name.")
@click.option("--github-api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True)
@click.option(
    "--github-server-url",
    envvar="GITHUB_SERVER_URL",
    default="https://github.com",
    show_default=True,
    help="git over https gets the token for this host only.",
)
@click.option("--github-write-interval", envvar="HOTFIX_GITHUB_WRITE_INTERVAL", type=float, default=1.0, hidden=True)
def command(
    *,
    edge: Edge,
    branch: str | None,
    version: str | None,
    keep_branch: bool,
    auto_merge: bool | None,
    release: bool | None,
    dry_run: bool,
    repo_path: str,
    github_token: str | None,
    github_repository: str | None,
    github_api_url: str,
    github_server_url: str,
    github_write_interval: float,
) -> Outcome:
    """Merge a finished hotfix into the production branch, develop and open release/* branches (--no-ff), tag
    v<version> on the production merge, create the GitHub release and delete the hotfix branch once every branch has
    it. A conflict or a protected branch becomes a pull request listing the files and the steps. Never force-pushes;
    run it again after any failure and it continues where it stopped.
    """
    from hotfix_actions import notify
    from hotfix_actions.git import GitCli
    from hotfix_actions.github.connect import connect, git_auth_env, options
    from hotfix_actions.services import merge_back

    reporter = edge.reporter
    reporter.mask(github_token)
    root = repo_root(Path(repo_path).resolve())
    cfg = edge.config(root)
    env = dict(edge.env)
    if github_token:
        env, header = git_auth_env(github_token, github_server_url, env)
        reporter.mask(header.partition("basic ")[2])
    git = GitCli(root, env=env)
    ref_name = edge.env.get("GITHUB_REF_NAME", "")
    pushed = ref_name if ref_name.startswith("hotfix/") else None
    chosen = branch or edge.env.get("GITHUB_HEAD_REF") or pushed or git.current_branch()
    if not chosen:
        raise UsageError("no hotfix branch", input_name="--branch", fix="pass --branch hotfix/vX.Y.Z-<slug>")
    client = options(github_api_url, write_interval=github_write_interval, on_retry=reporter.info)
    notifier = notify.build(notify.urls_from_env(edge.env), cfg.section(NotifyConfig), mask=reporter.mask)
    return merge_back.run(
        merge_back.MergeBackRequest(
            branch=chosen,
            version=version,
            keep_branch=keep_branch,
            auto_merge=auto_merge,
            release=release,
            dry_run=dry_run,
            actor=edge.env.get("GITHUB_ACTOR", ""),
            run_url=run_url(edge.env),
        ),
        cfg.section(RepositoryConfig),
        cfg.section(MergeBackConfig),
        cfg.section(ValidateConfig).branch_pattern,
        git,
        connect(github_token, github_repository, client),
        reporter,
        notifier,
    )
