"""`hotfix rollback` (the emergency-rollback action)."""

from __future__ import annotations

import dataclasses

import click

from hotfix_actions.commands._cluster import (
    check_names,
    cluster_options,
    default_snapshot_dir,
    guarded,
    open_cluster,
    run_context,
    run_identity,
    split_names,
)
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.commands._duration import ANY_DURATION, POSITIVE_DURATION
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.config.rollback import HealthCheck, RollbackConfig
from hotfix_actions.decide.names import image_problem
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

__all__ = ["command", "default_snapshot_dir"]


@hotfix_command("rollback", short_help="Emergency rollback of a Deployment: undo, blue-green, redeploy or auto.")
@click.option(
    "--deployment", "-d", envvar="HOTFIX_DEPLOYMENT", required=True, help="Deployment. Env: HOTFIX_DEPLOYMENT."
)
@click.option(
    "--strategy",
    envvar="HOTFIX_STRATEGY",
    type=click.Choice(["undo", "blue-green", "redeploy", "auto"]),
    default=None,
    help="Default: .hotfix.yml rollback.strategy (undo). Env: HOTFIX_STRATEGY.",
)
@click.option(
    "--severity",
    envvar="HOTFIX_SEVERITY",
    type=click.Choice(["critical", "high", "medium", "low"]),
    default=None,
    help="Row of the strategy matrix used by --strategy auto. Env: HOTFIX_SEVERITY.",
)
@click.option("--to-revision", envvar="HOTFIX_TO_REVISION", type=int, default=None, help="Undo to revision N.")
@click.option("--to-image", envvar="HOTFIX_TO_IMAGE", default=None, help="Undo/redeploy to this image.")
@click.option(
    "--to",
    "to_source",
    envvar="HOTFIX_TO",
    type=click.Choice(["lkg", "previous-lkg", "last-successful-deployment"]),
    default="lkg",
    show_default=True,
    help="Target when no revision or image is given: the last-known-good record; previous-lkg, the release recorded "
    "before the newest promoted one (when that release turned out bad); or the image of the last successful GitHub "
    "deployment of --environment.",
)
@click.option(
    "--container", "containers", envvar="HOTFIX_CONTAINERS", multiple=True, help="Container(s) to set the image on."
)
@click.option("--service", envvar="HOTFIX_SERVICE", default=None, help="blue-green: the Service (default: deployment).")
@click.option("--to-color", envvar="HOTFIX_TO_COLOR", default=None, help="blue-green: the color to switch to.")
@click.option(
    "--keep-failed/--no-keep-failed",
    envvar="HOTFIX_KEEP_FAILED",
    default=None,
    help="blue-green: never scale the failed color down. Env: HOTFIX_KEEP_FAILED.",
)
@click.option(
    "--grace-period",
    envvar="HOTFIX_GRACE_PERIOD",
    type=ANY_DURATION,
    default=None,
    help="blue-green: how long before the failed color is scaled to zero, e.g. 30s.",
)
@click.option(
    "--resume", is_flag=True, envvar="HOTFIX_RESUME", help="Resume a paused Deployment as part of the rollback."
)
@click.option("--dry-run", is_flag=True, envvar="HOTFIX_DRY_RUN", help="Print the plan; change nothing.")
@click.option(
    "--wait/--no-wait",
    envvar="HOTFIX_WAIT",
    default=None,
    help="Wait for the rollout by kubectl's rules (default: yes).",
)
@click.option(
    "--timeout", envvar="HOTFIX_TIMEOUT", type=POSITIVE_DURATION, default=None, help="Wait for the rollout, e.g. 5m."
)
@click.option(
    "--lock-timeout", envvar="HOTFIX_LOCK_TIMEOUT", type=ANY_DURATION, default=None, help="Wait for a lock, e.g. 60s."
)
@click.option(
    "--snapshot-dir",
    envvar="HOTFIX_SNAPSHOT_DIR",
    default=None,
    help="Folder for the YAML snapshot taken first (default: rollback.snapshot_dir, else $RUNNER_TEMP/hotfix-snapshots "
    "on a runner, else ~/.local/state/hotfix-actions/snapshots); the path is printed.",
)
@click.option(
    "--fail-fast-after",
    envvar="HOTFIX_FAIL_FAST_AFTER",
    type=ANY_DURATION,
    default=None,
    help="Fail once a pod reason (CrashLoopBackOff, ImagePullBackOff...) lasts this long, e.g. 90s "
    "(default: cluster.fail_fast_after, 90s).",
)
@click.option(
    "--settle",
    "settle_seconds",
    envvar="HOTFIX_SETTLE",
    type=ANY_DURATION,
    default=None,
    help="After the rollout completes, keep watching it this long, e.g. 30s (default: rollback.settle_seconds, 0).",
)
@click.option("--health-url", "health_urls", envvar="HOTFIX_HEALTH_URLS", multiple=True, help="URL that must answer.")
@click.option("--health-status", envvar="HOTFIX_HEALTH_STATUS", type=int, default=200, show_default=True)
@click.option("--health-retries", envvar="HOTFIX_HEALTH_RETRIES", type=int, default=5, show_default=True)
@click.option("--reason", envvar="HOTFIX_REASON", default="", help="Why: recorded in the change cause.")
@click.option("--environment", envvar="HOTFIX_ENVIRONMENT", default="", help="GitHub environment (deployments).")
@click.option("--github-token", envvar="HOTFIX_GITHUB_TOKEN", default=None, help="Record GitHub Deployments.")
@cluster_options
def command(
    *,
    edge: Edge,
    deployment: str,
    strategy: str | None,
    severity: str | None,
    to_revision: int | None,
    to_image: str | None,
    to_source: str,
    containers: tuple[str, ...],
    service: str | None,
    to_color: str | None,
    keep_failed: bool | None,
    grace_period: float | None,
    resume: bool,
    dry_run: bool,
    wait: bool | None,
    timeout: float | None,
    lock_timeout: float | None,
    snapshot_dir: str | None,
    fail_fast_after: float | None,
    settle_seconds: float | None,
    health_urls: tuple[str, ...],
    health_status: int,
    health_retries: int,
    reason: str,
    environment: str,
    github_token: str | None,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    context: str | None,
    namespace: str | None,
) -> Outcome:
    """Roll a Deployment back to an explicit target, safely and idempotently.

    \b
    undo        to the last-known-good record (or --to-revision N, --to-image IMAGE); never "the previous revision"
    blue-green  switch the Service to the other color once its pods are Ready; retire the failed color after a grace
    redeploy    set an image (default: the last-known-good images) on the named containers
    auto        pick by --severity from the matrix in .hotfix.yml (critical: blue-green, else undo; high: undo;
                medium: redeploy; low: no rollback)

    Takes a Lease per Deployment (TTL 15 s, renewed while it runs), snapshots first, writes only with the
    resourceVersion it read, then waits following what it wrote: kubectl's rules, a new pod that restarts or waits in
    CrashLoopBackOff/ImagePullBackOff/CreateContainerConfigError fails at once, a ReplicaFailure (quota, admission)
    fails with its message, another writer's template is "superseded".

    \b
    Exit codes: 0 done or nothing to do; 1 rollback failed or refused; 2 bad input; 3 cluster unreachable or not
    answering (cluster.api_deadline, 15 s); 4 locked by another run (its holder, since when, last renewal);
    5 superseded (another writer changed the Deployment after our write); 130/143 stopped by SIGINT/SIGTERM (the
    Lease released, one line saying what the Deployment was left running).
    """
    from hotfix_actions.services.rollback import RollbackRequest, run

    edge.reporter.mask(github_token)
    check_names(deployment=deployment, service=service or None)
    if to_image and (problem := image_problem(to_image)):  # before anything connects anywhere
        raise UsageError(f"{to_image[:120]!r} {problem}", input_name="--to-image", fix="pass the image to go back to")
    if to_source == "last-successful-deployment" and not environment:
        raise UsageError("needs --environment", input_name="--to last-successful-deployment")
    config = edge.config()
    cluster_cfg = config.section(ClusterConfig)
    cfg = config.section(RollbackConfig)
    if health_urls:
        checks = tuple(HealthCheck(url=u, expected_status=health_status, retries=health_retries) for u in health_urls)
        cfg = dataclasses.replace(cfg, health_checks=cfg.health_checks + checks)
    run_id, run_url = run_identity(edge.env)

    def body() -> Outcome:
        with open_cluster(
            edge,
            cluster_cfg,
            kubeconfig=kubeconfig,
            kubeconfig_data=kubeconfig_data,
            context=context,
            namespace=namespace,
        ) as cluster:
            return run(_request(cluster.namespace), cfg, run_context(edge, cluster, github_token))

    def _request(ns: str) -> RollbackRequest:
        return RollbackRequest(
            namespace=ns,
            deployment=deployment,
            strategy=strategy,
            severity=severity,
            to_revision=to_revision,
            to_image=to_image or None,
            to_last_successful=to_source == "last-successful-deployment",
            to_previous=to_source == "previous-lkg",
            containers=split_names(containers),
            service=service or None,
            to_color=to_color or None,
            keep_failed=keep_failed,
            grace_seconds=grace_period,
            resume=resume,
            dry_run=dry_run,
            wait=wait,
            wait_timeout=timeout,
            lock_timeout=lock_timeout,
            snapshot_dir=snapshot_dir or cfg.snapshot_dir or default_snapshot_dir(edge.env),
            fail_fast_after=cluster_cfg.fail_fast_after if fail_fast_after is None else fail_fast_after,
            fail_at_once=cluster_cfg.fail_at_once,
            settle_seconds=settle_seconds,
            run_id=run_id,
            run_url=run_url,
            reason=reason,
            environment=environment,
            actor=edge.env.get("GITHUB_ACTOR", ""),
            ref=edge.env.get("GITHUB_SHA", ""),
        )

    return guarded("rollback", body)
