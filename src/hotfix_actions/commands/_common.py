"""What every command shares: --json, --config, environment snapshot, error translation, exit codes."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from hotfix_actions.commands._trust import check_trust
from hotfix_actions.config import Config, load
from hotfix_actions.errors import ExitCode, HotfixError, UsageError
from hotfix_actions.report import Outcome, Reporter

__all__ = ["Edge", "hotfix_command", "repo_root"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Edge:
    """The edge of the program: the environment, read once here, the reporter and the config location."""

    name: str
    env: Mapping[str, str]
    reporter: Reporter
    config_path: str | None

    def config(self, root: Path | None = None) -> Config:
        if self.config_path:
            return load(self.config_path, required=True)
        base = root if root is not None else Path.cwd()
        return load(base / ".hotfix.yml", required=False)


def repo_root(path: Path) -> Path:
    """The top of the git work tree holding ``path`` (without spawning git), else ``path``."""
    for candidate in (path, *path.parents):
        if (candidate / ".git").exists():
            return candidate
    return path


def hotfix_command(name: str, *, label: str | None = None, **command_kwargs: Any) -> Callable[[F], click.Command]:
    """Declare a command: adds --json and --config; the function returns an Outcome and gets an ``edge``.

    ``label`` names the command in reports when it differs from the click name (e.g. "config show").
    """

    def decorate(fn: F) -> click.Command:
        @click.option("--json", "json_mode", is_flag=True, help="Print one JSON object: verdict, reasons, outputs.")
        @click.option(
            "--config",
            "config_path",
            envvar="HOTFIX_CONFIG",
            type=click.Path(dir_okay=False),
            help="Path of .hotfix.yml (default: .hotfix.yml at the repository root). Env: HOTFIX_CONFIG.",
        )
        @functools.wraps(fn)
        def wrapper(*args: Any, json_mode: bool, config_path: str | None, **kwargs: Any) -> None:
            env = dict(os.environ)
            reporter = Reporter.from_env(env, json_mode=json_mode)
            edge = Edge(name=label or name, env=env, reporter=reporter, config_path=config_path or None)
            try:
                check_trust(click.get_current_context(), {**kwargs, "config_path": config_path}, env)
                if edge.config_path:  # a file named on purpose is read first: a bad one stops everything (exit 2)
                    edge.config()
                outcome: Outcome | None = fn(*args, edge=edge, **kwargs)
                code = reporter.finish(outcome) if outcome is not None else ExitCode.OK
            except HotfixError as exc:
                code = reporter.fail(label or name, exc)
            except KeyboardInterrupt:
                code = reporter.fail(label or name, UsageError("interrupted"))
            raise SystemExit(int(code))

        command: click.Command = click.command(name, **command_kwargs)(wrapper)  # type: ignore[no-untyped-call]
        return command

    return decorate
