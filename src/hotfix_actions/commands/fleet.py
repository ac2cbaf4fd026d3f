"""`hotfix fleet promote|rollback|status|plan|report`: one hotfix across the clusters of `.hotfix.yml` `fleet:`
(the shared wiring is in fleet_wiring.py, the report in fleet_report.py)."""

from __future__ import annotations

import json

import click

from hotfix_actions.commands import fleet_wiring as wiring
from hotfix_actions.commands._cluster import guarded, notifier_for
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.commands._duration import ANY_DURATION
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

WORKFLOW_WAVES = 4  # wave jobs in .github/workflows/fleet.yml

__all__ = ["command"]


@click.group("fleet")
def command() -> None:
    """One hotfix across many clusters, in waves (`.hotfix.yml` fleet:): promote, rollback, status, plan.

    \b
    Exit codes: 0 pass; 1 a gate, promote or bake failed (every target the run touched rolled back) or the run
    failed earlier; 2 bad input or configuration; 3 a cluster or Prometheus did not answer (the run stopped where
    it was, nothing else moved: run the same command again to go on); 4 another run holds a target (its Lease, or
    a fleet run that is not finished); 130/143 stopped by SIGINT/SIGTERM.
    """


@hotfix_command("promote", label="fleet promote")
@click.option("--version", "release", envvar="HOTFIX_VERSION", required=True, help="Release version, e.g. 1.4.3.")
@click.option("--image", envvar="HOTFIX_IMAGE", required=True, help="Image to promote. Env: HOTFIX_IMAGE.")
@click.option(
    "--strategy",
    envvar="HOTFIX_STRATEGY",
    type=click.Choice(["undo", "blue-green", "redeploy", "auto"]),
    default=None,
    help="How a failed run rolls targets back (default: .hotfix.yml rollback.strategy).",
)
@click.option(
    "--lock-timeout", envvar="HOTFIX_LOCK_TIMEOUT", type=ANY_DURATION, default=None, help="Wait for a lock, e.g. 60s."
)
@click.option("--prometheus-token", envvar="HOTFIX_PROMETHEUS_TOKEN", default=None, help="Bearer token for Prometheus.")
@click.option("--dry-run", is_flag=True, envvar="HOTFIX_DRY_RUN", help="Read every target and print the next step.")
@wiring.target_options
def promote_cmd(
    *,
    edge: Edge,
    release: str,
    image: str,
    strategy: str | None,
    lock_timeout: float | None,
    prometheus_token: str | None,
    dry_run: bool,
    target: str | None,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    result_file: str | None,
) -> Outcome:
    """Promote IMAGE wave by wave: in each target of a wave (at most max_parallel at once) the canary gate and the
    promote, exactly as `hotfix canary` and `hotfix promote` do them (one Lease per Deployment), then the whole wave
    watched for its bake time by the monitor's judge; the next wave starts only then.

    A FAIL anywhere stops the run: every target it touched (this wave and every earlier one) goes back to the
    release it ran before, in parallel, by the rollback service; later waves are not touched. The state is kept in
    each target's Deployment (the LKG records and the hotfix-actions.io/fleet-run annotation), so running the same
    command again continues where it stopped and never promotes a wave before the one before is promoted and baked.
    A fleet Lease in every target keeps two fleet runs from interleaving.

    \b
    Exit codes: 0 every wave promoted and baked; 1 a gate, promote or bake failed (the targets it touched rolled
    back) or the run failed earlier; 2 bad input or configuration; 3 a cluster or Prometheus did not answer, or a
    judge could not decide (the run stopped where it was; run it again to go on); 4 another run holds a target;
    130/143 SIGINT/SIGTERM (gates and bakes stopped, the Leases released; run it again to go on).
    """
    from hotfix_actions.services.fleet import promote

    wiring.check_release(release, image)
    wiring.check_kubeconfig_data(target, kubeconfig_data)
    setup = wiring.setup(edge, target)
    settings = wiring.settings(edge, setup, version=release, image=image, lock_timeout=lock_timeout, strategy=strategy)
    opener = wiring.opener(
        edge, setup, kubeconfig=kubeconfig, kubeconfig_data=kubeconfig_data, prometheus_token=prometheus_token
    )
    notifier = notifier_for(edge)
    outcome = guarded(
        "fleet promote", lambda: promote(wiring.request(setup, dry_run), settings, opener, edge.reporter, notifier)
    )
    return wiring.result_file(edge, result_file, outcome)


