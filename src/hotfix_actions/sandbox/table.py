"""``meta.k8s.io/v1`` Table responses: what human-readable ``kubectl get`` prints (columns as kubectl's printers)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from hotfix_actions.sandbox.objects import parse_time
from hotfix_actions.sandbox.resources import Resource
from hotfix_actions.sandbox.selectors import selector_string

__all__ = ["human_duration", "table"]

Obj = dict[str, Any]
_Column = tuple[str, str, int, Callable[[Obj, float], Any]]  # name, type, priority, cell


def human_duration(seconds: float) -> str:
    """kube's ``duration.HumanDuration``."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24 - (hours // 24 // 365) * 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def _age(obj: Obj, now: float) -> str:
    created = parse_time((obj.get("metadata") or {}).get("creationTimestamp"))
    return "<unknown>" if created is None else human_duration(now - created)


def _spec(obj: Obj) -> Obj:
    spec: Obj = obj.get("spec") or {}
    return spec


def _st(obj: Obj, key: str) -> int:
    return int((obj.get("status") or {}).get(key) or 0)


def _containers(obj: Obj) -> list[Obj]:
    found: list[Obj] = ((_spec(obj).get("template") or {}).get("spec") or {}).get("containers") or []
    return found


def _pod_status(pod: Obj, now: float) -> str:
    status = pod.get("status") or {}
    reason = str(status.get("reason") or status.get("phase") or "Unknown")
    for c in status.get("containerStatuses") or []:
        state = c.get("state") or {}
        if (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
        elif (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def _restarts(pod: Obj, now: float) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    count = sum(int(c.get("restartCount") or 0) for c in statuses)
    finished = [parse_time(((c.get("lastState") or {}).get("terminated") or {}).get("finishedAt")) for c in statuses]
    last = max((f for f in finished if f is not None), default=None)
    return f"{count} ({human_duration(now - last)} ago)" if count and last is not None else str(count)


def _ready(pod: Obj, now: float) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len(_spec(pod).get("containers") or [])
    return f"{sum(1 for c in statuses if c.get('ready'))}/{total}"


def _ports(svc: Obj, now: float) -> str:
    parts = []
    for p in _spec(svc).get("ports") or []:
        text = f"{p.get('port')}"
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        parts.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def _selector_map(obj: Obj, now: float) -> str:
    sel = _spec(obj).get("selector") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(sel.items())) or "<none>"


def _name(obj: Obj, now: float) -> str:
    return str(obj["metadata"]["name"])


_NAME: _Column = ("Name", "string", 0, _name)
_AGE: _Column = ("Age", "string", 0, _age)
_WORKLOAD_WIDE: list[_Column] = [
    ("Containers", "string", 1, lambda o, n: ",".join(str(c.get("name")) for c in _containers(o))),
    ("Images", "string", 1, lambda o, n: ",".join(str(c.get("image")) for c in _containers(o))),
    ("Selector", "string", 1, lambda o, n: selector_string(_spec(o).get("selector")) or "<none>"),
]
_COLUMNS: dict[str, list[_Column]] = {
    "Pod": [
        _NAME,
        ("Ready", "string", 0, _ready),
        ("Status", "string", 0, _pod_status),
        ("Restarts", "string", 0, _restarts),
        _AGE,
        ("IP", "string", 1, lambda o, n: (o.get("status") or {}).get("podIP") or "<none>"),
        ("Node", "string", 1, lambda o, n: _spec(o).get("nodeName") or "<none>"),
    ],
    "Deployment": [
        _NAME,
        ("Ready", "string", 0, lambda o, n: f"{_st(o, 'readyReplicas')}/{_spec(o).get('replicas', 1)}"),
        ("Up-to-date", "integer", 0, lambda o, n: _st(o, "updatedReplicas")),
        ("Available", "integer", 0, lambda o, n: _st(o, "availableReplicas")),
        _AGE,
        *_WORKLOAD_WIDE,
    ],
    "ReplicaSet": [
        _NAME,
        ("Desired", "integer", 0, lambda o, n: int(_spec(o).get("replicas") or 0)),
        ("Current", "integer", 0, lambda o, n: _st(o, "replicas")),
        ("Ready", "integer", 0, lambda o, n: _st(o, "readyReplicas")),
        _AGE,
        *_WORKLOAD_WIDE,
    ],
    "Service": [
        _NAME,
        ("Type", "string", 0, lambda o, n: _spec(o).get("type", "ClusterIP")),
        ("Cluster-IP", "string", 0, lambda o, n: _spec(o).get("clusterIP") or "<none>"),
        ("External-IP", "string", 0, lambda o, n: ",".join(_spec(o).get("externalIPs") or []) or "<none>"),
        ("Port(s)", "string", 0, _ports),
        _AGE,
        ("Selector", "string", 1, _selector_map),
    ],
    "Namespace": [_NAME, ("Status", "string", 0, lambda o, n: (o.get("status") or {}).get("phase", "Active")), _AGE],
    "ConfigMap": [
        _NAME,
        ("Data", "integer", 0, lambda o, n: len(o.get("data") or {}) + len(o.get("binaryData") or {})),
        _AGE,
    ],
    "Secret": [
        _NAME,
        ("Type", "string", 0, lambda o, n: o.get("type", "Opaque")),
        ("Data", "integer", 0, lambda o, n: len(o.get("data") or {})),
        _AGE,
    ],
    "Event": [
        ("Last Seen", "string", 0, lambda o, n: human_duration(n - (parse_time(o.get("lastTimestamp")) or n))),
        ("Type", "string", 0, lambda o, n: o.get("type", "")),
        ("Reason", "string", 0, lambda o, n: o.get("reason", "")),
        (
            "Object",
            "string",
            0,
            lambda o, n: (
                f"{str((o.get('involvedObject') or {}).get('kind', '')).lower()}/"
                f"{(o.get('involvedObject') or {}).get('name', '')}"
            ),
        ),
        ("Message", "string", 0, lambda o, n: o.get("message", "")),
    ],
    "Lease": [_NAME, ("Holder", "string", 0, lambda o, n: _spec(o).get("holderIdentity") or ""), _AGE],
}


def table(
    res: Resource,
    items: Sequence[Obj],
    resource_version: int | None,
    *,
    include: str = "Metadata",
    version: str = "v1",
    now: float | None = None,
) -> Obj:
    """A Table of ``items``; ``include`` is ``includeObject``: None, Metadata (default) or Object."""
    moment = time.time() if now is None else now
    columns = _COLUMNS.get(res.kind, [_NAME, _AGE])
    rows = []
    for obj in items:
        row: Obj = {"cells": [cell(obj, moment) for _, _, _, cell in columns]}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": f"meta.k8s.io/{version}",
                "metadata": obj.get("metadata") or {},
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": {"resourceVersion": str(resource_version)} if resource_version is not None else {},
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": prio,
            }
            for name, kind, prio, _ in columns
        ],
        "rows": rows,
    }
