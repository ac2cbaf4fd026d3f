"""Shared builders for the sandbox tests: manifests and a deterministic, thread-free cluster (``Sim``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from hotfix_actions.sandbox.api import Api
from hotfix_actions.sandbox.cluster import load_manifests
from hotfix_actions.sandbox.controllers import Controllers
from hotfix_actions.sandbox.resources import resource
from hotfix_actions.sandbox.settings import Settings
from hotfix_actions.sandbox.store import Store

DEPLOYMENTS = resource("apps", "v1", "deployments")
REPLICASETS = resource("apps", "v1", "replicasets")
PODS = resource("", "v1", "pods")
SERVICES = resource("", "v1", "services")
LEASES = resource("coordination.k8s.io", "v1", "leases")
NAMESPACES = resource("", "v1", "namespaces")
EVENTS = resource("", "v1", "events")


def deployment(name: str = "web", image: str = "nginx:1.25", replicas: int = 2, namespace: str = "default",
               **spec: Any) -> dict[str, Any]:  # fmt: skip
    """A Deployment manifest with one container named like the Deployment."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": name, "image": image}]}},
            **spec,
        },
    }  # fmt: skip


def service(name: str = "web", selector: dict[str, str] | None = None, port: int = 80,
            namespace: str = "default") -> dict[str, Any]:  # fmt: skip
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": selector or {"app": name}, "ports": [{"port": port, "targetPort": 8080}]}}  # fmt: skip


class Sim:
    """A cluster without threads or a server: the test owns the clock and runs controller passes itself."""

    def __init__(self, **settings: Any) -> None:
        crash = settings.pop("crash_images", r"(:bad|:crash)")
        pull = settings.pop("pull_fail_images", r":nopull")
        self.settings = Settings(crash_images=Settings.pattern(crash), pull_fail_images=Settings.pattern(pull),
                                 **({"ready_delay": 1.0} | settings))  # fmt: skip
        self.store = Store()
        self.api = Api(self.store, self.settings)
        self.api.bootstrap()
        self.ctl = Controllers(self.api, self.settings)
        self.now = 1_000_000.0

    def apply(self, source: Any) -> list[dict[str, Any]]:
        return [self.api.apply(obj) for obj in load_manifests(source)]

    def settle(self, max_passes: int = 100) -> None:
        """Run passes at the current time until nothing changes."""
        for _ in range(max_passes):
            before = self.store.resource_version
            self.ctl.run_once(self.now)
            if self.store.resource_version == before:
                return
        raise AssertionError("the controllers did not settle")

    def advance(self, seconds: float, step: float = 0.1, observe: Callable[[Sim], None] | None = None) -> None:
        """Move the clock forward in steps, settling (and observing) after each."""
        start, steps = self.now, max(1, round(seconds / step))
        for i in range(1, steps + 1):
            self.now = start + seconds * i / steps
            self.settle()
            if observe is not None:
                observe(self)

    def deployment(self, name: str = "web") -> dict[str, Any]:
        found = self.store.get(DEPLOYMENTS, "default", name)
        assert found is not None
        return found

    def replicasets(self) -> list[dict[str, Any]]:
        return self.store.list(REPLICASETS, "default")[0]

    def pods(self) -> list[dict[str, Any]]:
        return self.store.list(PODS, "default")[0]

    def live_pods(self) -> list[dict[str, Any]]:
        """Pods that are not Terminating (what replicas, surge and availability count, as in kube)."""
        return [p for p in self.pods() if not p["metadata"].get("deletionTimestamp")]

    def set_image(self, image: str, name: str = "web") -> None:
        d = copy.deepcopy(self.deployment(name))
        d["spec"]["template"]["spec"]["containers"][0]["image"] = image
        self.api.update(DEPLOYMENTS, "default", name, d)

    def condition(self, kind: str, name: str = "web") -> dict[str, Any] | None:
        for cond in (self.deployment(name).get("status") or {}).get("conditions") or []:
            if cond["type"] == kind:
                return dict(cond)
        return None


def revision(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"])


def images(rs: dict[str, Any]) -> list[str]:
    return [c["image"] for c in rs["spec"]["template"]["spec"]["containers"]]