@hotfix_command("rollback", label="fleet rollback")
@click.option(
    "--to",
    "to_source",
    envvar="HOTFIX_TO",
    type=click.Choice(["lkg", "previous-lkg", "before-run"]),
    default="lkg",
    show_default=True,
    help="lkg: each target's last-known-good; previous-lkg: the release recorded before the newest promoted one; "
    "before-run: the release each ran before the fleet run recorded on it.",
)
@click.option(
    "--version", "release", envvar="HOTFIX_VERSION", default="", help="With --image: only that run's targets."
)
@click.option("--image", envvar="HOTFIX_IMAGE", default="", help="With --version: only that run's targets.")
@click.option(
    "--strategy",
    envvar="HOTFIX_STRATEGY",
    type=click.Choice(["undo", "blue-green", "redeploy", "auto"]),
    default=None,
    help="Default: .hotfix.yml rollback.strategy.",
)
@click.option("--reason", envvar="HOTFIX_REASON", default="", help="Why (incident id); recorded as the change cause.")
@click.option(
    "--lock-timeout", envvar="HOTFIX_LOCK_TIMEOUT", type=ANY_DURATION, default=None, help="Wait for a lock, e.g. 60s."
)
@click.option(
    "--dry-run", is_flag=True, envvar="HOTFIX_DRY_RUN", help="Say where each target would go; change nothing."
)
@wiring.target_options
def rollback_cmd(
    *,
    edge: Edge,
    to_source: str,
    release: str,
    image: str,
    strategy: str | None,
    reason: str,
    lock_timeout: float | None,
    dry_run: bool,
    target: str | None,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    result_file: str | None,
) -> Outcome:
    """Every target back at once, each by the emergency-rollback service (snapshot, Lease, conditional write,
    verified rollout). Idempotent: a target already there is verified and left unchanged (exit 0)."""
    from hotfix_actions.services.fleet_ops import rollback

    if bool(release) != bool(image):
        raise UsageError("--version and --image go together", input_name="--version/--image", fix="pass both")
    if release:
        wiring.check_release(release, image)
        if to_source != "before-run":
            raise UsageError(
                "--version and --image choose a fleet run: they go with --to before-run", input_name="--to"
            )
    wiring.check_kubeconfig_data(target, kubeconfig_data)
    setup = wiring.setup(edge, target)
    settings = wiring.settings(edge, setup, version=release, image=image, lock_timeout=lock_timeout, strategy=strategy)
    opener = wiring.opener(edge, setup, kubeconfig=kubeconfig, kubeconfig_data=kubeconfig_data, prometheus_token=None)
    notifier = notifier_for(edge)
    only = settings.run if release else None
    outcome = guarded(
        "fleet rollback",
        lambda: rollback(
            wiring.request(setup, dry_run),
            settings,
            opener,
            edge.reporter,
            notifier,
            to=to_source,
            only_run=only,
            reason=reason,
        ),
    )
    return wiring.result_file(edge, result_file, outcome)


@hotfix_command("status", label="fleet status")
@wiring.target_options
def status_cmd(
    *, edge: Edge, target: str | None, kubeconfig: str | None, kubeconfig_data: str | None, result_file: str | None
) -> Outcome:
    """Every target, read in parallel: the image that runs, the rollout, the last-known-good, the fleet run recorded
    on it and who holds its locks. Read-only."""
    from hotfix_actions.services.fleet_ops import status

    wiring.check_kubeconfig_data(target, kubeconfig_data)
    setup = wiring.setup(edge, target)
    settings = wiring.settings(edge, setup, version="", image="", lock_timeout=None)
    opener = wiring.opener(edge, setup, kubeconfig=kubeconfig, kubeconfig_data=kubeconfig_data, prometheus_token=None)
    return wiring.result_file(edge, result_file, status(wiring.request(setup, False), settings, opener, edge.reporter))


@hotfix_command("plan", label="fleet plan")
def plan_cmd(*, edge: Edge) -> Outcome:
    """The waves as the fleet workflow runs them (outputs waves, wave-N-name, wave-N-targets as a JSON matrix of
    {target, environment}, wave-N-approval, all-targets). Reads only .hotfix.yml."""
    setup = wiring.setup(edge, None)
    outputs: dict[str, str] = {"waves": str(len(setup.waves))}
    for index in range(1, WORKFLOW_WAVES + 1):  # the workflow's wave jobs read these even when they are skipped
        outputs.update({f"wave-{index}-name": "", f"wave-{index}-targets": "[]", f"wave-{index}-approval": ""})
        outputs[f"wave-{index}-parallel"] = "1"
    everything = []
    for index, wave in enumerate(setup.waves, start=1):
        rows = [
            {"target": t, "environment": setup.fleet.targets[t].environment or t, "wave": wave.name}
            for t in wave.targets
        ]
        everything += rows
        outputs[f"wave-{index}-name"] = wave.name
        outputs[f"wave-{index}-targets"] = json.dumps(rows, separators=(",", ":"))
        outputs[f"wave-{index}-approval"] = setup.fleet.waves[index - 1].environment or ""
        outputs[f"wave-{index}-parallel"] = str(wave.max_parallel)
    outputs["all-targets"] = json.dumps(everything, separators=(",", ":"))
    reasons = [
        f"wave {w.name}: {', '.join(w.targets)} (bake {w.bake:g}s, {w.max_parallel} at once)" for w in setup.waves
    ]
    if len(setup.waves) > WORKFLOW_WAVES:
        reasons.append(
            f"{len(setup.waves)} waves: the fleet workflow runs at most {WORKFLOW_WAVES} (run `hotfix fleet promote` "
            "in one job for more)"
        )
        return Outcome("fleet plan", Verdict.FAIL, reasons, outputs, title="fleet plan")
    return Outcome("fleet plan", Verdict.PASS, reasons, outputs, title="fleet plan")


command.add_command(promote_cmd)
command.add_command(rollback_cmd)
command.add_command(status_cmd)
command.add_command(plan_cmd)


def _add_report() -> None:
    from hotfix_actions.commands.fleet_report import command as report_cmd

    command.add_command(report_cmd)


_add_report()
