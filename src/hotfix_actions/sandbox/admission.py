"""Admission for pods, as the real API server answers it: a ResourceQuota on the pod count (``exceeded quota``),
and an image policy standing in for a ValidatingAdmissionPolicy (``settings.deny_images``). Both refuse the create
with 403 Forbidden, which the ReplicaSet controller turns into a ``ReplicaFailure`` condition and a ``FailedCreate``
event; the quota controller keeps ``status.hard`` / ``status.used`` of each quota current."""

from __future__ import annotations

import copy
from typing import Any

from hotfix_actions.sandbox.resources import Resource, resource
from hotfix_actions.sandbox.settings import Settings
from hotfix_actions.sandbox.status import ApiError
from hotfix_actions.sandbox.store import Store

__all__ = ["DENY_POLICY", "admit", "sync_quotas"]

Obj = dict[str, Any]
PODS = resource("", "v1", "pods")
QUOTAS = resource("", "v1", "resourcequotas")
DENY_POLICY = "sandbox-image-policy"  # the name the refusal gives, like a ValidatingAdmissionPolicy's


def _counted(pod: Obj) -> bool:
    """kube's pod quota evaluator: a pod counts unless it has finished (Succeeded or Failed)."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def _used_pods(store: Store, namespace: str) -> int:
    return sum(1 for pod in store.list(PODS, namespace)[0] if _counted(pod))


def _limit(quota: Obj) -> int | None:
    hard = (quota.get("spec") or {}).get("hard") or {}
    value = hard.get("pods", hard.get("count/pods"))
    try:
        return int(str(value)) if value is not None else None
    except ValueError:
        return None


def admit(store: Store, settings: Settings, res: Resource, obj: Obj) -> None:
    """Raise the API server's 403 for a pod the image policy or a pod quota refuses."""
    if res.kind != "Pod":
        return
    name = obj["metadata"]["name"]
    namespace = obj["metadata"].get("namespace", "")
    for container in (obj.get("spec") or {}).get("containers") or []:
        image = str(container.get("image") or "")
        if settings.denied(image):
            raise ApiError(
                403,
                f"pods \"{name}\" is forbidden: ValidatingAdmissionPolicy '{DENY_POLICY}' with binding "
                f"'{DENY_POLICY}' denied request: {settings.deny_message}",
                reason="Forbidden",
            )
    used = _used_pods(store, namespace)
    for quota in store.list(QUOTAS, namespace)[0]:
        limit = _limit(quota)
        if limit is not None and used + 1 > limit:
            raise ApiError(
                403,
                f'pods "{name}" is forbidden: exceeded quota: {quota["metadata"]["name"]}, requested: pods=1, '
                f"used: pods={used}, limited: pods={limit}",
                reason="Forbidden",
            )


def sync_quotas(store: Store, write: Any) -> None:
    """The quota controller: ``status.hard`` and ``status.used`` of every quota with a pod limit."""
    for quota in store.list(QUOTAS)[0]:
        limit = _limit(quota)
        if limit is None:
            continue
        key = "pods" if "pods" in ((quota.get("spec") or {}).get("hard") or {}) else "count/pods"
        status = {"hard": {key: str(limit)}, "used": {key: str(_used_pods(store, quota["metadata"]["namespace"]))}}
        if quota.get("status") != status:
            new = copy.deepcopy(quota)
            new["status"] = status
            write(QUOTAS, new)
