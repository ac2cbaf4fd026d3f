"""Strategic merge patch, as kube-apiserver applies it for the types the sandbox serves.

Directives: ``$patch: replace|delete|merge`` (in maps and as list items), ``$retainKeys``,
``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``; ``null`` deletes a key. Lists of maps with a merge
key (``containers`` by ``name``, container ``ports`` by ``containerPort``, Service ``ports`` by ``port``, ...) merge
item by item; other lists are replaced, except primitive lists with the merge strategy (``finalizers``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from hotfix_actions.sandbox.patch import PatchError

__all__ = ["strategic_merge"]


@dataclass(frozen=True)
class _Field:
    type: str | None = None  # the type of the value, or of the list items
    merge_key: str | None = None  # a list of maps merged by this key
    primitive_merge: bool = False  # a list of scalars merged as a set


_META = _Field("ObjectMeta")
_SCHEMA: dict[str, dict[str, _Field]] = {
    "_Generic": {"metadata": _META},
    "ObjectMeta": {"finalizers": _Field(primitive_merge=True), "ownerReferences": _Field(merge_key="uid")},
    "Deployment": {"metadata": _META, "spec": _Field("DeploymentSpec"), "status": _Field("WorkloadStatus")},
    "ReplicaSet": {"metadata": _META, "spec": _Field("ReplicaSetSpec"), "status": _Field("WorkloadStatus")},
    "Pod": {"metadata": _META, "spec": _Field("PodSpec"), "status": _Field("PodStatus")},
    "Service": {"metadata": _META, "spec": _Field("ServiceSpec")},
    "DeploymentSpec": {"template": _Field("PodTemplateSpec")},
    "ReplicaSetSpec": {"template": _Field("PodTemplateSpec")},
    "PodTemplateSpec": {"metadata": _META, "spec": _Field("PodSpec")},
    "PodSpec": {
        "containers": _Field("Container", "name"),
        "initContainers": _Field("Container", "name"),
        "ephemeralContainers": _Field("Container", "name"),
        "volumes": _Field(None, "name"),
        "imagePullSecrets": _Field(None, "name"),
        "hostAliases": _Field(None, "ip"),
        "topologySpreadConstraints": _Field(None, "topologyKey"),
        "resourceClaims": _Field(None, "name"),
        "schedulingGates": _Field(None, "name"),
    },
    "Container": {
        "env": _Field(None, "name"),
        "ports": _Field(None, "containerPort"),
        "volumeMounts": _Field(None, "mountPath"),
        "volumeDevices": _Field(None, "devicePath"),
    },
    "ServiceSpec": {"ports": _Field(None, "port")},
    "WorkloadStatus": {"conditions": _Field(None, "type")},
    "PodStatus": {"conditions": _Field(None, "type")},
}
_NONE = _Field()
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


def _field(type_name: str | None, key: str) -> _Field:
    if type_name is None:
        return _NONE
    return _SCHEMA.get(type_name, {}).get(key, _NONE)


def strategic_merge(original: dict[str, Any], patch: Any, kind: str) -> dict[str, Any]:
    """Apply a strategic merge patch to an object of ``kind``; inputs are not mutated."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object", code=400)
    type_name = kind if kind in _SCHEMA else "_Generic"
    merged = _merge_map(copy.deepcopy(original), patch, type_name)
    if merged is None:
        raise PatchError("a strategic merge patch cannot delete the whole object")
    result: dict[str, Any] = merged
    return result


def _merge_map(orig: dict[str, Any], patch: dict[str, Any], type_name: str | None) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"}, type_name)
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise PatchError(f"unknown patch directive {directive!r}")
    retain = patch.get("$retainKeys")
    orders: dict[str, list[Any]] = {}
    deletions: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith(_ORDER):
            orders[key[len(_ORDER) :]] = value or []
        elif key.startswith(_DELETE_PRIMITIVE):
            deletions[key[len(_DELETE_PRIMITIVE) :]] = value or []
    if retain is not None:
        if not isinstance(retain, list):
            raise PatchError("$retainKeys must be a list")
        orig = {k: v for k, v in orig.items() if k in retain or k in patch}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        field = _field(type_name, key)
        if value is None:
            orig.pop(key, None)
        elif isinstance(value, dict):
            current = orig.get(key)
            merged = _merge_map(current if isinstance(current, dict) else {}, value, field.type)
            if merged is None:
                orig.pop(key, None)
            else:
                orig[key] = merged
        elif isinstance(value, list):
            current = orig.get(key)
            orig[key] = _merge_list(current if isinstance(current, list) else [], value, field, orders.get(key))
        else:
            orig[key] = copy.deepcopy(value)
    for key, order in orders.items():
        if key not in patch and isinstance(orig.get(key), list):
            orig[key] = _reorder(orig[key], orig[key], order, _field(type_name, key))
    for key, values in deletions.items():
        if isinstance(orig.get(key), list):
            orig[key] = [v for v in orig[key] if v not in values]
    return orig


def _merge_list(orig: list[Any], patch: list[Any], field: _Field, order: list[Any] | None) -> list[Any]:
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        items = [i for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")]
        return [_strip(i, field.type) for i in items]
    if field.merge_key is None:
        if field.primitive_merge:
            result = list(orig) + [v for v in patch if v not in orig]
            return _reorder(orig, result, order, field) if order else result
        return [_strip(i, field.type) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "delete")]
    key = field.merge_key
    result = copy.deepcopy(orig)
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"a list merged by {key!r} must hold objects, got {item!r}")
        if item.get("$patch") == "delete":
            result = [x for x in result if not (isinstance(x, dict) and x.get(key) == item.get(key))]
            continue
        if key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {key}")
        for idx, existing in enumerate(result):
            if isinstance(existing, dict) and existing.get(key) == item[key]:
                merged = _merge_map(existing, item, field.type)
                if merged is None:
                    result.pop(idx)
                else:
                    result[idx] = merged
                break
        else:
            merged = _merge_map({}, item, field.type)
            if merged is not None:
                result.append(merged)
    return _reorder(orig, result, order, field) if order else result


def _identity(item: Any, field: _Field) -> Any:
    if field.merge_key is not None and isinstance(item, dict):
        return ("k", repr(item.get(field.merge_key)))
    return ("v", repr(item))


def _reorder(orig: list[Any], items: list[Any], order: list[Any], field: _Field) -> list[Any]:
    """Order ``items`` by ``$setElementOrder``; items the order does not name keep their place relative to the
    original list (kube-apiserver's ``normalizeElementOrder``)."""
    wanted = [_identity(o, field) for o in order]
    by_id = {_identity(i, field): i for i in items}
    server_pos = {_identity(o, field): n for n, o in enumerate(orig)}
    ordered = [by_id[w] for w in dict.fromkeys(wanted) if w in by_id]
    rest = [i for i in items if _identity(i, field) not in set(wanted)]
    out: list[Any] = []
    for item in ordered:
        pos = server_pos.get(_identity(item, field))
        if pos is not None:
            while rest and server_pos.get(_identity(rest[0], field), len(orig)) < pos:
                out.append(rest.pop(0))
        out.append(item)
    return out + rest


def _strip(value: Any, type_name: str | None) -> Any:
    """A new subtree: merge it against nothing so its directives are applied and removed."""
    if isinstance(value, dict):
        return _merge_map({}, value, type_name)
    return copy.deepcopy(value)
