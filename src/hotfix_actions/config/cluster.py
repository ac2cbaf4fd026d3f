"""`cluster:` how to reach Kubernetes and how patiently to talk to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig

__all__ = ["ClusterConfig"]


@dataclass(frozen=True)
class ClusterConfig(SectionConfig):
    SECTION: ClassVar[str] = "cluster"

    context: str | None = None  # kubeconfig context (default: the current context)
    namespace: str | None = None  # default: the context's namespace, the pod's, else "default"
    connect_timeout: float = 5.0  # seconds per request to connect
    request_timeout: float = 15.0  # seconds per request to read the answer
    retries: int = 5  # retries of one call on 5xx, 429 and timeouts (with backoff)
    backoff_initial: float = 0.25  # seconds before the first retry, doubling each time
    backoff_max: float = 4.0
    api_deadline: float = 15.0  # seconds the API server may stay silent (or one call may take) before giving up
    poll_interval: float = 1.0  # seconds between reads when a watch is not available
    fail_fast_after: float | None = 90.0  # fail a rollout once a slower pod reason (ErrImagePull, Unschedulable) lasts
    # pod reasons that fail a rollout at once, as does any restart of a new pod (decide.tracking)
    fail_at_once: tuple[str, ...] = (
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "CreateContainerConfigError",
        "InvalidImageName",
    )
