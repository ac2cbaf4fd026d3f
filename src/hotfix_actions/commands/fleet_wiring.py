"""What the `hotfix fleet` commands share: the targets and waves of `.hotfix.yml` as the services take them, the
run's settings, each target's connections (its kubeconfig source, context, namespace, Prometheus), the options of
one target, and the checks made before anything connects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hotfix_actions.commands._cluster import check_names, default_snapshot_dir, open_cluster, run_identity
from hotfix_actions.commands._common import Edge
from hotfix_actions.config import Config
from hotfix_actions.config.canary import CanaryConfig
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.config.fleet import FleetConfig, check
from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import RollbackConfig
from hotfix_actions.decide.durations import parse_duration
from hotfix_actions.decide.fleet import Wave, fleet_id
from hotfix_actions.decide.names import image_problem
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

if TYPE_CHECKING:
    from hotfix_actions.services.fleet import FleetRequest
    from hotfix_actions.services.fleet_target import FleetSettings, Opener, TargetPorts, TargetSpec

__all__ = [
    "Setup",
    "check_kubeconfig_data",
    "check_release",
    "opener",
    "request",
    "result_file",
    "settings",
    "setup",
    "target_options",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Setup:
    config: Config
    fleet: FleetConfig
    specs: tuple[TargetSpec, ...]
    waves: tuple[Wave, ...]
    wave_count: int


def setup(edge: Edge, target: str | None) -> Setup:
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
    return Setup(config, fleet, tuple(specs), tuple(waves), len(fleet.waves))


def request(setup: Setup, dry_run: bool) -> FleetRequest:
    from hotfix_actions.services.fleet import FleetRequest

    return FleetRequest(setup.specs, setup.waves, setup.wave_count, dry_run=dry_run)


def settings(
    edge: Edge, setup: Setup, *, version: str, image: str, lock_timeout: float | None, strategy: str | None = None
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


def opener(
    edge: Edge, setup: Setup, *, kubeconfig: str | None, kubeconfig_data: str | None, prometheus_token: str | None
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


def result_file(edge: Edge, path: str | None, outcome: Outcome) -> Outcome:
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


def target_options(fn: F) -> F:
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


def check_release(version: str, image: str) -> None:
    if problem := image_problem(image):
        raise UsageError(f"{image[:120]!r} {problem}", input_name="--image", fix="pass the image your build pushed")
    if not version.strip() or len(version) > 100 or any(not c.isprintable() or c.isspace() for c in version):
        raise UsageError(
            f"{version[:60]!r} is not a version: one word of at most 100 printable characters",
            input_name="--version",
            fix="e.g. --version 1.4.3",
        )


def check_kubeconfig_data(target: str | None, data: str | None) -> None:
    if data and target is None:
        raise UsageError(
            "--kubeconfig-data is the kubeconfig of one target",
            input_name="--kubeconfig-data",
            fix="pass --target with it, or name each target's kubeconfig in .hotfix.yml fleet.targets",
        )
    if target is not None:
        check_names(target=target)
