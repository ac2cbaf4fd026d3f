"""`hotfix start`."""

from __future__ import annotations

from pathlib import Path

import click

from hotfix_actions.commands._common import Edge, hotfix_command, repo_root
from hotfix_actions.config.repository import RepositoryConfig
from hotfix_actions.errors import UsageError
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
@click.option(
    "--push", is_flag=True, help="Push the new branch to the remote and track it there (a plain `git push` works next)."
)
@click.option(
    "--repo",
    "repo_path",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, exists=True),
    help="The git work tree (a clone of your repository, production branch and release tags fetched from its remote).",
)
def command(*, edge: Edge, slug: str, severity: str | None, fixes: str | None, push: bool, repo_path: str) -> Outcome:
    """Create hotfix/v<next patch>-<slug> from the production head, bump the declared version, commit it.

    Refuses a dirty work tree, an existing tag of that version, a hotfix branch of that version already open (here
    or on the remote: one hotfix per version), and a slug that is not lower-case letters, digits and '-'.
    Exit 0 created, 1 refused, 2 bad input or not a git repository, 3 git or the remote failed.
    """
    from hotfix_actions.git import GitCli
    from hotfix_actions.services import start

    root = repo_root(Path(repo_path).resolve())
    if not (root / ".git").exists():
        raise UsageError(
            f"{root} is not inside a git work tree",
            input_name="--repo",
            fix="run it in a clone of your repository (git clone <url> && cd <name>) or pass --repo <clone>",
        )
    cfg = edge.config(root)
    return start.run(
        start.StartRequest(slug=slug, severity=severity, fixes=fixes, push=push),
        cfg.section(RepositoryConfig),
        GitCli(root, env=edge.env),
        edge.reporter,
    )
