"""Watch streams: a chunked HTTP body of newline-separated ``{"type": ..., "object": ...}`` events.

The semantics are the watch cache's, with the WatchList feature on (the options arrive decoded, defaulted and
validated by ``listopts``):

- ``sendInitialEvents=true`` (the default for a watch from "" or "0"): an ADDED event per object of the current state
  (a state at least as new as the requested resourceVersion, waited for up to 3 s), then, when bookmarks are allowed,
  a BOOKMARK annotated ``k8s.io/initial-events-end: "true"`` carrying the state's resourceVersion; then changes.
- ``sendInitialEvents=false``: changes after the requested resourceVersion, or from now when it is "" or "0".
- unset (a watch from N): every change after N; 410 ``Expired`` as an ERROR event when the log no longer reaches N.
- ``allowWatchBookmarks``: about every minute and 2 s before the watch's timeout, a BOOKMARK with the resourceVersion
  of the type's newest change, sent only when that is newer than where the watch went live (the watch cache never
  bookmarks a watcher that has seen nothing new: kube-apiserver 1.37 sends none on an idle watch).

An object that leaves the selector is sent as DELETED, one that enters as ADDED.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from hotfix_actions.sandbox.faults import Faults
from hotfix_actions.sandbox.resources import Resource
from hotfix_actions.sandbox.status import status_body
from hotfix_actions.sandbox.store import Change, Store

__all__ = ["INITIAL_EVENTS_END", "WatchRequest", "WatchSink", "bookmark", "encode", "stream"]

Obj = dict[str, Any]
INITIAL_EVENTS_END = "k8s.io/initial-events-end"
BOOKMARK_EVERY = 60.0  # the watch cache's bookmark frequency
_PRE_TIMEOUT = 2.0  # a bookmark this long before the watch times out
_WAIT = 3.0  # how long a watch-list waits for a resourceVersion the store has not reached


class WatchSink(Protocol):
    """Where events go: one call per event; returns False once the client is gone."""

    def __call__(self, event: Obj) -> bool: ...


@dataclass(frozen=True)
class WatchRequest:
    namespace: str | None
    match: Callable[[Obj], bool]
    since: int | None  # the requested resourceVersion; None for "" and "0"
    send_initial_events: bool | None
    allow_bookmarks: bool
    timeout: float
    bookmark_every: float = BOOKMARK_EVERY


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


def bookmark(res: Resource, rv: int, *, initial_events_end: bool = False) -> Obj:
    """A BOOKMARK event: an empty object of the watched kind that carries only a resourceVersion."""
    meta: Obj = {"resourceVersion": str(rv)}
    if initial_events_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}}


def _error(code: int, message: str, reason: str, details: Obj | None = None) -> Obj:
    return {"type": "ERROR", "object": status_body(code, message, reason=reason, details=details)}


class _Bookmarks:
    """When the next periodic bookmark is due (the cache watcher's ``nextBookmarkTime``)."""

    def __init__(self, every: float, deadline: float, enabled: bool) -> None:
        self.every, self.deadline = every, deadline
        self.due: float | None = self._next(time.monotonic()) if enabled else None

    def _next(self, now: float) -> float | None:
        beat = min(now + self.every, self.deadline - _PRE_TIMEOUT)
        return beat if beat >= now else None

    def take(self, now: float) -> bool:
        if self.due is None or now < self.due:
            return False
        self.due = self._next(now)
        return True


def stream(
    store: Store, faults: Faults, res: Resource, req: WatchRequest, send: WatchSink, stopping: Callable[[], bool]
) -> str:
    """Serve one watch until it times out, the client leaves, the server stops or watches are dropped.

    Returns why it ended: ``timeout`` or ``error`` (an ERROR event was sent; the stream ends cleanly), ``gone``
    (the client left), ``stopped`` (the server stops) or ``dropped`` (the fault knob: cut abruptly).
    """
    epoch = faults.watch_epoch
    if faults.refuse_watches:
        return "dropped"
    deadline = time.monotonic() + req.timeout
    if req.send_initial_events:
        if req.since is not None and not store.wait_until(req.since, min(_WAIT, req.timeout)):
            current = store.resource_version
            details = {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                       "retryAfterSeconds": 1}  # fmt: skip
            send(
                _error(504, f"Timeout: Too large resource version: {req.since}, current: {current}", "Timeout", details)
            )
            return "error"
        with store.lock:
            items, cursor = store.list(res, req.namespace, req.match)
        for obj in items:
            if not send({"type": "ADDED", "object": obj}):
                return "gone"
        if req.allow_bookmarks and not send(bookmark(res, cursor, initial_events_end=True)):
            return "gone"
    elif req.since is None:
        cursor = store.resource_version
    else:
        cursor = req.since
    beats = _Bookmarks(req.bookmark_every, deadline, req.allow_bookmarks)
    live: int | None = cursor if req.send_initial_events else None  # where the watch went live
    while True:
        if stopping():
            return "stopped"
        if faults.watch_epoch != epoch:
            return "dropped"
        with store.lock:
            changes = store.changes_after(cursor, res.rid)
            now_rv = store.resource_version
        if changes is None:
            send(_error(410, f"too old resource version: {cursor} ({store.history_floor(res.rid)})", "Expired"))
            return "error"
        replayed = cursor
        for change in changes:
            if req.namespace is not None and change.namespace != req.namespace:
                continue
            replayed = change.rv
            event = _event_for(change, req.match)
            if event is not None and not send(event):
                return "gone"
        if live is None:  # the backlog of a watch from N is its initial interval
            live = replayed
        cursor = max(cursor, now_rv)
        now = time.monotonic()
        if beats.take(now):
            newest = store.type_version(res.rid)
            if newest > live and not send(bookmark(res, newest)):
                return "gone"
        remaining = deadline - now
        if remaining <= 0:
            return "timeout"
        wake = remaining if beats.due is None else max(0.0, min(remaining, beats.due - now))
        store.wait(cursor, min(wake, 0.25))


def encode(event: Obj) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"
