"""`hotfix config fetch`: the trusted ref's .hotfix.yml, written to a file for the later steps."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from hotfix_actions.commands._common import Edge, hotfix_command, repo_root
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

__all__ = ["fetch"]


@hotfix_command("fetch", label="config fetch")
@click.option(
    "--ref",
    envvar="HOTFIX_CONFIG_REF",
    default=None,
    help="Branch, tag or SHA whose .hotfix.yml to use (default: the remote's default branch). Env: HOTFIX_CONFIG_REF.",
)
@click.option(
    "--path",
    envvar="HOTFIX_CONFIG_PATH",
    default=".hotfix.yml",
    show_default=True,
    help="The configuration file inside the repository. Env: HOTFIX_CONFIG_PATH.",
)
@click.option("--output", "-o", default=None, help="File to write (default: $RUNNER_TEMP/hotfix-config/<ref>.yml).")
@click.option("--remote", default="origin", show_default=True, help="The git remote to fetch from.")
@click.option(
    "--repo",
    "repo_path",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
    help="The git work tree (a shallow checkout of the hotfix branch is enough).",
)
@click.option("--github-token", envvar="HOTFIX_GITHUB_TOKEN", default=None, help="Token for git over https.")
@click.option("--github-server-url", envvar="GITHUB_SERVER_URL", default="https://github.com", show_default=True)
def fetch(
    *,
    edge: Edge,
    ref: str | None,
    path: str,
    output: str | None,
    remote: str,
    repo_path: str,
    github_token: str | None,
    github_server_url: str,
) -> Outcome:
    """Fetch .hotfix.yml from the trusted ref (never the hotfix branch's copy) and validate it.

    Outputs: config (the file written: pass it as `config` to the later steps), config-ref, config-sha.
    """
    from hotfix_actions.git import GitCli
    from hotfix_actions.services import trusted_config

    edge.reporter.mask(github_token)
    root = repo_root(Path(repo_path).resolve())
    if not (root / ".git").exists():
        raise UsageError(f"{root} is not a git work tree", input_name="--repo", fix="check out the repository first")
    env = dict(edge.env)
    if github_token:
        from hotfix_actions.github.connect import git_auth_env

        env, header = git_auth_env(github_token, github_server_url, env)
        edge.reporter.mask(header)
    if output is None:
        base = edge.env.get("RUNNER_TEMP") or tempfile.mkdtemp(prefix="hotfix-config-")
        output = os.path.join(base, "hotfix-config", "trusted.hotfix.yml")
    request = trusted_config.FetchRequest(
        ref=(ref or "").strip() or None, path=path, output=Path(output), remote=remote
    )
    return trusted_config.run(request, GitCli(root, env=env), edge.reporter)
