"""`hotfix fleet promote|rollback|status|plan`: one hotfix across the clusters of `.hotfix.yml` `fleet:`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hotfix_actions.commands._cluster import (
    check_names,
    default_snapshot_dir,
    guarded,
    notifier_for,
    open_cluster,
    run_identity,
)
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.commands._duration import ANY_DURATION
from hotfix_actions.config import Config
from hotfix_actions.config.canary import CanaryConfig
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.config.fleet import FleetConfig, check
from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import RollbackConfig
from hotfix_actions.decide.durations import parse_duration
from hotfix_actions.decide.fleet import Wave, fleet_id
from hotfix_actions.decide.names import image_problem
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

if TYPE_CHECKING:
    from hotfix_actions.services.fleet import FleetRequest
    from hotfix_actions.services.fleet_target import FleetSettings, Opener, TargetPorts, TargetSpec

F = TypeVar("F", bound=Callable[..., Any])
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


@dataclass(frozen=True)
class _Setup:
    config: Config
    fleet: FleetConfig
    specs: tuple[TargetSpec, ...]
    waves: tuple[Wave, ...]
    wave_count: int


def _setup(edge: Edge, target: str | None) -> _Setup:
    from hotfix_actions.services.fleet_target import TargetSpec

    config = edge.config()
    check(config.path, config.document)
    fleet = config.section(FleetConfig)
    if not fleet.waves:
        raise UsageError(
            "no fleet is configured",
            input_name=".hotfix.yml fleet",
            fix="add fleet: with targets and waves (see examples/hotfix.yml and the README's fleet section)",
        )
    cluster = config.section(ClusterConfig)
    canary = config.section(CanaryConfig)
    specs: list[TargetSpec] = []
    waves: list[Wave] = []
    for index, wave in enumerate(fleet.waves):
        name = fleet.wave_name(index)
        waves.append(Wave(name, wave.targets, wave.bake, wave.max_parallel or len(wave.targets), wave.canary))
        for t in wave.targets:
            tc = fleet.targets[t]
            deployment = tc.deployment or fleet.deployment or ""
            specs.append(
                TargetSpec(
                    name=t,
                    wave=name,
                    wave_index=index,
                    deployment=deployment,
                    namespace=tc.namespace or cluster.namespace,
                    service=tc.service,
                    prometheus_url=tc.prometheus_url or canary.prometheus_url,
                )
            )
    if target is not None:
        chosen = [s for s in specs if s.name == target]
        if not chosen:
            raise UsageError(
                f"{target!r} is not a target of the fleet",
                input_name="--target",
                fix="use one of: " + ", ".join(s.name for s in specs),
            )
        one = chosen[0]
        whole = waves[one.wave_index]
        waves = [Wave(whole.name, (one.name,), whole.bake, 1, whole.canary)]
        specs = chosen
    return _Setup(config, fleet, tuple(specs), tuple(waves), len(fleet.waves))


def _request(setup: _Setup, dry_run: bool) -> FleetRequest:
    from hotfix_actions.services.fleet import FleetRequest

    return FleetRequest(setup.specs, setup.waves, setup.wave_count, dry_run=dry_run)


def _settings(
    edge: Edge, setup: _Setup, *, version: str, image: str, lock_timeout: float | None, strategy: str | None = None
) -> FleetSettings:
    from hotfix_actions.services.fleet_target import FleetSettings

    config = setup.config
    canary = config.section(CanaryConfig)
    holder, run_url = run_identity(edge.env)
    interval = setup.fleet.bake_interval
    promote = config.section(PromoteConfig)
    return FleetSettings(
        version=version,
        image=image,
        run=fleet_id(version, image),
        holder=holder,
        canary=canary,
        promote=promote,
        rollback=config.section(RollbackConfig),
        run_url=run_url,
        actor=edge.env.get("GITHUB_ACTOR", ""),
        bake_interval=interval if interval is not None else parse_duration(canary.monitor.interval),
        fail_fast_after=config.section(ClusterConfig).fail_fast_after,
        snapshot_dir=promote.snapshot_dir or default_snapshot_dir(edge.env),
        lock_timeout=lock_timeout,
        lock_prefix=setup.fleet.lock_prefix,
        strategy=strategy,
    )


def _opener(
    edge: Edge, setup: _Setup, *, kubeconfig: str | None, kubeconfig_data: str | None, prometheus_token: str | None
) -> Opener:
    """The targets' connections: the kubeconfig each names (an environment variable, a file), else --kubeconfig or
    the default; --kubeconfig-data (with --target) stands for the one target's source."""
    from hotfix_actions.commands.canary import metrics_for
    from hotfix_actions.kube.probe import HttpProbe
    from hotfix_actions.services.fleet_target import TargetPorts

    cluster_cfg = setup.config.section(ClusterConfig)
    canary_cfg = setup.config.section(CanaryConfig)
    edge.reporter.mask(prometheus_token)

    @contextmanager
    def opener(spec: TargetSpec, metrics: bool) -> Iterator[TargetPorts]:
        target = setup.fleet.targets[spec.name]
        data, path = None, kubeconfig
        if kubeconfig_data:
            data = kubeconfig_data
        elif target.kubeconfig.env:
            data = edge.env.get(target.kubeconfig.env, "").strip()
            if not data:
                raise UsageError(
                    f"environment variable {target.kubeconfig.env} (its kubeconfig) is empty or not set",
                    input_name=f"fleet.targets.{spec.name}.kubeconfig.env",
                    fix=f"map the secret holding the target's base64 kubeconfig to {target.kubeconfig.env}",
                )
        elif target.kubeconfig.file:
            path = target.kubeconfig.file
        with open_cluster(
            edge,
            cluster_cfg,
            kubeconfig=path,
            kubeconfig_data=data,
            context=target.context,
            namespace=spec.namespace,
            announce=False,
        ) as cluster:
            edge.reporter.info(
                f"[{spec.name}] cluster: {cluster.describe()}, namespace {spec.namespace or cluster.namespace}"
            )
            if not metrics:
                yield TargetPorts(cluster, HttpProbe())
                return
            if not spec.prometheus_url:
                raise UsageError(
                    "no Prometheus URL",
                    input_name=f"fleet.targets.{spec.name}.prometheus_url",
                    fix="set it for the target, or canary.prometheus_url for all of them",
                )
            with metrics_for(edge, canary_cfg, spec.prometheus_url, prometheus_token) as prom:
                yield TargetPorts(cluster, HttpProbe(), prom)

    return opener


