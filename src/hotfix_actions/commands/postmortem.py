"""`hotfix postmortem`."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.decide.names import url_problem
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

__all__ = ["command"]


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise UsageError(
            f"{value[:40]!r} is not an ISO 8601 time", input_name=name, fix="e.g. 2025-01-31T14:05:00Z"
        ) from exc
    if parsed.tzinfo is None:
        raise UsageError(f"{value[:40]!r} has no time zone", input_name=name, fix="end it with Z or +00:00")
    return parsed.astimezone(UTC)


def _line(value: str, name: str, limit: int = 200) -> str:
    if "\n" in value or len(value) > limit:
        raise UsageError(f"must be one line of at most {limit} characters", input_name=name)
    return value.strip()


@hotfix_command("postmortem", short_help="Open the post-mortem issue of an incident (once), with its timeline.")
@click.option("--incident-id", envvar="HOTFIX_INCIDENT_ID", required=True, help="e.g. INC-42 or the run id.")
@click.option("--title", envvar="HOTFIX_TITLE", default="", help="What broke, in one line.")
@click.option(
    "--severity", envvar="HOTFIX_SEVERITY", default="", type=click.Choice(["", "critical", "high", "medium", "low"])
)
@click.option("--environment", envvar="HOTFIX_ENVIRONMENT", default="production", show_default=True)
@click.option("--detected-at", envvar="HOTFIX_DETECTED_AT", default=None)
@click.option("--canary-at", envvar="HOTFIX_CANARY_AT", default=None)
@click.option("--canary-verdict", envvar="HOTFIX_CANARY_VERDICT", default="")
@click.option("--canary-reason", "canary_reasons", multiple=True)
@click.option("--rolled-back-at", envvar="HOTFIX_ROLLED_BACK_AT", default=None)
@click.option("--recovered-at", envvar="HOTFIX_RECOVERED_AT", default=None)
@click.option("--bad-version", envvar="HOTFIX_BAD_VERSION", default="")
@click.option("--good-version", envvar="HOTFIX_GOOD_VERSION", default="")
@click.option("--bad-image", envvar="HOTFIX_BAD_IMAGE", default="")
@click.option("--good-image", envvar="HOTFIX_GOOD_IMAGE", default="")
@click.option("--event", "events", multiple=True, help="'<ISO time>=<what happened>'; repeat for more.")
@click.option("--link", "links", multiple=True, help="'<name>=<https URL>'; repeat for more.")
@click.option("--dry-run", is_flag=True, envvar="HOTFIX_DRY_RUN", help="Write the body to the summary only.")
@click.option("--github-token", envvar="HOTFIX_GITHUB_TOKEN", default=None)
@click.option("--github-repository", envvar="GITHUB_REPOSITORY", default=None)
@click.option("--github-api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True)
@click.option("--github-write-interval", envvar="HOTFIX_GITHUB_WRITE_INTERVAL", type=float, default=1.0, hidden=True)
def command(
    *,
    edge: Edge,
    incident_id: str,
    title: str,
    severity: str,
    environment: str,
    detected_at: str | None,
    canary_at: str | None,
    canary_verdict: str,
    canary_reasons: tuple[str, ...],
    rolled_back_at: str | None,
    recovered_at: str | None,
    bad_version: str,
    good_version: str,
    bad_image: str,
    good_image: str,
    events: tuple[str, ...],
    links: tuple[str, ...],
    dry_run: bool,
    github_token: str | None,
    github_repository: str | None,
    github_api_url: str,
    github_write_interval: float,
) -> Outcome:
    """Open a GitHub issue labelled post-mortem from the post-incident checklist (1 hour, 24 hours, 1 week) and the
    seven questions, with the incident's timeline. Run it again: the same issue gets the updated timeline as one
    comment, never a second issue.
    """
    from hotfix_actions.commands.merge_back import run_url
    from hotfix_actions.decide import postmortem as pm
    from hotfix_actions.github.connect import connect, options
    from hotfix_actions.services import postmortem

    edge.reporter.mask(github_token)
    if not pm.INCIDENT_ID.match(incident_id):
        raise UsageError(
            f"{incident_id[:64]!r} is not an incident id",
            input_name="--incident-id",
            fix="use letters, digits, '.', '_' and '-', e.g. INC-42",
        )
    entries = []
    for item in events:
        when, sep, what = item.partition("=")
        at = _time(when, "--event") if sep else None
        if at is None:
            raise UsageError(f"{item[:60]!r} is not '<ISO time>=<text>'", input_name="--event")
        entries.append(pm.Entry(at, _line(what, "--event", 300)))
    named = []
    for item in links:
        name, sep, url = item.partition("=")
        if not sep or url_problem(url):
            raise UsageError(f"{item[:60]!r} is not '<name>=<https URL>'", input_name="--link")
        named.append((_line(name, "--link", 60), url.strip()))
    incident = pm.Incident(
        incident_id=incident_id,
        title=_line(title, "--title") or (f"hotfix {bad_version} rolled back" if bad_version else "hotfix rolled back"),
        severity=severity,
        detected_at=_time(detected_at, "--detected-at"),
        canary_verdict=_line(canary_verdict, "--canary-verdict", 32),
        canary_reasons=tuple(r[:500] for r in canary_reasons),
        canary_at=_time(canary_at, "--canary-at"),
        rolled_back_at=_time(rolled_back_at, "--rolled-back-at"),
        recovered_at=_time(recovered_at, "--recovered-at"),
        bad_version=_line(bad_version, "--bad-version", 64),
        good_version=_line(good_version, "--good-version", 64),
        bad_image=_line(bad_image, "--bad-image", 300),
        good_image=_line(good_image, "--good-image", 300),
        environment=_line(environment, "--environment", 64),
        actor=edge.env.get("GITHUB_ACTOR", ""),
        run_url=run_url(edge.env),
        links=tuple(named),
        events=tuple(entries),
    )
    if not dry_run and (not github_token or not github_repository):
        raise UsageError(
            "a GitHub token and repository are needed to open the issue",
            input_name="--github-token",
            fix="pass github-token (issues: write) and GITHUB_REPOSITORY, or --dry-run",
        )
    client = options(github_api_url, write_interval=github_write_interval, on_retry=edge.reporter.info)
    return postmortem.run(incident, connect(github_token, github_repository, client), edge.reporter, dry_run=dry_run)
