"""kubectl's rollout-status rules as a pure function, plus the pod reason that blocks a rollout.

Mirrors ``kubectl/pkg/polymorphichelpers/rollout_status.go`` (DeploymentStatusViewer): the spec update must be
observed, a ``ProgressDeadlineExceeded`` condition fails, then updated/old/available replica counts decide. Missing
fields count as 0, as in Go. Values in (the Deployment and its pods as API JSON), a frozen answer out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "BLOCKING_REASONS",
    "PodProblem",
    "RolloutPhase",
    "RolloutResult",
    "RolloutStatus",
    "blocking_problem",
    "rollout_status",
    "should_fail_fast",
]


class RolloutPhase(StrEnum):
    WAITING = "waiting"
    COMPLETE = "complete"
    FAILED = "failed"  # ProgressDeadlineExceeded, a crash or a reason that will not clear, a ReplicaFailure
    TIMEOUT = "timeout"  # our own wall-clock limit
    SUPERSEDED = "superseded"  # another writer replaced the template we wrote: nothing of ours is rolling out


# Reasons that mean "this will not become Ready by waiting"; ordered by how much they explain.
BLOCKING_REASONS = (
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "Unschedulable",
)
_RANK = {reason: i for i, reason in enumerate(BLOCKING_REASONS)}


@dataclass(frozen=True)
class RolloutStatus:
    """One look at a Deployment: the phase and kubectl's message for it."""

    phase: RolloutPhase
    message: str
    generation: int = 0
    observed_generation: int = 0
    replicas: int = 0
    updated: int = 0
    available: int = 0


@dataclass(frozen=True)
class PodProblem:
    """Why new pods are not Ready: the worst reason, how many pods show it, one pod's message."""

    reason: str
    pods: int
    of: int
    pod: str
    detail: str = ""
    restarts: int = 0  # restarts of that pod (a crash after Ready shows here first)
    immediate: bool = False  # a restart or a reason no wait will clear: fail now, not after fail_fast_after

    def describe(self) -> str:
        text = f"{self.reason} ({self.pods} of {self.of} new pods; e.g. pod {self.pod}"
        return text + (f": {self.detail})" if self.detail else ")")


@dataclass(frozen=True)
class RolloutResult:
    """How a wait ended: the phase, kubectl's last message, the blocking pod problem and the seconds waited."""

    phase: RolloutPhase
    message: str
    waited: float
    problem: PodProblem | None = None
    notes: tuple[str, ...] = ()  # what else was seen (another writer's same template, a generation that moved)
    settled: float = 0.0  # seconds watched after the rollout completed

    @property
    def ok(self) -> bool:
        return self.phase is RolloutPhase.COMPLETE

    def describe(self) -> str:
        text = f"{self.message} after {self.waited:.1f}s"
        if self.problem and self.problem.describe() not in self.message:
            text += f"; blocking: {self.problem.describe()}"
        return text


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def rollout_status(deployment: Mapping[str, Any]) -> RolloutStatus:
    """kubectl's rules, in kubectl's order; the message matches kubectl's wording."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = meta.get("name", "?")
    generation = _int(meta.get("generation"))
    observed = _int(status.get("observedGeneration"))
    wanted = _int(spec.get("replicas")) if "replicas" in spec else 1
    replicas = _int(status.get("replicas"))
    updated = _int(status.get("updatedReplicas"))
    available = _int(status.get("availableReplicas"))
    facts = {
        "generation": generation,
        "observed_generation": observed,
        "replicas": wanted,
        "updated": updated,
        "available": available,
    }
    if generation > observed:
        return RolloutStatus(
            RolloutPhase.WAITING,
            f"Waiting for deployment spec update to be observed (generation {generation}, observed {observed})",
            **facts,
        )
    for cond in status.get("conditions") or ():
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            deadline = spec.get("progressDeadlineSeconds")
            after = f" ({deadline}s)" if isinstance(deadline, int) else ""
            return RolloutStatus(
                RolloutPhase.FAILED, f'deployment "{name}" exceeded its progress deadline{after}', **facts
            )
    if updated < wanted:
        return RolloutStatus(
            RolloutPhase.WAITING,
            f'Waiting for deployment "{name}" rollout to finish: {updated} out of {wanted} new replicas have been '
            "updated",
            **facts,
        )
    if replicas > updated:
        return RolloutStatus(
            RolloutPhase.WAITING,
            f'Waiting for deployment "{name}" rollout to finish: {replicas - updated} old replicas are pending '
            "termination",
            **facts,
        )
    if available < updated:
        return RolloutStatus(
            RolloutPhase.WAITING,
            f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas are '
            "available",
            **facts,
        )
    return RolloutStatus(RolloutPhase.COMPLETE, f'deployment "{name}" successfully rolled out', **facts)


def _pod_reasons(pod: Mapping[str, Any]) -> list[tuple[str, str]]:
    status = pod.get("status") or {}
    found: list[tuple[str, str]] = []
    for key in ("initContainerStatuses", "containerStatuses"):
        for cs in status.get(key) or ():
            state = cs.get("state") or {}
            waiting = state.get("waiting") or {}
            reason = waiting.get("reason")
            if reason in _RANK:
                detail = f"container {cs.get('name', '?')}"
                if cs.get("restartCount"):
                    detail += f", {cs['restartCount']} restarts"
                if waiting.get("message"):
                    detail += f": {waiting['message']}"
                found.append((reason, detail))
    for cond in status.get("conditions") or ():
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            reason = cond.get("reason") or "Unschedulable"
            if reason in _RANK:
                found.append((reason, cond.get("message") or ""))
    return found


def blocking_problem(pods: Sequence[Mapping[str, Any]], template_hash: str | None = None) -> PodProblem | None:
    """The worst blocking reason among the new pods (those with ``template_hash``, when given), or None."""
    chosen = [
        p
        for p in pods
        if template_hash is None
        or ((p.get("metadata") or {}).get("labels") or {}).get("pod-template-hash") == template_hash
    ]
    counts: Counter[str] = Counter()
    example: dict[str, tuple[str, str]] = {}
    for pod in chosen:
        reasons = _pod_reasons(pod)
        if not reasons:
            continue
        reason, detail = min(reasons, key=lambda item: _RANK[item[0]])
        counts[reason] += 1
        example.setdefault(reason, ((pod.get("metadata") or {}).get("name", "?"), detail))
    if not counts:
        return None
    reason = min(counts, key=lambda r: (_RANK[r], -counts[r]))
    pod_name, detail = example[reason]
    return PodProblem(reason=reason, pods=counts[reason], of=len(chosen), pod=pod_name, detail=detail)


def should_fail_fast(problem: PodProblem | None, stuck_for: float, fail_fast_after: float | None) -> bool:
    """Give up before the progress deadline: a blocking reason has been seen for ``fail_fast_after`` seconds."""
    return problem is not None and fail_fast_after is not None and stuck_for >= fail_fast_after
