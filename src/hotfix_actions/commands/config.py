"""`hotfix config show|schema|fetch`."""

from __future__ import annotations

import json
from pathlib import Path

import click
import yaml

from hotfix_actions.commands._common import Edge, hotfix_command, repo_root
from hotfix_actions.commands.config_fetch import fetch
from hotfix_actions.config import schema
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.report import Outcome

__all__ = ["command"]


@click.group("config")
def command() -> None:
    """Show the effective .hotfix.yml or its JSON Schema."""


@command.command("schema")
def schema_cmd() -> None:
    """Print the JSON Schema of .hotfix.yml (for editors: yaml-language-server $schema)."""
    click.echo(json.dumps(schema(), indent=2))


@hotfix_command("show", label="config show")
@click.option("--repo", "repo_path", default=".", type=click.Path(file_okay=False, exists=True))
def show(*, edge: Edge, repo_path: str) -> Outcome | None:
    """Print the effective configuration: the file merged over the defaults."""
    cfg = edge.config(repo_root(Path(repo_path).resolve()))
    effective = cfg.effective()
    source = cfg.path or "defaults (no .hotfix.yml)"
    if not edge.reporter.json_mode:
        edge.reporter.document(f"# source: {source}\n" + yaml.safe_dump(effective, sort_keys=False))
        return None
    return Outcome(
        command="config show",
        verdict=Verdict.PASS,
        reasons=[f"source: {source}"],
        outputs={"config": json.dumps(effective), "source": source},
        title="config",
    )


command.add_command(show)
command.add_command(fetch)
