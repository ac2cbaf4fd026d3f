"""`hotfix notify`."""

from __future__ import annotations

import re

import click

from hotfix_actions.commands._common import Edge, hotfix_command, repo_root
from hotfix_actions.config.notify import EVENT_KINDS, NotifyConfig
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

__all__ = ["command"]

_FIELD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}$")


def _one_line(value: str, name: str, limit: int) -> str:
    if "\n" in value or "\r" in value or len(value) > limit:
        raise UsageError(f"must be one line of at most {limit} characters", input_name=name)
    return value


@hotfix_command("notify", short_help="Send one notification (Slack, webhook, Teams, Discord).")
@click.option("--event", "kind", envvar="HOTFIX_EVENT", required=True, type=click.Choice(EVENT_KINDS))
@click.option("--title", envvar="HOTFIX_TITLE", default="", help="One line (default: from the event and version).")
@click.option("--version", "version", envvar="HOTFIX_VERSION", default="")
@click.option("--verdict", envvar="HOTFIX_VERDICT", default="")
@click.option("--environment", envvar="HOTFIX_ENVIRONMENT", default="")
@click.option("--reason", "reasons", multiple=True, help="A reason, with its numbers; repeat for more.")
@click.option(
    "--reasons-json", envvar="HOTFIX_REASONS", default="", help="Reasons as a JSON list (a step's `reasons` output)."
)
@click.option("--field", "fields", multiple=True, help="name=value shown with the message; repeat for more.")
@click.option("--repo", "repo_path", envvar="HOTFIX_REPO", default=".", type=click.Path(file_okay=False, exists=True))
def command(
    *,
    edge: Edge,
    kind: str,
    title: str,
    version: str,
    verdict: str,
    environment: str,
    reasons: tuple[str, ...],
    reasons_json: str,
    fields: tuple[str, ...],
    repo_path: str,
) -> Outcome:
    """Send one event to every configured webhook: HOTFIX_SLACK_WEBHOOK_URL (Block Kit), HOTFIX_WEBHOOK_URL (JSON,
    signed with HOTFIX_WEBHOOK_SECRET), HOTFIX_TEAMS_WEBHOOK_URL, HOTFIX_DISCORD_WEBHOOK_URL. A delivery failure is
    a warning and exits 0; a malformed URL exits 2.
    """
    import json
    from pathlib import Path

    from hotfix_actions import notify
    from hotfix_actions.commands.merge_back import run_url
    from hotfix_actions.ports import Event
    from hotfix_actions.services import notify as service

    cfg = edge.config(repo_root(Path(repo_path).resolve())).section(NotifyConfig)
    notifier = notify.build(notify.urls_from_env(edge.env), cfg, mask=edge.reporter.mask, strict=True)
    all_reasons = list(reasons)
    if reasons_json:
        try:
            loaded = json.loads(reasons_json)
        except ValueError as exc:
            raise UsageError(
                f"is not a JSON list of strings: {reasons_json[:80]!r}", input_name="--reasons-json"
            ) from exc
        if not isinstance(loaded, list) or not all(isinstance(r, str) for r in loaded):
            raise UsageError(f"is not a JSON list of strings: {reasons_json[:80]!r}", input_name="--reasons-json")
        all_reasons += loaded
    pairs = []
    for item in fields:
        name, sep, value = item.partition("=")
        if not sep or not _FIELD.match(name):
            raise UsageError(
                f"{item[:60]!r} is not name=value", input_name="--field", fix="e.g. --field Image=app@sha256:..."
            )
        pairs.append((name, _one_line(value, "--field", 300)))
    default_title = f"Hotfix {version}: {kind.replace('_', ' ')}" if version else f"Hotfix: {kind.replace('_', ' ')}"
    event = Event(
        kind=kind,
        title=_one_line(title, "--title", 200) or default_title,
        version=_one_line(version, "--version", 64),
        verdict=_one_line(verdict, "--verdict", 32),
        reasons=tuple(r[:500] for r in all_reasons[:30]),
        actor=edge.env.get("GITHUB_ACTOR", ""),
        run_url=run_url(edge.env),
        environment=_one_line(environment, "--environment", 64),
        fields=tuple(pairs),
    )
    return service.run(event, cfg, notifier, edge.reporter)
