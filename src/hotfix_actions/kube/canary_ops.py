"""Canary operations over ``ports.Cluster``: create or update ``<name>-canary``, read readiness, undo a canary.

Plain functions over the port (no SDK here), so they run against the real adapter, the sandbox or a test double.
Every write goes through the port's conditional writes (resourceVersion preconditions, set_images retries).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hotfix_actions.errors import UsageError
from hotfix_actions.ports import Cluster, KubeObject

__all__ = ["CanaryTarget", "container_images", "ensure_canary", "previous_pods", "ready_counts", "undo_canary"]

CANARY_OF = "hotfix-actions.io/canary-of"
_DROP_META = (
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "ownerReferences",
)


@dataclass(frozen=True)
class CanaryTarget:
    """What ``ensure_canary`` did: the canary's name, the image it now runs and what it ran before."""

    name: str
    container: str
    image: str
    primary_image: str
    previous_image: str | None  # None when the canary Deployment was created now
    created: bool
    replicas: int


def container_images(deployment: KubeObject) -> dict[str, str]:
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {str(c.get("name")): str(c.get("image")) for c in spec.get("containers") or ()}


def _pick_container(primary: KubeObject, name: str, container: str | None) -> str:
    images = container_images(primary)
    if container:
        if container not in images:
            raise UsageError(
                f"deployment {name} has no container {container!r} (containers: {', '.join(images)})",
                input_name="--container",
            )
        return container
    if len(images) != 1:
        raise UsageError(
            f"deployment {name} has {len(images)} containers ({', '.join(images)})",
            input_name="--container",
            fix="name the container whose image the canary changes",
        )
    return next(iter(images))


def _canary_body(primary: KubeObject, canary: str, track_label: str, replicas: int, primary_name: str) -> KubeObject:
    body: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment"}
    meta = copy.deepcopy(primary.get("metadata") or {})
    for key in _DROP_META:
        meta.pop(key, None)
    annotations = {
        k: v for k, v in (meta.get("annotations") or {}).items() if not k.startswith("deployment.kubernetes")
    }
    annotations[CANARY_OF] = primary_name
    meta.update(name=canary, annotations=annotations, labels={**(meta.get("labels") or {}), track_label: "canary"})
    body["metadata"] = meta
    spec = copy.deepcopy(primary.get("spec") or {})
    spec["replicas"] = replicas
    spec.pop("paused", None)
    selector = spec.setdefault("selector", {})
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), track_label: "canary"}
    template_meta = spec.setdefault("template", {}).setdefault("metadata", {})
    template_meta["labels"] = {**(template_meta.get("labels") or {}), track_label: "canary"}
    body["spec"] = spec
    return body


def ensure_canary(
    cluster: Cluster,
    namespace: str,
    primary_name: str,
    canary_name: str,
    *,
    image: str | None,
    container: str | None,
    replicas: int,
    track_label: str,
    change_cause: str = "",
) -> CanaryTarget:
    """Set the image on the canary Deployment, or create it from the primary's template; scale it to ``replicas``
    when it was scaled to zero. Without ``image`` the canary keeps (or, when created, copies) its image."""
    from hotfix_actions.errors import NotFoundError

    primary = cluster.get("deployments", namespace, primary_name)
    name = _pick_container(primary, primary_name, container)
    primary_image = container_images(primary)[name]
    try:
        existing: KubeObject | None = cluster.get("deployments", namespace, canary_name)
    except NotFoundError:
        existing = None
    if existing is None:
        body = _canary_body(primary, canary_name, track_label, replicas, primary_name)
        for c in body["spec"]["template"]["spec"]["containers"]:
            if c.get("name") == name and image:
                c["image"] = image
        cluster.create("deployments", namespace, body)
        return CanaryTarget(canary_name, name, image or primary_image, primary_image, None, True, replicas)
    before = container_images(existing).get(name)
    if before is None:
        raise UsageError(f"canary deployment {canary_name} has no container {name!r}", input_name="--container")
    if image and image != before:
        cluster.set_images(namespace, canary_name, {name: image}, change_cause)
    current_replicas = int((existing.get("spec") or {}).get("replicas") or 0)
    if current_replicas < 1:
        cluster.scale(namespace, canary_name, replicas)
        current_replicas = replicas
    return CanaryTarget(canary_name, name, image or before, primary_image, before, False, current_replicas)


def ready_counts(cluster: Cluster, namespace: str, deployment: str) -> tuple[int, int]:
    """(ready, desired) pods of a Deployment from its status (ready pods of the current and older ReplicaSets)."""
    obj = cluster.get("deployments", namespace, deployment)
    desired = int((obj.get("spec") or {}).get("replicas") or 0)
    ready = int((obj.get("status") or {}).get("readyReplicas") or 0)
    return ready, desired


def previous_pods(cluster: Cluster, namespace: str, deployment: str) -> list[KubeObject]:
    """Pods of a Deployment's earlier templates that still exist: owned by one of its ReplicaSets other than the
    live revision's, Terminating or not. Until they are gone they may still serve (in-flight requests for their
    grace period) and their series carry the Deployment's labels. Pods are matched by owner, not by labels, so a
    selector shared with another Deployment (the primary) never makes its pods look like ours."""
    from hotfix_actions.decide.lkg import REVISION

    obj = cluster.get("deployments", namespace, deployment)
    live = str(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, ""))
    owned = cluster.owned_replicasets(obj)
    older = {
        str((rs.get("metadata") or {}).get("uid"))
        for rs in owned
        if str(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "")) != live
    }
    if not older:
        return []
    selector = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    pods = cluster.list_objects("pods", namespace, labels=selector or None)
    return [
        p
        for p in pods
        if any(
            ref.get("controller") and str(ref.get("uid")) in older
            for ref in (p.get("metadata") or {}).get("ownerReferences") or ()
        )
    ]


def undo_canary(cluster: Cluster, namespace: str, target: CanaryTarget, mode: str, change_cause: str = "") -> str:
    """Take a failed canary out of service: ``scale-to-zero`` or ``primary-image``. Returns what was done."""
    if mode == "scale-to-zero":
        cluster.scale(namespace, target.name, 0)
        return f"scaled {target.name} to 0 replicas"
    if mode == "primary-image":
        cluster.set_images(namespace, target.name, {target.container: target.primary_image}, change_cause)
        return f"set {target.name} container {target.container} back to the primary's image {target.primary_image}"
    raise UsageError(f"unknown rollback mode {mode!r}", input_name="canary.rollback")
