"""What a newcomer reads in `--help`: the options the first hour tripped over say what they take."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from hotfix_actions.cli import cli
from hotfix_actions.commands._duration import DurationParam


def option(command: str, name: str) -> click.Option:
    cmd = cli.get_command(click.Context(cli), command)
    assert isinstance(cmd, click.Command)
    found = next(p for p in cmd.params if isinstance(p, click.Option) and name in p.opts)
    return found


@pytest.mark.parametrize(
    ("command", "name", "words"),
    [
        ("promote", "--fail-fast-after", "CrashLoopBackOff"),
        ("rollback", "--fail-fast-after", "CrashLoopBackOff"),
        ("start", "--repo", "git work tree"),
        ("start", "--push", "a plain `git push` works next"),
        ("canary", "--deployment", "required, except with --replay"),
        ("rollback", "--snapshot-dir", "~/.local/state/hotfix-actions/snapshots"),
    ],
)
def test_the_options_that_tripped_a_newcomer_have_help(command: str, name: str, words: str) -> None:
    assert words in (option(command, name).help or "")
    shown = CliRunner().invoke(cli, [command, "--help"], terminal_width=200)
    assert shown.exit_code == 0 and name in shown.output


DURATIONS = [
    ("promote", "--timeout"),
    ("promote", "--lock-timeout"),
    ("promote", "--fail-fast-after"),
    ("promote", "--settle"),
    ("rollback", "--timeout"),
    ("rollback", "--lock-timeout"),
    ("rollback", "--fail-fast-after"),
    ("rollback", "--settle"),
    ("rollback", "--grace-period"),
    ("canary", "--interval"),
    ("canary", "--duration"),
    ("monitor", "--interval"),
    ("monitor", "--duration"),
    ("drill", "--interval"),
    ("drill", "--duration"),
]


@pytest.mark.parametrize(("command", "name"), DURATIONS)
def test_every_duration_option_takes_the_config_forms(command: str, name: str) -> None:
    opt = option(command, name)
    assert isinstance(opt.type, DurationParam)
    assert opt.type.convert("1h30m", opt, None) == 5400.0 and opt.type.convert(" 90s ", opt, None) == 90.0
    with pytest.raises(click.BadParameter, match=r"'5min' is not a duration: write the unit 'min' as m; e\.g\. 5m"):
        opt.type.convert("5min", opt, None)
