"""Kubernetes Events as the controllers record them (aggregated: a repeat raises ``count``)."""

from __future__ import annotations

import uuid

from hotfix_actions.sandbox.api import Api, Obj
from hotfix_actions.sandbox.objects import rfc3339
from hotfix_actions.sandbox.resources import resource

__all__ = ["record"]

_EVENTS = resource("", "v1", "events")


def record(
    api: Api,
    involved: Obj,
    kind: str,
    reason: str,
    message: str,
    *,
    component: str,
    warning: bool = False,
    now: float | None = None,
) -> None:
    """Record an Event about ``involved``; an identical earlier event is counted again instead."""
    m = involved["metadata"]
    namespace = m.get("namespace") or "default"
    stamp = rfc3339(now)
    with api.store.lock:
        for event in api.store.list(_EVENTS, namespace)[0]:
            io = event.get("involvedObject") or {}
            if io.get("uid") == m.get("uid") and event.get("reason") == reason and event.get("message") == message:
                event["count"] = int(event.get("count") or 1) + 1
                event["lastTimestamp"] = stamp
                api.write_internal(_EVENTS, event)
                return
        api.create(
            _EVENTS,
            namespace,
            {
                "metadata": {"name": f"{m['name']}.{uuid.uuid4().hex[:16]}", "namespace": namespace},
                "involvedObject": {
                    "apiVersion": involved.get("apiVersion"),
                    "kind": kind,
                    "name": m["name"],
                    "namespace": namespace,
                    "uid": m.get("uid"),
                    "resourceVersion": m.get("resourceVersion"),
                },
                "reason": reason,
                "message": message,
                "type": "Warning" if warning else "Normal",
                "source": {"component": component},
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "count": 1,
                "eventTime": None,
                "reportingComponent": component,
                "reportingInstance": "",
            },
        )
