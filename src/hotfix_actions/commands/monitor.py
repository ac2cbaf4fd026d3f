"""`hotfix monitor`: watch a Deployment after promotion; run the emergency rollback when it fails."""

from __future__ import annotations

from pathlib import Path

import click

from hotfix_actions.commands._cluster import (
    check_names,
    cluster_options,
    guarded,
    open_cluster,
    run_context,
    run_identity,
)
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.commands._duration import POSITIVE_DURATION
from hotfix_actions.commands.canary import metrics_for, prometheus_options
from hotfix_actions.config.canary import CanaryConfig
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.config.rollback import RollbackConfig
from hotfix_actions.report import Outcome

__all__ = ["command"]


@hotfix_command("monitor", short_help="Watch a Deployment after promotion; roll it back when it fails.")
@click.option("--deployment", "-d", envvar="HOTFIX_DEPLOYMENT", required=True, help="Env: HOTFIX_DEPLOYMENT.")
@click.option(
    "--interval",
    envvar="HOTFIX_INTERVAL",
    type=POSITIVE_DURATION,
    default=None,
    help="Between checks, e.g. 15s (default: canary.monitor.interval, 15s).",
)
@click.option(
    "--duration",
    envvar="HOTFIX_DURATION",
    type=POSITIVE_DURATION,
    default=None,
    help="How long to watch, e.g. 10m (default: canary.monitor.duration, 10m).",
)
@click.option(
    "--strategy",
    envvar="HOTFIX_STRATEGY",
    type=click.Choice(["undo", "blue-green", "redeploy", "auto"]),
    default=None,
    help="Rollback strategy on failure (default: .hotfix.yml rollback.strategy).",
)
@click.option("--severity", envvar="HOTFIX_SEVERITY", type=click.Choice(["critical", "high", "medium", "low"]))
@click.option(
    "--to",
    "to_source",
    envvar="HOTFIX_TO",
    type=click.Choice(["previous-lkg", "lkg"]),
    default="previous-lkg",
    show_default=True,
    help="Rollback target: the release recorded before the promoted one (the promoted release is the "
    "last-known-good, and it is the one failing), or the last-known-good record.",
)
@click.option("--environment", envvar="HOTFIX_ENVIRONMENT", default="", help="GitHub environment (deployments).")
@click.option("--github-token", envvar="HOTFIX_GITHUB_TOKEN", default=None, help="Record GitHub Deployments.")
@click.option("--record", envvar="HOTFIX_RECORD", type=click.Path(dir_okay=False), default=None, help="Save polls.")
@prometheus_options
@cluster_options
def command(
    *,
    edge: Edge,
    deployment: str,
    interval: float | None,
    duration: float | None,
    strategy: str | None,
    severity: str | None,
    to_source: str,
    environment: str,
    github_token: str | None,
    record: str | None,
    prometheus_url: str | None,
    prometheus_token: str | None,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    context: str | None,
    namespace: str | None,
) -> Outcome:
    """Watch a promoted Deployment with the canary judge's guardrails and fail-closed rules (one arm, no
    baseline); when it fails, run the emergency rollback (the same service as `hotfix rollback`).

    Exit 0 watched without a failure, 1 failed (rollback attempted), 2 bad input, 3 could not evaluate;
    130/143 stopped by SIGINT/SIGTERM (the rollback it ran, if any, says what it left running).
    """
    from hotfix_actions.services import monitor
    from hotfix_actions.services.canary_loop import settings_from_config
    from hotfix_actions.services.rollback import RollbackRequest
    from hotfix_actions.services.rollback import run as rollback_run

    edge.reporter.mask(github_token)
    check_names(deployment=deployment)
    config = edge.config()
    cfg = config.section(CanaryConfig)
    cluster_cfg = config.section(ClusterConfig)
    settings = settings_from_config(
        cfg,
        interval=cfg.monitor.interval if interval is None else interval,
        duration=cfg.monitor.duration if duration is None else duration,
        compare=False,
    )
    run_id, run_url = run_identity(edge.env)

    def body() -> Outcome:
        with (
            metrics_for(edge, cfg, prometheus_url, prometheus_token) as metrics,
            open_cluster(
                edge,
                cluster_cfg,
                kubeconfig=kubeconfig,
                kubeconfig_data=kubeconfig_data,
                context=context,
                namespace=namespace,
            ) as cluster,
        ):

            def rollback(reason: str) -> Outcome:
                request = RollbackRequest(
                    namespace=cluster.namespace,
                    deployment=deployment,
                    strategy=strategy,
                    severity=severity,
                    to_previous=to_source == "previous-lkg",
                    fail_fast_after=cluster_cfg.fail_fast_after,
                    fail_at_once=cluster_cfg.fail_at_once,
                    run_id=run_id,
                    run_url=run_url,
                    reason=reason,
                    environment=environment,
                    actor=edge.env.get("GITHUB_ACTOR", ""),
                    ref=edge.env.get("GITHUB_SHA", ""),
                )
                ctx = run_context(edge, cluster, github_token)
                return rollback_run(request, config.section(RollbackConfig), ctx)

            request = monitor.MonitorRequest(cluster.namespace, deployment, Path(record) if record else None)
            return monitor.run(
                request, settings, cluster=cluster, metrics=metrics, reporter=edge.reporter, rollback=rollback
            )

    return guarded("monitor", body)
