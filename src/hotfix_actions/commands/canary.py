"""`hotfix canary` (the canary-gate action)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hotfix_actions.commands._cluster import check_names, cluster_options, open_cluster, run_identity
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.commands._duration import ANY_DURATION, POSITIVE_DURATION
from hotfix_actions.config.canary import CanaryConfig
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.decide.canary.templates import parse_duration
from hotfix_actions.decide.names import image_problem
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

if TYPE_CHECKING:
    from hotfix_actions.metrics import PrometheusMetrics

__all__ = ["command", "metrics_for", "parse_time", "prometheus_options"]

F = TypeVar("F", bound=Callable[..., Any])


def parse_time(text: str, now: float, option: str) -> float:
    """Unix seconds, ISO 8601 (``2024-05-01T12:00:00Z``), ``now``, or ``-30m`` (that long before now)."""
    value = text.strip()
    try:
        if value == "now":
            return now
        if value.startswith("-"):
            return now - parse_duration(value[1:])
        try:
            return float(value)
        except ValueError:
            stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if stamp.tzinfo is None:
                raise ValueError("give a time zone (Z or +hh:mm)") from None
            return stamp.timestamp()
    except ValueError as exc:
        raise UsageError(
            f"{text!r} is not a time: {exc}", input_name=option, fix="e.g. 2024-05-01T12:00:00Z or -30m"
        ) from exc


def prometheus_options(fn: F) -> F:
    """--prometheus-url and --prometheus-token."""
    fn = click.option(
        "--prometheus-token",
        envvar="HOTFIX_PROMETHEUS_TOKEN",
        default=None,
        help="Bearer token for Prometheus. Env: HOTFIX_PROMETHEUS_TOKEN.",
    )(fn)
    fn = click.option(
        "--prometheus-url",
        envvar="HOTFIX_PROMETHEUS_URL",
        default=None,
        help="Prometheus base URL (default: .hotfix.yml canary.prometheus_url). Env: HOTFIX_PROMETHEUS_URL.",
    )(fn)
    return fn


def metrics_for(edge: Edge, cfg: CanaryConfig, url: str | None, token: str | None) -> PrometheusMetrics:
    from hotfix_actions.metrics import PrometheusMetrics

    edge.reporter.mask(token)
    chosen = url or cfg.prometheus_url
    if not chosen:
        raise UsageError("no Prometheus URL", input_name="--prometheus-url", fix="pass it or set canary.prometheus_url")
    return PrometheusMetrics(
        chosen, deadline=cfg.query_timeout, bearer_token=token or None, allow_plain_http=cfg.allow_plain_http
    )


@hotfix_command("canary", short_help="Deploy a canary, judge it against the baseline, roll it back on failure.")
@click.option(
    "--deployment",
    "-d",
    envvar="HOTFIX_DEPLOYMENT",
    default=None,
    help="The primary Deployment [required, except with --replay]. Env: HOTFIX_DEPLOYMENT.",
)
@click.option("--image", envvar="HOTFIX_IMAGE", default=None, help="Image for the canary. Env: HOTFIX_IMAGE.")
@click.option("--container", envvar="HOTFIX_CONTAINER", default=None, help="Container to set (needed if several).")
@click.option("--canary", "canary_name", envvar="HOTFIX_CANARY", default=None, help="Default: <deployment>-canary.")
@click.option(
    "--baseline", envvar="HOTFIX_BASELINE", default=None, help="Deployment to compare with (default primary)."
)
@click.option("--replicas", envvar="HOTFIX_REPLICAS", type=click.IntRange(1, 100), default=None)
@click.option(
    "--interval", envvar="HOTFIX_INTERVAL", type=POSITIVE_DURATION, default=None, help="Between analyses (default 15s)."
)
@click.option(
    "--duration", envvar="HOTFIX_DURATION", type=POSITIVE_DURATION, default=None, help="Longest analysis (default 10m)."
)
@click.option(
    "--scrape-interval",
    envvar="HOTFIX_SCRAPE_INTERVAL",
    type=ANY_DURATION,
    default=None,
    help="Prometheus' scrape interval for the pods (default: canary.scrape_interval, 15s). Both arms are read that "
    "much in the past, so a shared incident never reaches the canary's counters first; 0 reads them now.",
)
@click.option(
    "--rollback",
    envvar="HOTFIX_CANARY_ROLLBACK",
    type=click.Choice(["scale-to-zero", "primary-image"]),
    default=None,
    help="What a failed canary gets (default: .hotfix.yml canary.rollback, scale-to-zero).",
)
@click.option("--record", envvar="HOTFIX_RECORD", type=click.Path(dir_okay=False), default=None, help="Save polls.")
@click.option(
    "--replay",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="Judge polls saved with --record; touches neither the cluster nor Prometheus.",
)
@click.option("--from", "time_from", default=None, help="Judge past metrics from this time (no cluster).")
@click.option("--to", "time_to", default=None, help="... to this time (default now).")
@click.option("--dry-run", is_flag=True, envvar="HOTFIX_DRY_RUN", help="Check inputs and Prometheus; deploy nothing.")
@prometheus_options
@cluster_options
def command(
    *,
    edge: Edge,
    deployment: str | None,
    image: str | None,
    container: str | None,
    canary_name: str | None,
    baseline: str | None,
    replicas: int | None,
    interval: float | None,
    duration: float | None,
    scrape_interval: float | None,
    rollback: str | None,
    record: str | None,
    replay: str | None,
    time_from: str | None,
    time_to: str | None,
    dry_run: bool,
    prometheus_url: str | None,
    prometheus_token: str | None,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    context: str | None,
    namespace: str | None,
) -> Outcome:
    """Deploy the canary, judge it against the baseline every --interval for up to --duration, roll it back on FAIL.

    \b
    Judge: anytime-valid sequential tests on error and slow-request counts, one false-rollback budget (alpha, 1% by
    default, however often it looks; the error-rate and p95 limits are judged against the baseline, pods ready is
    read from the cluster), and an early PASS once the canary is shown not worse. Every verdict says what the run
    could have detected. Fails closed: query errors, a query past its deadline, empty results, NaN, too little
    traffic are never a PASS.
    Exit 0 pass, 1 canary failed (rolled back), 2 bad input, 3 could not evaluate (canary left as it is).
    """
    from hotfix_actions.services import canary as service
    from hotfix_actions.services.canary_loop import arm_labels, read_polls, settings_from_config

    config = edge.config()
    cfg = config.section(CanaryConfig)
    settings = settings_from_config(cfg, interval=interval, duration=duration, scrape_interval=scrape_interval)
    if replay:
        if time_from or time_to:
            raise UsageError("--replay and --from/--to exclude each other", input_name="--replay")
        return service.judge_only(settings, edge.reporter, polls=read_polls(Path(replay)))
    if not deployment:
        raise UsageError("missing", input_name="--deployment", fix="name the primary Deployment (or use --replay)")
    check_names(deployment=deployment, canary=canary_name, baseline=baseline)
    if image and (problem := image_problem(image)):
        raise UsageError(f"{image!r} {problem}", input_name="--image", fix="pass registry/name:tag or name@digest")
    if time_from or time_to:
        if not time_from:
            raise UsageError("--to needs --from", input_name="--from")
        now = time.time()
        window = (parse_time(time_from, now, "--from"), parse_time(time_to or "now", now, "--to"))
        ns = namespace or config.section(ClusterConfig).namespace or "default"
        canary = canary_name or f"{deployment}{cfg.suffix}"
        labels = arm_labels(settings, ns, canary, baseline or cfg.baseline or deployment)
        with metrics_for(edge, cfg, prometheus_url, prometheus_token) as metrics:
            return service.judge_only(settings, edge.reporter, metrics=metrics, labels=labels, window=window)
    run_id, _ = run_identity(edge.env)
    cluster_cfg = config.section(ClusterConfig)
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
        request = service.CanaryRequest(
            namespace=cluster.namespace,
            deployment=deployment,
            image=image or None,
            container=container or None,
            canary=canary_name or None,
            baseline=baseline or None,
            replicas=replicas,
            rollback=rollback,
            dry_run=dry_run,
            record=Path(record) if record else None,
            run_id=run_id,
        )
        return service.run(request, settings, cluster=cluster, metrics=metrics, reporter=edge.reporter)
