"""`hotfix validate`."""

from __future__ import annotations

from pathlib import Path

import click

from hotfix_actions.commands._common import Edge, hotfix_command, repo_root
from hotfix_actions.config.repository import RepositoryConfig
from hotfix_actions.config.validate import ValidateConfig
from hotfix_actions.errors import UsageError
from hotfix_actions.ports import GitHub, NullGitHub
from hotfix_actions.report import Outcome

__all__ = ["command"]


@hotfix_command("validate", short_help="Check that a hotfix branch is fit for production.")
@click.option(
    "--branch",
    envvar="HOTFIX_BRANCH",
    help="Branch to check (default: GITHUB_HEAD_REF, "
    "GITHUB_REF_NAME, else the checked-out branch). Env: HOTFIX_BRANCH.",
)
@click.option(
    "--repo",
    "repo_path",
    envvar="HOTFIX_REPO",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
    help="The git work tree. Env: HOTFIX_REPO.",
)
@click.option(
    "--github-token",
    envvar="HOTFIX_GITHUB_TOKEN",
    default=None,
    help="Use the GitHub compare API on shallow clones. Env: HOTFIX_GITHUB_TOKEN.",
)
@click.option("--github-repository", envvar="GITHUB_REPOSITORY", default=None, help="owner/name for the API.")
@click.option("--github-api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True)
@click.option(
    "--github-server-url",
    envvar="GITHUB_SERVER_URL",
    default="https://github.com",
    show_default=True,
    help="git fetches over https get the token (in a header, for this host only).",
)
def command(
    *,
    edge: Edge,
    branch: str | None,
    repo_path: str,
    github_token: str | None,
    github_repository: str | None,
    github_api_url: str,
    github_server_url: str,
) -> Outcome:
    """Check that a hotfix branch is fit for production.

    Rules: branch name, base (contains the production head), version (a patch bump of the highest release tag),
    size, risky paths (approval needed), Conventional Commits with Severity and Fixes trailers, one concern.
    """
    from hotfix_actions.git import GitCli
    from hotfix_actions.services import validate

    edge.reporter.mask(github_token)
    root = repo_root(Path(repo_path).resolve())
    if not (root / ".git").exists():
        raise UsageError(
            f"{root} is not a git work tree",
            input_name="--repo",
            fix="check out the repository first (actions/checkout) or pass --repo",
        )
    cfg = edge.config(root)
    env = dict(edge.env)
    if github_token:
        # actions/checkout with persist-credentials: false leaves no credentials behind; a shallow clone of a
        # private repository needs the token to fetch history (sent in a header, never in a URL or argv).
        from hotfix_actions.github.connect import git_auth_env

        env, header = git_auth_env(github_token, github_server_url, env)
        edge.reporter.mask(header)
    git = GitCli(root, env=env)
    chosen = branch or edge.env.get("GITHUB_HEAD_REF") or edge.env.get("GITHUB_REF_NAME") or git.current_branch()
    if not chosen:
        raise UsageError(
            "no branch to check",
            input_name="--branch",
            fix="pass --branch hotfix/vX.Y.Z-<slug> or check out the hotfix branch",
        )
    github = _github(github_token, github_repository, github_api_url)
    return validate.run(
        validate.ValidateRequest(branch=chosen),
        cfg.section(RepositoryConfig),
        cfg.section(ValidateConfig),
        git,
        github,
        edge.reporter,
    )


def _github(token: str | None, repository: str | None, api_url: str) -> GitHub:
    if not token or not repository:
        return NullGitHub()
    from hotfix_actions.github.connect import connect, options

    return connect(token, repository, options(api_url))
