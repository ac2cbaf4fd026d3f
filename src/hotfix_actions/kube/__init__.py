"""The Kubernetes adapter: the official ``kubernetes`` client is imported here only, and lazily.

``connect(options, policy)`` gives a ``KubeCluster`` (the ``ports.Cluster`` implementation). Importing this
package costs nothing: the SDK loads when a connection is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hotfix_actions.kube._connect import ConnectOptions, decode_kubeconfig, kubeconfig_secrets
from hotfix_actions.kube._transport import RetryPolicy

if TYPE_CHECKING:
    from hotfix_actions.kube.cluster import KubeCluster

__all__ = ["ConnectOptions", "RetryPolicy", "connect", "decode_kubeconfig", "kubeconfig_secrets"]


def connect(
    options: ConnectOptions,
    policy: RetryPolicy | None = None,
    *,
    poll_interval: float = 1.0,
    on_retry: Callable[[str], None] | None = None,
) -> KubeCluster:
    """Open a connection (kubeconfig, base64 kubeconfig or in-cluster) and wrap it as a ``KubeCluster``."""
    from hotfix_actions.kube._connect import open_connection
    from hotfix_actions.kube.cluster import KubeCluster

    return KubeCluster(open_connection(options), policy, poll_interval=poll_interval, on_retry=on_retry)
