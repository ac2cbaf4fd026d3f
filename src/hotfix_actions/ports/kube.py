"""Kubernetes: one cluster (Deployments, Leases, pods), and the HTTP health checks of what it serves."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hotfix_actions.decide.rollout import RolloutResult
    from hotfix_actions.decide.tracking import Expectation


# -- kubernetes (issue 3) ------------------------------------------------------------------------------
KubeObject = dict[str, Any]
"""A Kubernetes object as the API serves it: plain JSON (camelCase keys), ``metadata.resourceVersion`` included."""


@dataclass(frozen=True)
class LeaseState:
    """A coordination.k8s.io Lease used as a lock: who holds it, until when, and whether we do now."""

    namespace: str
    name: str
    holder: str  # "" when nobody holds it
    acquired: bool  # True when the caller holds it after the call
    renewed: str  # RFC 3339 time of the last renewal ("" when unknown)
    duration_seconds: int
    reason: str  # why it was (not) acquired, with the numbers
    acquired_at: str = ""  # RFC 3339 time the holder took it (spec.acquireTime)
    renewed_ago: float | None = None  # seconds since the last renewal, by the reader's clock

    def describe(self) -> str:
        """The lock in words: "locked by <holder> since <time>, renewed <n> s ago" (or "free")."""
        if not self.holder:
            return "free"
        since = f" since {self.acquired_at}" if self.acquired_at else ""
        ago = f", renewed {self.renewed_ago:.0f} s ago" if self.renewed_ago is not None else ""
        return f"locked by {self.holder}{since}{ago} (TTL {self.duration_seconds} s)"


class Cluster(Protocol):
    """One Kubernetes cluster (one kubeconfig context). Implemented by ``kube.KubeCluster``.

    ``kind`` is the plural resource name: deployments, replicasets, pods, services, events, leases, configmaps,
    namespaces. Errors: NotFoundError (404), ConflictError (409: re-read and decide again), ClusterError (anything
    else after bounded retries). Every write that updates carries the ``metadata.resourceVersion`` it was given.
    """

    @property
    def namespace(self) -> str:
        """The namespace used when a caller has none: the option, the context's, the pod's, else "default"."""
        ...

    def describe(self) -> str:
        """Server URL and context, for logs (no credentials)."""
        ...

    def get(self, kind: str, namespace: str, name: str) -> KubeObject: ...
    def list_objects(
        self, kind: str, namespace: str, *, labels: Mapping[str, str] | None = None
    ) -> list[KubeObject]: ...
    def namespace_exists(self, namespace: str) -> bool: ...
    def owned_replicasets(self, deployment: KubeObject) -> list[KubeObject]:
        """ReplicaSets whose controller ownerReference is this Deployment's uid (what kubectl rollout history uses)."""
        ...

    def create(self, kind: str, namespace: str, obj: KubeObject) -> KubeObject:
        """POST; an existing name is a ConflictError."""
        ...

    def replace(self, kind: str, namespace: str, obj: KubeObject) -> KubeObject:
        """PUT the whole object; its metadata.resourceVersion is the precondition (409 -> ConflictError)."""
        ...

    def delete(self, kind: str, namespace: str, name: str) -> None:
        """DELETE; an absent object is not an error."""
        ...

    def scale(self, namespace: str, deployment: str, replicas: int) -> KubeObject:
        """Set spec.replicas through the scale subresource; returns the Scale."""
        ...

    def set_images(
        self, namespace: str, deployment: str, images: Mapping[str, str], change_cause: str = ""
    ) -> KubeObject:
        """Read, set each named container's image, replace with the read resourceVersion (like kubectl set image,
        but conditional; a lost race is re-read and retried a few times, since the images do not depend on what was
        read). UsageError naming the containers when one is missing."""
        ...

    def set_service_selector(
        self,
        namespace: str,
        service: KubeObject,
        selector: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
    ) -> KubeObject:
        """PUT the Service as it was read with a new spec.selector (and added annotations): one request,
        conditional on the resourceVersion it carries (a change since the read is a ConflictError)."""
        ...

    def events(self, namespace: str, involved: str) -> list[KubeObject]:
        """Events whose involvedObject has this name, oldest first."""
        ...

    def acquire_lease(self, namespace: str, name: str, holder: str, ttl_seconds: int) -> LeaseState:
        """Take (or renew) the lease when it is free, ours or expired; otherwise say who holds it. Never waits."""
        ...

    def release_lease(self, namespace: str, name: str, holder: str) -> None:
        """Give the lease up if we hold it (clears the holder); someone else's lease is left alone."""
        ...

    def read_lease(self, namespace: str, name: str) -> LeaseState | None: ...

    def server_time(self) -> float | None:
        """The API server's clock at its last answer (epoch seconds), None before any answer."""
        ...

    def wait_for_rollout(
        self,
        namespace: str,
        deployment: str,
        *,
        timeout: float,
        fail_fast_after: float | None = None,
        on_progress: Callable[[str], None] | None = None,
        expect: Expectation | None = None,
        settle: float = 0.0,
        immediate_reasons: Sequence[str] = ...,
    ) -> RolloutResult:
        """Wait by kubectl's rollout-status rules (decide.rollout); on failure or timeout name the blocking pod
        reason. With ``expect`` (what our write left), follow it: another writer's template is SUPERSEDED, a new
        pod's restart or a reason in ``immediate_reasons`` fails at once, a ReplicaFailure fails with its message;
        ``settle`` seconds after completion keep watching (decide.tracking). Never raises for a failed rollout."""
        ...


# -- HTTP health checks (issue 3) ----------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeResult:
    """One health check: passed or not, the last status seen, how many tries and seconds it took."""

    url: str
    ok: bool
    status: int | None
    attempts: int
    seconds: float
    detail: str


class Probe(Protocol):
    """HTTP health checks of a released application (``kube.probe.HttpProbe``, httpx inside)."""

    def check(
        self, url: str, *, expected_status: int = 200, retries: int = 5, interval: float = 2.0, timeout: float = 5.0
    ) -> ProbeResult:
        """GET ``url`` until it answers ``expected_status``; never raises: the result says what happened."""
        ...