def _result_file(edge: Edge, path: str | None, outcome: Outcome) -> Outcome:
    """Write the per-target results (secrets scrubbed) where --result-file says: the fleet workflow's report job
    reads every job's file."""
    if path:
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(edge.reporter.redact(outcome.outputs.get("results", "[]")) + "\n", encoding="utf-8")
        except OSError as exc:
            edge.reporter.annotate("warning", f"--result-file {path}: not written ({exc.strerror})")
    return outcome


def _target_option(fn: F) -> F:
    fn = click.option(
        "--result-file",
        envvar="HOTFIX_RESULT_FILE",
        type=click.Path(dir_okay=False),
        default=None,
        help="Also write the per-target results as JSON here (for `hotfix fleet report`).",
    )(fn)
    fn = click.option(
        "--kubeconfig-data",
        envvar="HOTFIX_KUBECONFIG_DATA",
        default=None,
        help="Base64 kubeconfig of the one --target (the fleet workflow passes its environment's KUBECONFIG_B64).",
    )(fn)
    fn = click.option(
        "--kubeconfig",
        envvar="HOTFIX_KUBECONFIG",
        default=None,
        help="Kubeconfig for targets that name no source (default: KUBECONFIG, ~/.kube/config).",
    )(fn)
    return click.option(
        "--target",
        envvar="HOTFIX_TARGET",
        default=None,
        help="Work on this target only (the fleet workflow: one job per target; the order of the waves is then the "
        "workflow's).",
    )(fn)


