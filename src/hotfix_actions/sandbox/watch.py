"""Watch streams: a chunked HTTP body of newline-separated ``{"type": ..., "object": ...}`` events.

With no resourceVersion (or "0") the stream first sends a synthetic ADDED per existing object; with one, it sends
every change after it (410 Expired as an ERROR event when the log no longer reaches back that far). An object that
leaves the selector is sent as DELETED, one that enters as ADDED.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from hotfix_actions.sandbox.faults import Faults
from hotfix_actions.sandbox.resources import Resource
from hotfix_actions.sandbox.status import status_body
from hotfix_actions.sandbox.store import Change, Store

__all__ = ["WatchSink", "encode", "parse_bool", "stream"]

Obj = dict[str, Any]


class WatchSink(Protocol):
    """Where events go: one call per event; returns False once the client is gone."""

    def __call__(self, event: Obj) -> bool: ...


def parse_bool(value: str | None) -> bool:
    """Go's ``strconv.ParseBool`` (the Python client v33 sends ``watch=True``)."""
    return (value or "").strip() in {"1", "t", "T", "true", "TRUE", "True"}


def _event_for(change: Change, match: Callable[[Obj], bool]) -> Obj | None:
    new_match = match(change.obj)
    old_match = change.old is not None and match(change.old)
    if change.type == "DELETED":
        return {"type": "DELETED", "object": change.obj} if (old_match or new_match) else None
    if new_match and (old_match or change.type == "ADDED"):
        return {"type": change.type, "object": change.obj}
    if new_match:
        return {"type": "ADDED", "object": change.obj}
    if old_match:
        return {"type": "DELETED", "object": change.obj}
    return None


def stream(
    store: Store,
    faults: Faults,
    res: Resource,
    namespace: str | None,
    match: Callable[[Obj], bool],
    resource_version: str | None,
    timeout: float,
    send: WatchSink,
    stopping: Callable[[], bool],
) -> str:
    """Serve one watch until it times out, the client leaves, the server stops or watches are dropped.

    Returns why it ended: ``timeout`` or ``error`` (an ERROR event was sent; the stream ends cleanly), ``gone``
    (the client left), ``stopped`` (the server stops) or ``dropped`` (the fault knob: cut abruptly).
    """
    epoch = faults.watch_epoch
    if faults.refuse_watches:
        return "dropped"
    deadline = time.monotonic() + timeout
    if resource_version in (None, "", "0"):
        with store.lock:
            items, cursor = store.list(res, namespace, match)
        for obj in items:
            if not send({"type": "ADDED", "object": obj}):
                return "gone"
    else:
        try:
            cursor = int(resource_version)
        except ValueError:
            send(
                {
                    "type": "ERROR",
                    "object": status_body(400, f"invalid resource version {resource_version!r}", reason="BadRequest"),
                }
            )
            return "error"
    while True:
        if stopping():
            return "stopped"
        if faults.watch_epoch != epoch:
            return "dropped"
        with store.lock:
            changes = store.changes_after(cursor, res.rid)
            now_rv = store.resource_version
        if changes is None:
            message = f"too old resource version: {cursor} ({now_rv})"
            send({"type": "ERROR", "object": status_body(410, message, reason="Expired")})
            return "error"
        for change in changes:
            if namespace is not None and change.namespace != namespace:
                continue
            event = _event_for(change, match)
            if event is not None and not send(event):
                return "gone"
        cursor = now_rv
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "timeout"
        store.wait(cursor, min(remaining, 0.25))


def encode(event: Obj) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"
