"""The `hotfix` command line: a click group whose commands load only when called.

Each command parses its inputs (click options, environment variables named HOTFIX_*), wires the adapters, calls
one service, reports, and exits 0 pass, 1 rejected, 2 usage or config error, 3 could not evaluate. `hotfix --help`
imports no SDK: command modules are imported lazily and their one-line help is kept here.
"""

from __future__ import annotations

import importlib
import io
import sys
import traceback
from typing import NoReturn

import click

from hotfix_actions import __version__

__all__ = ["COMMANDS", "main"]

# name -> (module, one-line help). Keep the list to commands that exist.
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("hotfix_actions.commands.validate", "Check that a hotfix branch is fit for production."),
    "start": ("hotfix_actions.commands.start", "Create hotfix/v<next patch>-<slug> from the production head."),
    "config": ("hotfix_actions.commands.config", "Show the effective .hotfix.yml or its JSON Schema."),
    "merge-back": (
        "hotfix_actions.commands.merge_back",
        "Merge a finished hotfix into develop and open release branches; tag and release it.",
    ),
    "deployment": ("hotfix_actions.commands.deployment", "Record a GitHub Deployment: start, finish, last-successful."),
    "notify": ("hotfix_actions.commands.notify", "Send one notification (Slack, webhook, Teams, Discord)."),
    "postmortem": ("hotfix_actions.commands.postmortem", "Open the post-mortem issue of an incident (once)."),
    "db": ("hotfix_actions.commands.db", "Back up, verify, restore and list PostgreSQL backups."),
    "sandbox": ("hotfix_actions.commands.sandbox", "Run the local simulated Kubernetes cluster (up, down, status)."),
    "rollback": (
        "hotfix_actions.commands.rollback",
        "Emergency rollback of a Deployment: undo, blue-green, redeploy or auto.",
    ),
    "promote": ("hotfix_actions.commands.promote", "Set the image on the primary Deployment, verify, record the LKG."),
    "status": ("hotfix_actions.commands.status", "Revisions with images, the last-known-good and the lock holder."),
    "snapshot": ("hotfix_actions.commands.snapshot", "YAML of a namespace or Deployment plus the LKG records."),
    "canary": (
        "hotfix_actions.commands.canary",
        "Deploy a canary, judge it against the baseline, roll it back on failure.",
    ),
    "demo": (
        "hotfix_actions.commands.demo",
        "Run the whole pipeline twice on a local sandbox: a bad hotfix, then a good one.",
    ),
    "drill": (
        "hotfix_actions.commands.drill",
        "Practise a rollback: a failing canary must be caught and the last-known-good restored.",
    ),
    "monitor": ("hotfix_actions.commands.monitor", "Watch a Deployment after promotion; roll it back when it fails."),
    "fleet": ("hotfix_actions.commands.fleet", "One hotfix across many clusters in waves: promote, rollback, status."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = module.command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
# allow_from_autoenv=False: with auto_envvar_prefix="HOTFIX", the flag would read HOTFIX_VERSION, which commands use
# for a release version (promote, merge-back, notify).
@click.version_option(
    __version__, "--version", prog_name="hotfix", message="%(prog)s %(version)s", allow_from_autoenv=False
)
def cli() -> None:
    """Ship a production hotfix on Kubernetes safely and fast; roll back in seconds when it fails.

    Exit codes: 0 pass, 1 rejected, 2 usage or config error, 3 could not evaluate; the commands that write to a
    cluster add 4 locked (another run holds the Lease), 5 superseded (another writer changed the Deployment after
    ours), 130 after SIGINT and 143 after SIGTERM.
    Every command takes --json and then prints one JSON object: verdict, reasons, outputs.
    """


def main(argv: list[str] | None = None) -> NoReturn:
    # Every option can also come from HOTFIX_<COMMAND>_<OPTION> (e.g. HOTFIX_NOTIFY_EVENT), which is how the root
    # action passes values without putting them on a command line; options that name their own variable keep it.
    # click's own messages quote the values they refuse, so they are printed through the same gate as everything
    # else (report.print_lines): a refused value cannot become a workflow command.
    from hotfix_actions.report import print_lines

    sys.excepthook = lambda kind, exc, tb: print_lines("".join(traceback.format_exception(kind, exc, tb)))
    try:
        code = cli.main(args=argv, prog_name="hotfix", auto_envvar_prefix="HOTFIX", standalone_mode=False)
    except click.ClickException as exc:
        shown = io.StringIO()
        exc.show(file=shown)
        print_lines(shown.getvalue())
        code = exc.exit_code
    except click.Abort:
        print_lines("Aborted!")
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
