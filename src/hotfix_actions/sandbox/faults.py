"""Fault knobs: fail the next N requests, delay answers, drop watches, answer 409 to the next write.

Set from Python (``sb.faults``) or over HTTP (``POST /_sandbox/faults`` with a JSON object), so a separate process,
e.g. a workflow run by act, can set them too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

__all__ = ["Faults"]

_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class _Failure:
    remaining: int
    status: int
    methods: frozenset[str] | None
    path: str | None = None  # only requests whose path contains this
    until: float | None = None  # a time-boxed outage (time.monotonic()); remaining is ignored

    def applies(self, method: str, path: str, now: float) -> bool:
        if self.until is not None:
            if now >= self.until:
                return False
        elif self.remaining <= 0:
            return False
        return (self.methods is None or method in self.methods) and (self.path is None or self.path in path)

    @property
    def live(self) -> bool:
        return self.remaining > 0 if self.until is None else time.monotonic() < self.until


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[_Failure] = []
        self._delay = 0.0
        self._delay_left: int | None = None
        self._conflicts = 0
        self._refuse_watches = False
        self.watch_epoch = 0  # bumped by drop_watches(): open watches with an older epoch end
        self.injected = 0  # how many faults were served, for tests and status

    # -- knobs ---------------------------------------------------------------------------------------------------
    def fail_next(
        self, n: int = 1, status: int = 503, *, methods: Collection[str] | None = None, path: str | None = None
    ) -> None:
        """The next ``n`` API requests get ``status`` (500, 503, ...); optionally only these HTTP methods and/or
        paths containing ``path`` (e.g. ``"/deployments"``, so discovery and ``/version`` still answer)."""
        if n < 0 or not 400 <= status <= 599:
            raise ValueError("fail_next needs n >= 0 and an HTTP error status")
        with self._lock:
            self._failures.append(_Failure(n, status, _methods(methods), path))

    def fail_for(
        self, seconds: float, status: int = 503, *, methods: Collection[str] | None = None, path: str | None = None
    ) -> None:
        """An outage: every matching API request gets ``status`` for the next ``seconds``."""
        if seconds < 0 or not 400 <= status <= 599:
            raise ValueError("fail_for needs seconds >= 0 and an HTTP error status")
        with self._lock:
            self._failures.append(_Failure(0, status, _methods(methods), path, time.monotonic() + seconds))

    def delay(self, seconds: float, n: int | None = None) -> None:
        """Delay every answer (or the next ``n``) by ``seconds``; ``delay(0)`` stops delaying."""
        with self._lock:
            self._delay = max(0.0, float(seconds))
            self._delay_left = n

    def drop_watches(self, *, refuse: bool = False) -> None:
        """Cut every open watch stream now; with ``refuse``, new watches are cut at once until ``clear()``."""
        with self._lock:
            self.watch_epoch += 1
            self._refuse_watches = refuse

    def conflict_next_write(self, n: int = 1) -> None:
        """The next ``n`` writes (POST, PUT, PATCH, DELETE) answer 409 Conflict without changing anything."""
        with self._lock:
            self._conflicts += n

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
            self._delay, self._delay_left = 0.0, None
            self._conflicts = 0
            self._refuse_watches = False

    def configure(self, data: dict[str, Any]) -> None:
        """The HTTP form: ``{"clear": true, "fail_next": 3, "status": 503, "methods": ["PATCH"], "path": "/deployments",
        "fail_for": 2.5, "delay": 0.5, "delay_count": 2, "drop_watches": true, "refuse_watches": false,
        "conflict_next_write": 1}``."""
        if data.get("clear"):
            self.clear()
        status, methods, path = int(data.get("status", 503)), data.get("methods"), data.get("path")
        if data.get("fail_next"):
            self.fail_next(int(data["fail_next"]), status, methods=methods, path=path)
        if data.get("fail_for"):
            self.fail_for(float(data["fail_for"]), status, methods=methods, path=path)
        if "delay" in data:
            count = data.get("delay_count")
            self.delay(float(data["delay"]), int(count) if count is not None else None)
        if data.get("drop_watches") or data.get("refuse_watches"):
            self.drop_watches(refuse=bool(data.get("refuse_watches")))
        if data.get("conflict_next_write"):
            self.conflict_next_write(int(data["conflict_next_write"]))

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "fail_next": [
                    {
                        "remaining": f.remaining,
                        "status": f.status,
                        "methods": sorted(f.methods) if f.methods else None,
                        "path": f.path,
                        "seconds_left": round(f.until - time.monotonic(), 3) if f.until is not None else None,
                    }
                    for f in self._failures
                    if f.live
                ],
                "delay": self._delay,
                "delay_count": self._delay_left,
                "conflict_next_write": self._conflicts,
                "refuse_watches": self._refuse_watches,
                "watch_epoch": self.watch_epoch,
                "injected": self.injected,
            }

    # -- used by the HTTP layer ----------------------------------------------------------------------------------
    def take_failure(self, method: str, path: str = "") -> int | None:
        now = time.monotonic()
        with self._lock:
            self._failures = [f for f in self._failures if f.live]
            for f in self._failures:
                if f.applies(method, path, now):
                    if f.until is None:
                        f.remaining -= 1
                    self.injected += 1
                    return f.status
            return None

    def take_delay(self) -> float:
        with self._lock:
            if self._delay <= 0:
                return 0.0
            if self._delay_left is not None:
                if self._delay_left <= 0:
                    return 0.0
                self._delay_left -= 1
            return self._delay

    def take_conflict(self, method: str) -> bool:
        with self._lock:
            if method in _WRITES and self._conflicts > 0:
                self._conflicts -= 1
                self.injected += 1
                return True
            return False

    @property
    def refuse_watches(self) -> bool:
        return self._refuse_watches


def _methods(methods: Collection[str] | None) -> frozenset[str] | None:
    return frozenset(m.upper() for m in methods) if methods else None
