"""The record of requests the sandbox did not fully serve, so a test can fail on them instead of passing by luck.

A real API server ignores query parameters it does not know, and so did the sandbox; a new client that sends a new
parameter (``sendInitialEvents`` was one) then gets a plausible answer that is wrong. Every request is checked against
the parameters upstream defines for its verb; an unknown parameter, a path the sandbox does not route, a method it
does not allow, a body or an Accept header it cannot handle is recorded here (and logged). The record is read with
``Sandbox.unserved()`` or ``GET /_sandbox/unserved`` and emptied with ``DELETE /_sandbox/unserved``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["KNOWN_PARAMS", "Unserved", "unknown_params"]

_log = logging.getLogger(__name__)
_LIMIT = 1000

_GLOBAL = frozenset({"pretty", "timeout"})
_LIST = frozenset(
    {
        "labelSelector",
        "fieldSelector",
        "watch",
        "allowWatchBookmarks",
        "resourceVersion",
        "resourceVersionMatch",
        "timeoutSeconds",
        "limit",
        "continue",
        "sendInitialEvents",
        "includeObject",  # Table output
    }
)
_WRITE = frozenset({"dryRun", "fieldManager", "fieldValidation"})
_DELETE = frozenset(
    {
        "dryRun",
        "gracePeriodSeconds",
        "orphanDependents",
        "propagationPolicy",
        "ignoreStoreReadErrorWithClusterBreakingPotential",
    }
)

# The query parameters upstream defines per kind of request (the OpenAPI of kube-apiserver v1.37).
KNOWN_PARAMS: dict[str, frozenset[str]] = {
    "get": _GLOBAL | {"resourceVersion", "includeObject"},
    "list": _GLOBAL | _LIST,
    "watch": _GLOBAL | _LIST,
    "create": _GLOBAL | _WRITE,
    "update": _GLOBAL | _WRITE,
    "patch": _GLOBAL | _WRITE | {"force"},
    "delete": _GLOBAL | _DELETE,
    "deletecollection": _GLOBAL | _DELETE | _LIST,
    "version": _GLOBAL,
    "discovery": _GLOBAL,
    "openapi": _GLOBAL | {"hash"},
    "health": _GLOBAL | {"verbose", "exclude"},
}


def unknown_params(kind: str, query: Iterable[str]) -> list[str]:
    known = KNOWN_PARAMS[kind]
    return sorted(k for k in query if k not in known)


class Unserved:
    """A thread-safe, bounded list of ``{"method", "path", "what", "detail", "userAgent"}`` entries."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def add(self, method: str, path: str, what: str, detail: str, user_agent: str = "") -> None:
        entry = {"method": method, "path": path, "what": what, "detail": detail, "userAgent": user_agent}
        _log.warning("sandbox did not serve %s %s: %s (%s) from %r", method, path, what, detail, user_agent)
        with self._lock:
            if len(self._entries) < _LIMIT:
                self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self) -> list[dict[str, Any]]:
        with self._lock:
            taken, self._entries = self._entries, []
            return taken
