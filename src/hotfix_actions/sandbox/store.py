"""The in-memory object store: one global resourceVersion counter, a change log for watches, JSON snapshots.

The store knows nothing of API semantics (defaulting, preconditions, cascades live in ``api.py``); it keeps objects,
numbers every change and wakes whoever waits for changes (watches, controllers).
"""

from __future__ import annotations

import bisect
import builtins
import copy
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotfix_actions.sandbox.resources import RESOURCES, Resource, by_kind

__all__ = ["Change", "Store", "etcd_key"]

# The watch cache's history per resource type: at least this many changes are kept, older ones go once they are
# older than ``HISTORY_FRESH`` seconds (kube-apiserver: 100 events, 75 s), never more than ``_HISTORY_MAX``.
HISTORY_MIN = 100
HISTORY_FRESH = 75.0
_HISTORY_MAX = 100 * 1024


@dataclass(frozen=True)
class Change:
    """One numbered change: what a watch streams."""

    rv: int
    rid: str
    namespace: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]
    old: dict[str, Any] | None


def etcd_key(namespace: str, name: str) -> str:
    """Where etcd keeps an object below its type's prefix: lists come back in this order."""
    return f"{namespace}/{name}" if namespace else name


def _select(
    table: dict[tuple[str, str], dict[str, Any]],
    namespace: str | None,
    where: Callable[[dict[str, Any]], bool] | None,
) -> list[dict[str, Any]]:
    ordered = sorted(table.items(), key=lambda kv: etcd_key(*kv[0]))
    return [
        copy.deepcopy(obj)
        for (ns, _name), obj in ordered
        if (namespace is None or ns == namespace) and (where is None or where(obj))
    ]


class _History:
    """The changes of one resource type still known, oldest first; ``floor``: the newest one forgotten."""

    def __init__(self, floor: int = 0) -> None:
        self.changes: list[Change] = []
        self.rvs: list[int] = []
        self.times: list[float] = []
        self.floor = floor
        self.last = 0  # the newest change of the type since the store started (the cacher's last processed one)

    def add(self, change: Change, now: float, keep: int, fresh: float) -> None:
        self.changes.append(change)
        self.rvs.append(change.rv)
        self.times.append(now)
        self.last = change.rv
        cut = 0
        while len(self.rvs) - cut > _HISTORY_MAX or (len(self.rvs) - cut > keep and now - self.times[cut] > fresh):
            cut += 1
        if cut:
            self.floor = self.rvs[cut - 1]
            del self.changes[:cut], self.rvs[:cut], self.times[:cut]

    def after(self, rv: int) -> list[Change]:
        return self.changes[bisect.bisect_right(self.rvs, rv) :]


