"""`hotfix drill`."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click

from hotfix_actions.commands._cluster import check_names, cluster_options, open_cluster
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.commands._duration import POSITIVE_DURATION
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.decide.durations import format_duration
from hotfix_actions.decide.names import image_problem
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

__all__ = ["command"]

SANDBOX_BAD_IMAGE = "ghcr.io/acme/shop:1.4.3-rc1"


@contextmanager
def _sandbox(edge: Edge) -> Iterator[tuple[dict[str, str], str]]:
    """A local stack with the current release recorded as the last-known-good; yields (environment, kubeconfig)."""
    from hotfix_actions.sandbox.stack import LocalStack, StackSettings
    from hotfix_actions.services.demo import run_hotfix

    with (
        tempfile.TemporaryDirectory(prefix="hotfix-drill-") as tmp,
        LocalStack.start(Path(tmp), StackSettings()) as stack,
    ):
        if not stack.prometheus_url:
            raise UsageError(
                "the drill's canary gate reads Prometheus, which is not installed",
                input_name="--sandbox",
                fix="apt-get install prometheus",
            )
        env = {**edge.env, **stack.env()}
        edge.reporter.step(
            f"sandbox: cluster {stack.sandbox.url if stack.sandbox else '?'}, prometheus {stack.prometheus_url}"
        )
        code, _, _ = run_hotfix(
            ["promote", "-d", stack.settings.deployment, "--image", stack.settings.image],
            cwd=Path(tmp),
            env=env,
            say=edge.reporter.info,
        )
        if code != 0:
            raise UsageError("could not record the sandbox's last-known-good", input_name="--sandbox")
        yield env, stack.kubeconfig_path


@hotfix_command("drill", short_help="Practise a rollback: a failing canary must be caught, the LKG restored.")
@click.option("--sandbox", is_flag=True, help="Drill on a local sandbox stack (cluster, sample apps, Prometheus).")
@click.option("--deployment", "-d", envvar="HOTFIX_DEPLOYMENT", default=None, help="Deployment (staging!).")
@click.option(
    "--bad-image",
    envvar="HOTFIX_BAD_IMAGE",
    default=None,
    help="An image known to fail (errors, latency or crash-looping pods).",
)
@click.option("--container", default=None, help="Container to break (default: the first).")
@click.option("--interval", type=POSITIVE_DURATION, default="2s", show_default=True, help="Canary analysis interval.")
@click.option("--duration", type=POSITIVE_DURATION, default="2m", show_default=True, help="Longest canary analysis.")
@click.option(
    "--restore/--no-restore",
    default=True,
    show_default=True,
    help="Also break the primary on purpose and check that the emergency rollback restores it.",
)
@cluster_options
def command(
    *,
    edge: Edge,
    sandbox: bool,
    deployment: str | None,
    bad_image: str | None,
    container: str | None,
    interval: float,
    duration: float,
    restore: bool,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    context: str | None,
    namespace: str | None,
) -> Outcome:
    """Practise the bad day, as the seed's runbook asks: against the sandbox (--sandbox) or a real staging
    namespace, deploy a deliberately failing canary, check that the gate catches it and rolls it back, then (with
    --restore) set the bad image on the primary and check that the emergency rollback restores the last-known-good.
    Reports time to detect and time to restore. Never point it at production.
    """
    from hotfix_actions.services import drill
    from hotfix_actions.services.demo import run_hotfix

    if sandbox:
        deployment, bad_image, namespace = deployment or "shop", bad_image or SANDBOX_BAD_IMAGE, "shop"
    if not deployment or not bad_image:
        raise UsageError(
            "a drill needs a target",
            input_name="--deployment/--bad-image",
            fix="pass --sandbox, or --deployment and --bad-image for a staging namespace",
        )
    check_names(deployment=deployment, namespace=namespace)
    if problem := image_problem(bad_image):
        raise UsageError(f"{bad_image[:80]!r} {problem}", input_name="--bad-image")

    def execute(env: dict[str, str], kubeconfig: str | None) -> Outcome:
        merged = dict(env)
        cfg = edge.config().section(ClusterConfig)
        with open_cluster(
            edge, cfg, kubeconfig=kubeconfig, kubeconfig_data=kubeconfig_data, context=context, namespace=namespace
        ) as cluster:
            merged.setdefault("HOTFIX_NAMESPACE", cluster.namespace)

            def hotfix(args: Sequence[str]) -> tuple[int, dict[str, object], float]:
                return run_hotfix(args, cwd=Path.cwd(), env=merged, say=edge.reporter.info)

            request = drill.DrillRequest(
                deployment=str(deployment),
                namespace=cluster.namespace,
                bad_image=str(bad_image),
                container=container,
                interval=format_duration(interval),
                duration=format_duration(duration),
                restore=restore,
            )
            return drill.run(request, cluster, hotfix, edge.reporter)

    if not sandbox:
        return execute(dict(edge.env), kubeconfig)
    with _sandbox(edge) as (env, sandbox_kubeconfig):
        return execute(env, sandbox_kubeconfig)
