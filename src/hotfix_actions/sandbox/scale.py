"""The ``/scale`` subresource of Deployments and ReplicaSets (``autoscaling/v1`` Scale)."""

from __future__ import annotations

import copy
from typing import Any

from hotfix_actions.sandbox.api import Api, Obj
from hotfix_actions.sandbox.resources import Resource
from hotfix_actions.sandbox.selectors import selector_string
from hotfix_actions.sandbox.status import ApiError, bad_request

__all__ = ["get_scale", "patch_scale", "update_scale"]


def _scale_of(obj: Obj) -> Obj:
    m = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m},
        "spec": {"replicas": int((obj.get("spec") or {}).get("replicas") or 0)},
        "status": {
            "replicas": int((obj.get("status") or {}).get("replicas") or 0),
            "selector": selector_string((obj.get("spec") or {}).get("selector")),
        },
    }


def get_scale(api: Api, res: Resource, namespace: str, name: str) -> Obj:
    return _scale_of(api.get(res, namespace, name))


def _apply_scale(api: Api, res: Resource, current: Obj, scale: Any, dry_run: bool) -> Obj:
    if not isinstance(scale, dict):
        raise bad_request("the body of the request was not a JSON object")
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ApiError(
            422,
            f'Scale.autoscaling "{current["metadata"]["name"]}" is invalid: spec.replicas: '
            f"Invalid value: {replicas}: must be greater than or equal to 0",
        )
    api._precondition(res, current, scale)
    new = copy.deepcopy(current)
    new.setdefault("spec", {})["replicas"] = replicas
    return _scale_of(api.save(res, current, new, dry_run=dry_run))


def update_scale(api: Api, res: Resource, namespace: str, name: str, body: Any, *, dry_run: bool = False) -> Obj:
    with api.store.lock:
        return _apply_scale(api, res, api.get(res, namespace, name), body, dry_run)


def patch_scale(
    api: Api, res: Resource, namespace: str, name: str, content_type: str, patch: Any, *, dry_run: bool = False
) -> Obj:
    with api.store.lock:
        current = api.get(res, namespace, name)
        from hotfix_actions.sandbox.patch import PatchError, json_patch, merge_patch
        from hotfix_actions.sandbox.strategic import strategic_merge

        scale = _scale_of(current)
        try:
            if content_type == "application/json-patch+json":
                patched = json_patch(scale, patch)
            elif content_type == "application/merge-patch+json":
                patched = merge_patch(scale, patch)
            else:
                patched = strategic_merge(scale, patch, "Scale")
        except PatchError as exc:
            raise ApiError(exc.code, str(exc)) from exc
        return _apply_scale(api, res, current, patched, dry_run)
