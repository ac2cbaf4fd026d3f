"""Deployment status as kube's deployment controller computes it: counts, conditions, completeness, progress.

Pure functions over plain objects; the controller (``deployments.py``) supplies the clock.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "HISTORY",
    "REVISION",
    "calculate",
    "complete",
    "condition",
    "new_condition",
    "progressed",
    "replica_failure",
    "replicas_of",
    "revision",
    "set_condition",
    "st",
]

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
HISTORY = "deployment.kubernetes.io/revision-history"


def revision(rs: Obj) -> int:
    """The ``deployment.kubernetes.io/revision`` annotation as a number (0 when missing or malformed)."""
    try:
        return int(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def replicas_of(rs: Obj) -> int:
    """``spec.replicas``: the desired size."""
    return int((rs.get("spec") or {}).get("replicas") or 0)


def st(obj: Obj, key: str) -> int:
    """A status count; missing counts are 0 (kube omits zero values)."""
    return int((obj.get("status") or {}).get(key) or 0)


def condition(status: Obj, kind: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            found: Obj = cond
            return found
    return None


def set_condition(status: Obj, cond: Obj) -> bool:
    """kube's SetDeploymentCondition: same status and reason -> unchanged; same status keeps lastTransitionTime."""
    current = condition(status, cond["type"])
    if current and current["status"] == cond["status"] and current.get("reason") == cond.get("reason"):
        return False
    if current and current["status"] == cond["status"]:
        cond["lastTransitionTime"] = current["lastTransitionTime"]
    status["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != cond["type"]] + [cond]
    return True


def new_condition(kind: str, status: str, reason: str, message: str, now: float) -> Obj:
    from hotfix_actions.sandbox.objects import rfc3339

    stamp = rfc3339(now)
    return {
        "type": kind,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def calculate(
    before: Obj, generation: int, new: Obj | None, olds: list[Obj], replicas: int, max_unavailable: int, now: float
) -> Obj:
    """The status counts from the ReplicaSets, zero counts omitted, plus the Available condition."""
    all_rs = ([new] if new else []) + olds
    available = sum(st(r, "availableReplicas") for r in all_rs)
    counts = {
        "observedGeneration": generation,
        "replicas": sum(st(r, "replicas") for r in all_rs),
        "updatedReplicas": st(new, "replicas") if new else 0,
        "readyReplicas": sum(st(r, "readyReplicas") for r in all_rs),
        "availableReplicas": available,
        "unavailableReplicas": max(sum(replicas_of(r) for r in all_rs) - available, 0),
        "terminatingReplicas": sum(st(r, "terminatingReplicas") for r in all_rs),
    }
    status = {k: v for k, v in before.items() if k not in counts}
    # zero counts are omitted as kube omits them, except terminatingReplicas (a pointer: always there when the
    # DeploymentReplicaSetTerminatingReplicas feature is on, as in v1.37)
    status.update({k: v for k, v in counts.items() if v or k == "terminatingReplicas"})
    if available >= replicas - max_unavailable:
        cond = new_condition(
            "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now
        )
    else:
        cond = new_condition(
            "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", now
        )
    set_condition(status, cond)
    return status


def replica_failure(new: Obj | None, olds: list[Obj]) -> Obj | None:
    """kube's getReplicaFailures: the new ReplicaSet's ReplicaFailure condition, else an old one's, as a
    Deployment condition."""
    for rs in ([new] if new else []) + olds:
        for cond in (rs.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "ReplicaFailure":
                return {
                    "type": "ReplicaFailure",
                    "status": cond.get("status", "True"),
                    "lastUpdateTime": cond.get("lastTransitionTime"),
                    "lastTransitionTime": cond.get("lastTransitionTime"),
                    "reason": cond.get("reason", "FailedCreate"),
                    "message": cond.get("message", ""),
                }
    return None


def complete(status: Obj, replicas: int, generation: int) -> bool:
    """kube's DeploymentComplete: every replica updated and available, and the latest spec observed."""
    return (
        int(status.get("updatedReplicas") or 0) == replicas
        and int(status.get("replicas") or 0) == replicas
        and int(status.get("availableReplicas") or 0) == replicas
        and int(status.get("observedGeneration") or 0) >= generation
    )


def progressed(old: Obj, new: Obj) -> bool:
    """kube's DeploymentProgressing: more updated, ready or available pods, or fewer old ones."""

    def n(status: Obj, key: str) -> int:
        return int(status.get(key) or 0)

    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(new, "replicas") - n(new, "updatedReplicas")
    return (
        n(new, "updatedReplicas") > n(old, "updatedReplicas")
        or new_old < old_old
        or n(new, "readyReplicas") > n(old, "readyReplicas")
        or n(new, "availableReplicas") > n(old, "availableReplicas")
    )
