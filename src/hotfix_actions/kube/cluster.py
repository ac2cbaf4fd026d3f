"""``KubeCluster``: the ``ports.Cluster`` adapter (HTTP to the API server, see ``_http`` and ``_transport``).

Objects are the API's own JSON (camelCase, as ``kubectl get -o json`` shows them). General enough for every
service: rollback, promote and the canary gate (create ``<name>-canary``, ``set_images``, ``scale``,
``wait_for_rollout``, ``delete``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from hotfix_actions.decide.lkg import with_images
from hotfix_actions.decide.names import dns1123_label_problem, dns1123_subdomain_problem
from hotfix_actions.decide.rollout import RolloutResult
from hotfix_actions.decide.tracking import IMMEDIATE_REASONS, Expectation, with_change_cause
from hotfix_actions.errors import ConflictError, NotFoundError, UsageError
from hotfix_actions.kube._connect import Connection
from hotfix_actions.kube._lease import Leases
from hotfix_actions.kube._transport import RetryPolicy, Transport
from hotfix_actions.kube._wait import RolloutWaiter
from hotfix_actions.ports import KubeObject, LeaseState

__all__ = ["KINDS", "KubeCluster"]

# plural -> (API prefix, namespaced, apiVersion, kind, singular for messages)
KINDS: dict[str, tuple[str, bool, str, str]] = {
    "deployments": ("/apis/apps/v1", True, "apps/v1", "Deployment"),
    "replicasets": ("/apis/apps/v1", True, "apps/v1", "ReplicaSet"),
    "pods": ("/api/v1", True, "v1", "Pod"),
    "services": ("/api/v1", True, "v1", "Service"),
    "events": ("/api/v1", True, "v1", "Event"),
    "configmaps": ("/api/v1", True, "v1", "ConfigMap"),
    "leases": ("/apis/coordination.k8s.io/v1", True, "coordination.k8s.io/v1", "Lease"),
    "namespaces": ("/api/v1", False, "v1", "Namespace"),
}


def _check_name(value: str, what: str) -> None:
    problem = dns1123_subdomain_problem(value) if what != "namespace" else dns1123_label_problem(value)
    if problem:
        raise UsageError(f"{value!r} {problem}", input_name=what, fix=f"pass a valid Kubernetes {what} name")


class KubeCluster:
    """One cluster context. Use as a context manager (or call ``close``) so a temporary kubeconfig is removed."""

    def __init__(
        self,
        connection: Connection,
        policy: RetryPolicy | None = None,
        *,
        poll_interval: float = 1.0,
        on_retry: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.connection = connection
        self.transport = Transport(
            connection.http, policy or RetryPolicy(), sleep=sleep, clock=clock, on_retry=on_retry
        )
        self.leases = Leases(self.transport, now)
        self.waiter = RolloutWaiter(self.transport, poll_interval=poll_interval, clock=clock, sleep=sleep)

    def __enter__(self) -> KubeCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    @property
    def namespace(self) -> str:
        return self.connection.namespace

    def describe(self) -> str:
        context = f" (context {self.connection.context})" if self.connection.context else ""
        return f"{self.connection.host}{context}"

    # -- paths -------------------------------------------------------------------------------------------
    def _path(self, kind: str, namespace: str | None, name: str | None = None, sub: str | None = None) -> str:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
        prefix, namespaced, _, _ = KINDS[kind]
        path = prefix
        if namespaced:
            if not namespace:
                raise UsageError("a namespace is needed", input_name="namespace")
            _check_name(namespace, "namespace")
            path += f"/namespaces/{namespace}"
        path += f"/{kind}"
        if name is not None:
            _check_name(name, "name")
            path += f"/{name}"
        return path + (f"/{sub}" if sub else "")

    @staticmethod
    def _what(kind: str, namespace: str | None, name: str | None = None) -> str:
        singular = KINDS[kind][3].lower() if kind in KINDS else kind
        where = f' in namespace "{namespace}"' if namespace and KINDS.get(kind, ("", True))[1] else ""
        return f'{singular} "{name}"{where}' if name else f"{kind}{where}"

    # -- reads -------------------------------------------------------------------------------------------
    def get(self, kind: str, namespace: str, name: str) -> KubeObject:
        return self.transport.request("GET", self._path(kind, namespace, name), what=self._what(kind, namespace, name))

    def list_objects(self, kind: str, namespace: str, *, labels: Mapping[str, str] | None = None) -> list[KubeObject]:
        query = {"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))} if labels else None
        body = self.transport.request("GET", self._path(kind, namespace), what=self._what(kind, namespace), query=query)
        _, _, api_version, kind_name = KINDS[kind]
        items = list(body.get("items") or [])
        for item in items:  # list items come without apiVersion/kind; snapshots need them
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind_name)
        return items

    def namespace_exists(self, namespace: str) -> bool:
        try:
            self.get("namespaces", "", namespace)
        except NotFoundError:
            return False
        return True

    def owned_replicasets(self, deployment: KubeObject) -> list[KubeObject]:
        meta = deployment.get("metadata") or {}
        labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
        uid = meta.get("uid")
        return [
            rs
            for rs in self.list_objects("replicasets", meta.get("namespace") or self.namespace, labels=labels)
            if any(
                o.get("uid") == uid and o.get("controller")
                for o in (rs.get("metadata") or {}).get("ownerReferences") or ()
            )
        ]

    def events(self, namespace: str, involved: str) -> list[KubeObject]:
        items = self.list_objects("events", namespace)
        found = [e for e in items if (e.get("involvedObject") or {}).get("name") == involved]
        return sorted(found, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))

    # -- writes ------------------------------------------------------------------------------------------
    def create(self, kind: str, namespace: str, obj: KubeObject) -> KubeObject:
        name = (obj.get("metadata") or {}).get("name")
        return self.transport.request(
            "POST", self._path(kind, namespace), what=self._what(kind, namespace, name), body=obj
        )

    def replace(self, kind: str, namespace: str, obj: KubeObject) -> KubeObject:
        meta = obj.get("metadata") or {}
        name = meta.get("name")
        if not meta.get("resourceVersion"):
            raise ValueError("replace needs metadata.resourceVersion: writes are conditional")
        return self.transport.request(
            "PUT", self._path(kind, namespace, name), what=self._what(kind, namespace, name), body=obj
        )

    def delete(self, kind: str, namespace: str, name: str) -> None:
        try:
            self.transport.request(
                "DELETE",
                self._path(kind, namespace, name),
                what=self._what(kind, namespace, name),
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            )
        except NotFoundError:
            return

    def scale(self, namespace: str, deployment: str, replicas: int) -> KubeObject:
        if replicas < 0:
            raise UsageError(f"{replicas} is negative", input_name="replicas")
        return self.transport.request(
            "PATCH",
            self._path("deployments", namespace, deployment, "scale"),
            what=self._what("deployments", namespace, deployment) + " (scale)",
            body={"spec": {"replicas": replicas}},
            content_type="application/merge-patch+json",
        )

    def set_images(
        self, namespace: str, deployment: str, images: Mapping[str, str], change_cause: str = ""
    ) -> KubeObject:
        """Like ``kubectl set image`` but each write carries the resourceVersion just read. The images do not depend
        on what was read, so a lost race (a status update, another writer) is re-read and retried, 5 times at most."""
        for attempt in range(5):
            current = self.get("deployments", namespace, deployment)
            spec = current.get("spec") or {}
            template, missing = with_images(spec.get("template") or {}, images)
            if missing:
                names = [c.get("name") for c in (template.get("spec") or {}).get("containers") or ()]
                raise UsageError(
                    f"deployment {deployment} has no container named {', '.join(missing)} "
                    f"(containers: {', '.join(str(n) for n in names)})",
                    input_name="container",
                    fix="pass one of the container names",
                )
            body = copy.deepcopy(current)
            body.pop("status", None)
            body["spec"]["template"] = template
            if change_cause:
                meta = body["metadata"]
                meta["annotations"] = with_change_cause(meta.get("annotations") or {}, change_cause, template)
            try:
                return self.replace("deployments", namespace, body)
            except ConflictError:
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def set_service_selector(
        self,
        namespace: str,
        service: KubeObject,
        selector: Mapping[str, str],
        annotations: Mapping[str, str] | None = None,
    ) -> KubeObject:
        body = copy.deepcopy(service)
        body.pop("status", None)
        meta = body.setdefault("metadata", {})
        meta.pop("managedFields", None)
        body.setdefault("spec", {})["selector"] = dict(selector)
        if annotations:
            meta["annotations"] = {**(meta.get("annotations") or {}), **annotations}
        return self.replace("services", namespace, body)

    # -- leases and rollouts -----------------------------------------------------------------------------
    def acquire_lease(self, namespace: str, name: str, holder: str, ttl_seconds: int) -> LeaseState:
        _check_name(name, "name")
        return self.leases.acquire(namespace, name, holder, ttl_seconds)

    def release_lease(self, namespace: str, name: str, holder: str) -> None:
        self.leases.release(namespace, name, holder)

    def read_lease(self, namespace: str, name: str) -> LeaseState | None:
        return self.leases.read(namespace, name)

    def server_time(self) -> float | None:
        return self.transport.server_time()

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
        immediate_reasons: Sequence[str] = IMMEDIATE_REASONS,
    ) -> RolloutResult:
        _check_name(deployment, "name")
        _check_name(namespace, "namespace")
        return self.waiter.wait(
            namespace,
            deployment,
            timeout=timeout,
            fail_fast_after=fail_fast_after,
            on_progress=on_progress,
            expect=expect,
            settle=settle,
            immediate_reasons=immediate_reasons,
        )
