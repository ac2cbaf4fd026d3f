"""`hotfix status`."""

from __future__ import annotations

import click

from hotfix_actions.commands._cluster import check_names, cluster_options, open_cluster
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.config.rollback import RollbackConfig
from hotfix_actions.report import Outcome

__all__ = ["command"]


@hotfix_command("status", short_help="Revisions with images, the last-known-good and the lock holder.")
@click.option(
    "--deployment", "-d", envvar="HOTFIX_DEPLOYMENT", required=True, help="Deployment. Env: HOTFIX_DEPLOYMENT."
)
@cluster_options
def command(
    *,
    edge: Edge,
    deployment: str,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    context: str | None,
    namespace: str | None,
) -> Outcome:
    """Show a Deployment's rollout state, the live revision and the last-known-good revision (both in the numbering
    of `kubectl rollout history`), every revision's images, ready pods and change cause ("unknown" when another tool
    made it), which revisions are bad and why (a rollback moved away from them, or the live one's pods crash), and
    who holds the lock ("locked by <holder> since <time>, renewed <n> s ago").

    \b
    Exit codes: 0 the live revision is healthy; 1 it is not (a failed rollout, pods that crash); 2 bad input;
    3 cluster unreachable or not answering.
    """
    from hotfix_actions.services.cluster_status import status

    check_names(deployment=deployment)
    config = edge.config()
    with open_cluster(
        edge,
        config.section(ClusterConfig),
        kubeconfig=kubeconfig,
        kubeconfig_data=kubeconfig_data,
        context=context,
        namespace=namespace,
    ) as cluster:
        return status(cluster, cluster.namespace, deployment, lock_prefix=config.section(RollbackConfig).lock.prefix)
