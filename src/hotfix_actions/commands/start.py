"""`hotfix start`."""

from __future__ import annotations

from pathlib import Path

import click

from hotfix_actions.commands._common import Edge, hotfix_command, repo_root
from hotfix_actions.config.repository import RepositoryConfig
from hotfix_actions.report import Outcome

__all__ = ["command"]


@hotfix_command("start", short_help="Create hotfix/v<next patch>-<slug> from the production head.")
@click.argument("slug")
@click.option(
    "--severity",
    type=click.Choice(["critical", "high", "medium", "low"]),
    default=None,
    help="Recorded as a 'Severity:' trailer (validate requires one on the head commit).",
)
@click.option("--fixes", default=None, help="Ticket recorded as a 'Fixes:' trailer, e.g. INC-123.")
@click.option("--push", is_flag=True, help="Push the new branch to the remote.")
@click.option("--repo", "repo_path", default=".", type=click.Path(file_okay=False, exists=True))
def command(*, edge: Edge, slug: str, severity: str | None, fixes: str | None, push: bool, repo_path: str) -> Outcome:
    """Create hotfix/v<next patch>-<slug> from the production head, bump the declared version, commit it.

    Refuses a dirty work tree, an existing branch or tag of that version, and a slug outside [a-z0-9-].
    """
    from hotfix_actions.git import GitCli
    from hotfix_actions.services import start

    root = repo_root(Path(repo_path).resolve())
    cfg = edge.config(root)
    return start.run(
        start.StartRequest(slug=slug, severity=severity, fixes=fixes, push=push),
        cfg.section(RepositoryConfig),
        GitCli(root, env=edge.env),
        edge.reporter,
    )
