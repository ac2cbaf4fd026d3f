"""`hotfix fleet report`: the fleet workflow's last job. Every per-target job wrote its results (--result-file);
this reads them all, prints one table, sends ONE notification for the run and, when the run failed, opens ONE
post-mortem issue whose timeline lists every target's steps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from hotfix_actions.commands._cluster import notifier_for
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

__all__ = ["command"]

_MAX_FILES = 500
_MAX_BYTES = 1 << 20


@hotfix_command("report", label="fleet report")
@click.option(
    "--results",
    "folder",
    envvar="HOTFIX_RESULTS",
    required=True,
    type=click.Path(file_okay=False, exists=True),
    help="Folder with the JSON results the per-target jobs wrote (--result-file), in any sub-folders.",
)
@click.option("--version", "release", envvar="HOTFIX_VERSION", default="", help="The fleet run's version.")
@click.option("--image", envvar="HOTFIX_IMAGE", default="", help="The fleet run's image.")
@click.option("--postmortem", is_flag=True, envvar="HOTFIX_POSTMORTEM", help="Open the post-mortem issue on failure.")
@click.option("--github-token", envvar="HOTFIX_GITHUB_TOKEN", default=None, help="For the post-mortem issue.")
@click.option("--github-repository", envvar="GITHUB_REPOSITORY", default=None)
@click.option("--github-api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True)
def command(
    *,
    edge: Edge,
    folder: str,
    release: str,
    image: str,
    postmortem: bool,
    github_token: str | None,
    github_repository: str | None,
    github_api_url: str,
) -> Outcome:
    """One table, one notification and (with --postmortem, on failure) one post-mortem issue for a fleet run
    whose targets ran as separate jobs. Reads no cluster: what is not in the results is "no job ran for it"."""
    from hotfix_actions.commands.fleet_wiring import settings as fleet_settings
    from hotfix_actions.commands.fleet_wiring import setup as fleet_setup
    from hotfix_actions.services import fleet_report as fr
    from hotfix_actions.services.fleet_ops import report

    edge.reporter.mask(github_token)
    setup = fleet_setup(edge, None)
    settings = fleet_settings(edge, setup, version=release, image=image, lock_timeout=None)
    files = sorted(Path(folder).rglob("*.json"))[: _MAX_FILES + 1]
    if len(files) > _MAX_FILES:
        raise UsageError(f"more than {_MAX_FILES} result files", input_name="--results", fix="name the run's folder")
    results = []
    for path in files:
        try:
            if path.stat().st_size > _MAX_BYTES:
                raise ValueError(f"larger than {_MAX_BYTES // 1024} KiB")
            results += fr.from_data(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise UsageError(f"{path.name}: not a fleet result ({exc})", input_name="--results") from exc
    outcome = report(setup.specs, results, settings, edge.reporter, notifier_for(edge))
    if postmortem and outcome.verdict is not Verdict.PASS:
        _postmortem(edge, outcome, release, image, github_token, github_repository, github_api_url)
    return outcome


def _postmortem(
    edge: Edge,
    outcome: Outcome,
    release: str,
    image: str,
    token: str | None,
    repository: str | None,
    api_url: str,
) -> None:
    """One issue for the whole fleet run: its timeline is every step of every target."""
    from hotfix_actions.commands.merge_back import run_url
    from hotfix_actions.decide import postmortem as pm
    from hotfix_actions.github.connect import connect, options
    from hotfix_actions.services import fleet_report as fr
    from hotfix_actions.services import postmortem

    if not token or not repository:
        edge.reporter.annotate("warning", "no post-mortem issue: it needs github-token (issues: write)")
        return
    results = fr.from_data(json.loads(outcome.outputs["results"]))
    entries = []
    rolled: list[datetime] = []
    for r in results:
        for name, step in r.steps():
            at = datetime.fromtimestamp(step.started + step.seconds, UTC)
            entries.append(
                pm.Entry(at, f"{r.target} (wave {r.wave}): {name} {step.verdict.value}: {step.reason}"[:300])
            )
            if name == "rollback" and step.verdict is Verdict.PASS:
                rolled.append(at)
    run_id = edge.env.get("GITHUB_RUN_ID", "") or "local"
    incident = pm.Incident(
        incident_id=f"fleet-{release or 'run'}-{run_id}"[:64].replace("+", "-"),
        title=f"Fleet hotfix {release or image} failed: " + "; ".join(outcome.reasons)[:150],
        bad_version=release[:64],
        bad_image=image[:300],
        environment="fleet",
        actor=edge.env.get("GITHUB_ACTOR", ""),
        run_url=run_url(edge.env),
        rolled_back_at=max(rolled) if rolled else None,
        events=tuple(sorted(entries, key=lambda e: e.at)),
    )
    client = options(api_url, on_retry=edge.reporter.info)
    made = postmortem.run(incident, connect(token, repository, client), edge.reporter)
    edge.reporter.step(f"post-mortem: {'; '.join(made.reasons)}")
