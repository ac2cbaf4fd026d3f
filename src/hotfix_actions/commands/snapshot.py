"""`hotfix snapshot`."""

from __future__ import annotations

from pathlib import Path

import click

from hotfix_actions.commands._cluster import check_names, cluster_options, open_cluster
from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

__all__ = ["command"]


@hotfix_command("snapshot", short_help="YAML of the namespace (or one Deployment) plus the last-known-good records.")
@click.option("--deployment", "-d", envvar="HOTFIX_DEPLOYMENT", default=None, help="Only this Deployment's objects.")
@click.option("--output", "-o", "output", envvar="HOTFIX_OUTPUT", default=None, help="File to write (default: stdout).")
@cluster_options
def command(
    *,
    edge: Edge,
    deployment: str | None,
    output: str | None,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    context: str | None,
    namespace: str | None,
) -> Outcome | None:
    """What `kubectl get all -o yaml` gives (pods, services, deployments, replicasets), plus the LKG records, as one
    YAML List; with --deployment only that Deployment, its ReplicaSets, pods and Services."""
    from hotfix_actions.services.cluster_status import snapshot

    check_names(deployment=deployment or None)
    with open_cluster(
        edge,
        edge.config().section(ClusterConfig),
        kubeconfig=kubeconfig,
        kubeconfig_data=kubeconfig_data,
        context=context,
        namespace=namespace,
        announce=bool(output),
    ) as cluster:
        text, count = snapshot(cluster, cluster.namespace, deployment or None)
    if not output:
        edge.reporter.document(text)
        return None
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc}", input_name="--output") from exc
    return Outcome(
        command="snapshot",
        verdict=Verdict.PASS,
        reasons=[f"{count} objects written to {output}"],
        outputs={"snapshot": output, "objects": str(count)},
        title="snapshot",
    )
