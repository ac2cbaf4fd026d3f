"""``KubeScaler``: ``ports.Scaler`` over a Deployment, for `hotfix db restore` (scale the writers to zero and back)."""

from __future__ import annotations

from hotfix_actions.errors import ClusterError
from hotfix_actions.ports import Cluster

__all__ = ["KubeScaler"]


class KubeScaler:
    """Scales one Deployment through the scale subresource and waits by kubectl's rollout rules until it holds."""

    def __init__(self, cluster: Cluster, namespace: str, deployment: str, *, timeout: float = 300.0) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.deployment = deployment
        self.timeout = timeout

    def describe(self) -> str:
        return f"deployment {self.namespace}/{self.deployment}"

    def current_replicas(self) -> int:
        spec = self.cluster.get("deployments", self.namespace, self.deployment).get("spec") or {}
        return int(spec.get("replicas", 1))

    def scale(self, replicas: int) -> None:
        self.cluster.scale(self.namespace, self.deployment, replicas)
        result = self.cluster.wait_for_rollout(self.namespace, self.deployment, timeout=self.timeout)
        if not result.ok:
            raise ClusterError(
                f"{self.describe()} did not reach {replicas} replicas: {result.describe()}",
                fix=f"check the pods: kubectl -n {self.namespace} get pods",
            )