def _check_release(version: str, image: str) -> None:
    if problem := image_problem(image):
        raise UsageError(f"{image[:120]!r} {problem}", input_name="--image", fix="pass the image your build pushed")
    if not version.strip() or len(version) > 100 or any(not c.isprintable() or c.isspace() for c in version):
        raise UsageError(
            f"{version[:60]!r} is not a version: one word of at most 100 printable characters",
            input_name="--version",
            fix="e.g. --version 1.4.3",
        )


def _check_kubeconfig_data(target: str | None, data: str | None) -> None:
    if data and target is None:
        raise UsageError(
            "--kubeconfig-data is the kubeconfig of one target",
            input_name="--kubeconfig-data",
            fix="pass --target with it, or name each target's kubeconfig in .hotfix.yml fleet.targets",
        )
    if target is not None:
        check_names(target=target)


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
@_target_option
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

    _check_release(release, image)
    _check_kubeconfig_data(target, kubeconfig_data)
    setup = _setup(edge, target)
    settings = _settings(edge, setup, version=release, image=image, lock_timeout=lock_timeout, strategy=strategy)
    opener = _opener(
        edge, setup, kubeconfig=kubeconfig, kubeconfig_data=kubeconfig_data, prometheus_token=prometheus_token
    )
    notifier = notifier_for(edge)
    outcome = guarded(
        "fleet promote", lambda: promote(_request(setup, dry_run), settings, opener, edge.reporter, notifier)
    )
    return _result_file(edge, result_file, outcome)


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
@_target_option
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
        _check_release(release, image)
        if to_source != "before-run":
            raise UsageError(
                "--version and --image choose a fleet run: they go with --to before-run", input_name="--to"
            )
    _check_kubeconfig_data(target, kubeconfig_data)
    setup = _setup(edge, target)
    settings = _settings(edge, setup, version=release, image=image, lock_timeout=lock_timeout, strategy=strategy)
    opener = _opener(edge, setup, kubeconfig=kubeconfig, kubeconfig_data=kubeconfig_data, prometheus_token=None)
    notifier = notifier_for(edge)
    only = settings.run if release else None
    outcome = guarded(
        "fleet rollback",
        lambda: rollback(
            _request(setup, dry_run),
            settings,
            opener,
            edge.reporter,
            notifier,
            to=to_source,
            only_run=only,
            reason=reason,
        ),
    )
    return _result_file(edge, result_file, outcome)


@hotfix_command("status", label="fleet status")
@_target_option
def status_cmd(
    *, edge: Edge, target: str | None, kubeconfig: str | None, kubeconfig_data: str | None, result_file: str | None
) -> Outcome:
    """Every target, read in parallel: the image that runs, the rollout, the last-known-good, the fleet run recorded
    on it and who holds its locks. Read-only."""
    from hotfix_actions.services.fleet_ops import status

    _check_kubeconfig_data(target, kubeconfig_data)
    setup = _setup(edge, target)
    settings = _settings(edge, setup, version="", image="", lock_timeout=None)
    opener = _opener(edge, setup, kubeconfig=kubeconfig, kubeconfig_data=kubeconfig_data, prometheus_token=None)
    return _result_file(edge, result_file, status(_request(setup, False), settings, opener, edge.reporter))


@hotfix_command("plan", label="fleet plan")
def plan_cmd(*, edge: Edge) -> Outcome:
    """The waves as the fleet workflow runs them (outputs waves, wave-N-name, wave-N-targets as a JSON matrix of
    {target, environment}, wave-N-approval, all-targets). Reads only .hotfix.yml."""
    setup = _setup(edge, None)
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
