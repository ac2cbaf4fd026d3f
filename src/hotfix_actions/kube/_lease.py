"""coordination.k8s.io/v1 Leases as locks, like client-go's leader election: holder = run id, a short TTL renewed
while the command runs, conditional writes only.

A lease is free when nobody holds it, we do, its renew time is a TTL old, or we have watched the same record stay
unchanged for a whole TTL by our own monotonic clock (client-go's rule, immune to clock skew between runners).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hotfix_actions.decide.rollback import lease_free
from hotfix_actions.errors import ConflictError, NotFoundError
from hotfix_actions.kube._transport import Transport
from hotfix_actions.ports import LeaseState

__all__ = ["Leases", "format_time", "parse_time"]


def format_time(moment: datetime) -> str:
    """RFC 3339 with microseconds, as the API's MicroTime."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _short(text: str) -> str:
    """2026-01-01T12:00:00.123456Z -> 2026-01-01T12:00:00Z (for people)."""
    moment = parse_time(text)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else text


class Leases:
    def __init__(
        self,
        transport: Transport,
        now: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.transport = transport
        self.now = now
        self.monotonic = monotonic
        self._held: dict[tuple[str, str], dict[str, Any]] = {}  # the Lease as last written by us
        self._seen: dict[tuple[str, str], tuple[tuple[str, str], float]] = {}  # (holder, renewTime), first seen
        self._lock = threading.Lock()

    def _path(self, namespace: str, name: str | None = None) -> str:
        base = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        return f"{base}/{name}" if name else base

    def _what(self, namespace: str, name: str) -> str:
        return f'lease "{name}" in namespace "{namespace}"'

    def _state(self, obj: dict[str, Any], *, acquired: bool, reason: str) -> LeaseState:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        renewed = parse_time(spec.get("renewTime"))
        ago = max(0.0, (self.now() - renewed).total_seconds()) if renewed else None
        return LeaseState(
            namespace=meta.get("namespace", ""),
            name=meta.get("name", ""),
            holder=spec.get("holderIdentity") or "",
            acquired=acquired,
            renewed=spec.get("renewTime") or "",
            duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            reason=reason,
            acquired_at=_short(spec.get("acquireTime") or ""),
            renewed_ago=ago,
        )

    def _unchanged_for(self, key: tuple[str, str], spec: dict[str, Any]) -> float:
        record = (str(spec.get("holderIdentity") or ""), str(spec.get("renewTime") or ""))
        now = self.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen is None or seen[0] != record:
                self._seen[key] = (record, now)
                return 0.0
            return now - seen[1]

    def read(self, namespace: str, name: str) -> LeaseState | None:
        try:
            obj = self.transport.request("GET", self._path(namespace, name), what=self._what(namespace, name))
        except NotFoundError:
            return None
        return self._state(obj, acquired=False, reason="read")

    def acquire(self, namespace: str, name: str, holder: str, ttl_seconds: int) -> LeaseState:
        what = self._what(namespace, name)
        for _ in range(3):  # each round re-reads after a lost race
            now = self.now()
            stamp = format_time(now)
            try:
                current = self.transport.request("GET", self._path(namespace, name), what=what)
            except NotFoundError:
                body = {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {
                        "name": name,
                        "namespace": namespace,
                        "labels": {"app.kubernetes.io/managed-by": "hotfix-actions"},
                    },
                    "spec": {
                        "holderIdentity": holder,
                        "leaseDurationSeconds": ttl_seconds,
                        "acquireTime": stamp,
                        "renewTime": stamp,
                        "leaseTransitions": 0,
                    },
                }
                try:
                    created = self.transport.request("POST", self._path(namespace), what=what, body=body)
                except ConflictError:
                    continue
                self._held[(namespace, name)] = created
                return self._state(created, acquired=True, reason="created the lease")
            spec = dict(current.get("spec") or {})
            free, reason = lease_free(
                spec.get("holderIdentity"),
                parse_time(spec.get("renewTime")),
                spec.get("leaseDurationSeconds"),
                holder,
                now,
                self._unchanged_for((namespace, name), spec),
            )
            if not free:
                return self._state(current, acquired=False, reason=reason)
            if spec.get("holderIdentity") != holder:
                spec["acquireTime"] = stamp
                spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
            spec.update(holderIdentity=holder, renewTime=stamp, leaseDurationSeconds=ttl_seconds)
            body = {**current, "spec": spec}
            try:
                updated = self.transport.request("PUT", self._path(namespace, name), what=what, body=body)
            except ConflictError:
                continue
            self._held[(namespace, name)] = updated
            return self._state(updated, acquired=True, reason=reason)
        latest = self.read(namespace, name)
        if latest is None:
            raise ConflictError(f"{what}: lost three races in a row")
        return LeaseState(
            namespace,
            name,
            latest.holder,
            False,
            latest.renewed,
            latest.duration_seconds,
            "lost a race for the lease three times",
            latest.acquired_at,
            latest.renewed_ago,
        )

    def release(self, namespace: str, name: str, holder: str) -> None:
        """Clear the holder; starts from the Lease as we last wrote it (one request), re-reads after a 409."""
        what = self._what(namespace, name)
        current = self._held.pop((namespace, name), None)
        for _ in range(3):
            if current is None:
                try:
                    current = self.transport.request("GET", self._path(namespace, name), what=what)
                except NotFoundError:
                    return
            spec = dict(current.get("spec") or {})
            if spec.get("holderIdentity") != holder:
                return
            spec.pop("holderIdentity", None)
            spec["renewTime"] = format_time(self.now())
            try:
                self.transport.request("PUT", self._path(namespace, name), what=what, body={**current, "spec": spec})
            except (ConflictError, NotFoundError):
                current = None
                continue
            return
