"""Which command-line values may move trust: checked once per command, before it does anything.

Two rules, both relaxed only by the configuration from the trusted ref (``security:`` in the file the action's
``config`` input or the working directory's ``.hotfix.yml`` names, never a file named on the command line):

1. Under the root action (``scripts/action-run.sh`` sets HOTFIX_ACTION_ARGS_GUARD=1), the command line is the
   action's ``args`` input, one word per line. A caller who interpolates an event value there lets a newline add
   options; so options that decide where credentials go or what runs with them (``TRUST_OPTIONS``) are refused
   there unless ``security.allow_args`` lists them. The action's typed inputs arrive through the environment.
2. In GitHub Actions, the GitHub API and server URLs are the runner's own (GITHUB_API_URL, GITHUB_SERVER_URL)
   unless ``security.github_api_urls`` / ``github_server_urls`` list the other one: the token goes nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from hotfix_actions.config import Config, load
from hotfix_actions.config.security import TRUST_OPTIONS, SecurityConfig
from hotfix_actions.errors import UsageError

__all__ = ["ARGS_GUARD", "check_trust"]

ARGS_GUARD = "HOTFIX_ACTION_ARGS_GUARD"
_RUNNER_URLS = {
    "github_api_url": ("GITHUB_API_URL", "https://api.github.com", "github_api_urls"),
    "github_server_url": ("GITHUB_SERVER_URL", "https://github.com", "github_server_urls"),
}


def _trusted_config(env: Mapping[str, str]) -> Config:
    """The configuration the caller chose (the action's `config` input, HOTFIX_CONFIG), else the working
    directory's repository's .hotfix.yml; never one named on the command line."""
    named = env.get("HOTFIX_CONFIG", "").strip()
    if named:
        return load(named, required=True)
    here = Path.cwd()
    for candidate in (here, *here.parents):
        if (candidate / ".git").exists():
            return load(candidate / ".hotfix.yml")
    return load(here / ".hotfix.yml")


def _same_url(a: str, b: str) -> bool:
    return a.strip().rstrip("/").lower() == b.strip().rstrip("/").lower()


def check_trust(ctx: click.Context, params: Mapping[str, Any], env: Mapping[str, str]) -> None:
    """Raise UsageError (exit 2, before any side effect) when a command-line value moves trust unallowed."""
    from_args = env.get(ARGS_GUARD) == "1"
    on_command_line = [
        name
        for name in TRUST_OPTIONS
        if name in params and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE
    ]
    in_actions = env.get("GITHUB_ACTIONS") == "true"
    url_params = [n for n in _RUNNER_URLS if params.get(n)] if in_actions else []
    found: list[SecurityConfig] = []

    def security() -> SecurityConfig:  # read only when something would be refused
        if not found:
            found.append(_trusted_config(env).section(SecurityConfig))
        return found[0]

    if from_args and on_command_line:
        refused = [TRUST_OPTIONS[n] for n in on_command_line if TRUST_OPTIONS[n] not in security().allow_args]
        if refused:
            raise UsageError(
                f"{', '.join(refused)} cannot be given through the action's args: "
                "it decides where credentials go or what runs with them",
                input_name="args",
                fix="use the action's own input for it, or list it under security.allow_args in .hotfix.yml on the "
                "default branch",
            )
    for name in url_params:
        variable, default, key = _RUNNER_URLS[name]
        runner = env.get(variable) or default
        value = str(params[name])
        if _same_url(value, runner) or any(_same_url(value, allowed) for allowed in getattr(security(), key)):
            continue
        raise UsageError(
            f"{value[:100]!r} is not this runner's {variable} ({runner[:100]}); the token is sent only there",
            input_name=TRUST_OPTIONS[name],
            fix=f"leave it unset, or list the URL under security.{key} in .hotfix.yml on the default branch",
        )
