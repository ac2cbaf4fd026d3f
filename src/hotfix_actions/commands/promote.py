"""`hotfix promote` (the promote action)."""

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
from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import HealthCheck, RollbackConfig
from hotfix_actions.decide.names import image_problem
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

__all__ = ["command"]


@hotfix_command("promote", short_help="Set the image on the primary Deployment, verify it, record the LKG.")
@click.option(
    "--deployment", "-d", envvar="HOTFIX_DEPLOYMENT", required=True, help="Deployment. Env: HOTFIX_DEPLOYMENT."
)
@click.option("--image", envvar="HOTFIX_IMAGE", required=True, help="Image to promote. Env: HOTFIX_IMAGE.")
@click.option("--container", "containers", envvar="HOTFIX_CONTAINERS", multiple=True, help="Container(s) to update.")
@click.option("--change-cause", envvar="HOTFIX_CHANGE_CAUSE", default="", help="kubernetes.io/change-cause text.")
@click.option(
    "--canary",
    envvar="HOTFIX_CANARY",
    type=click.Choice(["follow", "scale-to-zero", "ignore"]),
    default=None,
    help="What <deployment>-canary does afterwards (default: .hotfix.yml promote.canary, scale-to-zero).",
)
@click.option(
    "--rollback-on-failure/--no-rollback-on-failure",
    envvar="HOTFIX_ROLLBACK_ON_FAILURE",
    default=None,
    help="Roll back to the last-known-good when the promote fails (default: yes).",
)
@click.option(
    "--timeout", envvar="HOTFIX_TIMEOUT", type=POSITIVE_DURATION, default=None, help="Wait for the rollout, e.g. 10m."
)
@click.option(
    "--lock-timeout", envvar="HOTFIX_LOCK_TIMEOUT", type=ANY_DURATION, default=None, help="Wait for a lock, e.g. 60s."
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
    help="After the rollout completes, watch the new pods this long (a restart fails the promote), e.g. 30s "
    "(default: promote.settle_seconds, 15s).",
)
@click.option(
    "--snapshot-dir",
    envvar="HOTFIX_SNAPSHOT_DIR",
    default=None,
    help="Folder for the YAML snapshot taken first (default: promote.snapshot_dir, else as for rollback); the path "
    "is printed.",
)
@click.option("--smoke-url", "smoke_urls", envvar="HOTFIX_SMOKE_URLS", multiple=True, help="URL that must answer.")
@click.option("--smoke-status", envvar="HOTFIX_SMOKE_STATUS", type=int, default=200, show_default=True)
@click.option("--smoke-retries", envvar="HOTFIX_SMOKE_RETRIES", type=int, default=5, show_default=True)
@click.option("--dry-run", is_flag=True, envvar="HOTFIX_DRY_RUN", help="Print the plan; change nothing.")
@click.option("--environment", envvar="HOTFIX_ENVIRONMENT", default="", help="GitHub environment (deployments).")
@click.option("--version", "release", envvar="HOTFIX_VERSION", default="", help="Release version, for the record.")
@click.option("--github-token", envvar="HOTFIX_GITHUB_TOKEN", default=None, help="Record GitHub Deployments.")
@cluster_options
def command(
    *,
    edge: Edge,
    deployment: str,
    image: str,
    containers: tuple[str, ...],
    change_cause: str,
    canary: str | None,
    rollback_on_failure: bool | None,
    timeout: float | None,
    lock_timeout: float | None,
    fail_fast_after: float | None,
    settle_seconds: float | None,
    snapshot_dir: str | None,
    smoke_urls: tuple[str, ...],
    smoke_status: int,
    smoke_retries: int,
    dry_run: bool,
    environment: str,
    release: str,
    github_token: str | None,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    context: str | None,
    namespace: str | None,
) -> Outcome:
    """Promote an image: set it on the primary Deployment (conditional write, change cause), wait by kubectl's rules,
    run the smoke checks, then record it as the last-known-good. The canary follows or scales to zero.

    The wait follows the template written: a new pod that restarts or waits in CrashLoopBackOff, ImagePullBackOff
    or CreateContainerConfigError fails at once, a ReplicaFailure (quota, admission) with its message, and the new
    pods are watched for --settle (promote.settle_seconds, 15 s) after the rollout: no last-known-good while any of
    them restarted. A failed promote rolls back to the previous last-known-good (unless --no-rollback-on-failure)
    and exits 1, saying what it did.

    \b
    Exit codes: 0 promoted and recorded; 1 failed (rolled back unless told not to); 2 bad input; 3 cluster
    unreachable or not answering; 4 locked by another run; 5 superseded (another writer changed the Deployment
    after our write: no LKG, no rollback); 130/143 stopped by SIGINT/SIGTERM (Lease released, one line saying what
    the Deployment was left running).
    """
    from hotfix_actions.services.promote import PromoteRequest, run

    edge.reporter.mask(github_token)
    check_names(deployment=deployment)
    if problem := image_problem(image):  # before anything connects anywhere
        raise UsageError(f"{image[:120]!r} {problem}", input_name="--image", fix="pass the image your build pushed")
    config = edge.config()
    cluster_cfg = config.section(ClusterConfig)
    cfg = config.section(PromoteConfig)
    if smoke_urls:
        checks = tuple(HealthCheck(url=u, expected_status=smoke_status, retries=smoke_retries) for u in smoke_urls)
        cfg = dataclasses.replace(cfg, smoke_checks=cfg.smoke_checks + checks)
    run_id, run_url = run_identity(edge.env)
    lock = config.section(RollbackConfig).lock

    def body() -> Outcome:
        with open_cluster(
            edge,
            cluster_cfg,
            kubeconfig=kubeconfig,
            kubeconfig_data=kubeconfig_data,
            context=context,
            namespace=namespace,
        ) as cluster:
            return run(_request(cluster.namespace), cfg, lock, run_context(edge, cluster, github_token))

    def _request(ns: str) -> PromoteRequest:
        return PromoteRequest(
            namespace=ns,
            deployment=deployment,
            image=image,
            containers=split_names(containers),
            change_cause=change_cause,
            canary=canary,
            rollback_on_failure=rollback_on_failure,
            wait_timeout=timeout,
            lock_timeout=lock_timeout,
            fail_fast_after=cluster_cfg.fail_fast_after if fail_fast_after is None else fail_fast_after,
            fail_at_once=cluster_cfg.fail_at_once,
            settle_seconds=settle_seconds,
            snapshot_dir=snapshot_dir or cfg.snapshot_dir or default_snapshot_dir(edge.env),
            dry_run=dry_run,
            run_id=run_id,
            run_url=run_url,
            environment=environment,
            actor=edge.env.get("GITHUB_ACTOR", ""),
            version=release,
            ref=edge.env.get("GITHUB_SHA", ""),
        )

    return guarded("promote", body)