class Store:
    """Objects, one resourceVersion counter, and per type a history of changes for watches and past reads.

    ``history_min`` / ``history_fresh`` (public, may change while it runs) bound that history as the watch cache
    does: a watch or an exact read from before what is kept is 410 Expired, as a real cluster answers it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {r.rid: {} for r in RESOURCES}
        self._rv = 0
        self._history: dict[str, _History] = {r.rid: _History() for r in RESOURCES}
        self.history_min = HISTORY_MIN
        self.history_fresh = HISTORY_FRESH
        self._listeners: list[Callable[[], None]] = []
        self.closed = False

    # -- reading ------------------------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def get(self, res: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            found = self._objects[res.rid].get((namespace if res.namespaced else "", name))
            return copy.deepcopy(found) if found is not None else None

    def list(
        self, res: Resource, namespace: str | None = None, where: Callable[[dict[str, Any]], bool] | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Matching objects (copies) in etcd key order (``namespace/name``), and the store's resourceVersion."""
        with self.lock:
            return _select(self._objects[res.rid], namespace, where), self._rv

    def list_at(
        self,
        res: Resource,
        rv: int,
        namespace: str | None = None,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> builtins.list[dict[str, Any]] | None:
        """The matching objects as they were at ``rv`` (at most the current version), rebuilt by undoing the
        logged changes after it; None when the log no longer reaches back to ``rv`` (410 Expired)."""
        with self.lock:
            if rv > self._rv:
                raise ValueError(f"resourceVersion {rv} is in the future (current {self._rv})")
            history = self._history[res.rid]
            if rv < history.floor:
                return None
            table = dict(self._objects[res.rid])
            for change in reversed(history.after(rv)):
                key = (change.namespace, change.obj["metadata"]["name"])
                if change.old is None:
                    table.pop(key, None)
                else:
                    table[key] = change.old
            return _select(table, namespace, where)

    def wait_until(self, rv: int, timeout: float) -> bool:
        """Block until the store has reached ``rv`` (True) or ``timeout`` passed (False)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self._rv < rv and not self.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.changed.wait(remaining)
            return self._rv >= rv

    def iter_all(self) -> Iterator[tuple[Resource, dict[str, Any]]]:
        """Every object (not copies: read under ``lock`` and do not mutate)."""
        for res in RESOURCES:
            yield from ((res, obj) for obj in list(self._objects[res.rid].values()))

    def count(self) -> dict[str, int]:
        with self.lock:
            return {r.plural: len(self._objects[r.rid]) for r in RESOURCES if self._objects[r.rid]}

    # -- writing ------------------------------------------------------------------------------------------------
    def put(self, res: Resource, obj: dict[str, Any], change: str) -> dict[str, Any]:
        """Store ``obj`` under a new resourceVersion and log the change; returns a copy of what was stored."""
        with self.lock:
            key = (obj["metadata"].get("namespace", "") if res.namespaced else "", obj["metadata"]["name"])
            old = self._objects[res.rid].get(key)
            self._rv += 1
            stored = copy.deepcopy(obj)
            stored["metadata"]["resourceVersion"] = str(self._rv)
            self._objects[res.rid][key] = stored
            self._record(Change(self._rv, res.rid, key[0], change, copy.deepcopy(stored), old))
            return copy.deepcopy(stored)

    def remove(self, res: Resource, namespace: str, name: str) -> dict[str, Any] | None:
        """Delete one object; the DELETED change carries a new resourceVersion, as on a real server."""
        with self.lock:
            key = (namespace if res.namespaced else "", name)
            old = self._objects[res.rid].pop(key, None)
            if old is None:
                return None
            self._rv += 1
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._record(Change(self._rv, res.rid, key[0], "DELETED", gone, old))
            return copy.deepcopy(gone)

    def _record(self, change: Change) -> None:
        self._history[change.rid].add(change, time.monotonic(), self.history_min, self.history_fresh)
        self.changed.notify_all()
        for listener in list(self._listeners):
            listener()

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    # -- watching -----------------------------------------------------------------------------------------------
    def changes_after(self, rv: int, rid: str) -> builtins.list[Change] | None:
        """Changes of one type after ``rv``; None when ``rv`` is older than the log keeps (410 Expired)."""
        with self.lock:
            history = self._history[rid]
            return None if rv < history.floor else history.after(rv)

    def type_version(self, rid: str) -> int:
        """The resourceVersion of the newest change of a type seen since the store started (0: none yet)."""
        with self.lock:
            return self._history[rid].last

    def history_floor(self, rid: str) -> int:
        """The newest resourceVersion of a type whose change is forgotten (what "too old" is measured against)."""
        with self.lock:
            return self._history[rid].floor

    def wait(self, after_rv: int, timeout: float) -> None:
        """Block until a change newer than ``after_rv`` lands, the store closes, or ``timeout`` passes."""
        with self.changed:
            if self._rv <= after_rv and not self.closed:
                self.changed.wait(timeout)

    def close(self) -> None:
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    # -- snapshots ----------------------------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        with self.lock:
            objects = [copy.deepcopy(obj) for res in RESOURCES for _, obj in sorted(self._objects[res.rid].items())]
            return {"kind": "SandboxSnapshot", "resourceVersion": self._rv, "objects": objects}

    def load(self, data: dict[str, Any]) -> None:
        with self.lock:
            for table in self._objects.values():
                table.clear()
            for obj in data.get("objects") or []:
                res = by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
                if res is None:
                    continue
                m = obj["metadata"]
                self._objects[res.rid][(m.get("namespace", "") if res.namespaced else "", m["name"])] = obj
            self._rv = max(int(data.get("resourceVersion") or 0), self._rv)
            self._history = {r.rid: _History(self._rv) for r in RESOURCES}

    def save(self, path: Path) -> None:
        """Write a snapshot atomically (temp file, fsync, rename)."""
        data = self.dump()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
