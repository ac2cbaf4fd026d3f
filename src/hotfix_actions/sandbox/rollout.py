"""Rolling-update arithmetic of the Deployment controller, as pure functions (kube's ``deployment/util``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RS",
    "fenceposts",
    "int_or_percent",
    "new_rs_replicas",
    "old_scale_down",
]


@dataclass(frozen=True)
class RS:
    """What the arithmetic needs of one ReplicaSet: desired size and available pods."""

    name: str
    replicas: int
    available: int


def int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    """``maxSurge``/``maxUnavailable``: an int, or ``"25%"`` of ``total`` (surge rounds up, unavailable down)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        scaled = int(text[:-1]) * total / 100
        return math.ceil(scaled) if round_up else math.floor(scaled)
    return int(text)


def fenceposts(strategy: dict[str, Any] | None, replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers; both zero means one unavailable; Recreate is (0, 0)."""
    strategy = strategy or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, 0
    ru = strategy.get("rollingUpdate") or {}
    surge = int_or_percent(ru.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = int_or_percent(ru.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, replicas)


def new_rs_replicas(replicas: int, max_surge: int, new: RS, olds: Sequence[RS]) -> int:
    """The size the new ReplicaSet may grow (or shrink) to now: at most ``replicas + maxSurge`` pods in total."""
    if new.replicas >= replicas:
        return replicas
    current = new.replicas + sum(r.replicas for r in olds)
    room = replicas + max_surge - current
    if room <= 0:
        return new.replicas
    return new.replicas + min(room, replicas - new.replicas)


def old_scale_down(replicas: int, max_unavailable: int, new: RS, olds: Sequence[RS]) -> dict[str, int]:
    """New sizes of old ReplicaSets (oldest first in ``olds``): unhealthy pods go first, then healthy ones while
    ``replicas - maxUnavailable`` pods stay available. Only ReplicaSets whose size changes are returned."""
    if sum(r.replicas for r in olds) == 0:
        return {}
    sizes = {r.name: r.replicas for r in olds}
    all_pods = new.replicas + sum(r.replicas for r in olds)
    min_available = replicas - max_unavailable
    new_unavailable = new.replicas - new.available
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return {}
    cleaned = 0
    for r in olds:  # cleanupUnhealthyReplicas
        if cleaned >= max_scaled_down:
            break
        if r.replicas in (0, r.available):
            continue
        down = min(max_scaled_down - cleaned, r.replicas - r.available)
        sizes[r.name] -= down
        cleaned += down
    available = new.available + sum(min(r.available, sizes[r.name]) for r in olds)
    total_down = available - min_available
    done = 0
    for r in olds:  # scaleDownOldReplicaSetsForRollingUpdate
        if done >= total_down:
            break
        if sizes[r.name] == 0:
            continue
        down = min(sizes[r.name], total_down - done)
        sizes[r.name] -= down
        done += down
    return {name: size for name, size in sizes.items() if size != next(r.replicas for r in olds if r.name == name)}
