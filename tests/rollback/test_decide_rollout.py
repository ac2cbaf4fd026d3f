"""kubectl's rollout-status rules and the blocking pod reason: one row per rule."""

from __future__ import annotations

from typing import Any

import pytest

from hotfix_actions.decide.rollout import RolloutPhase, blocking_problem, rollout_status, should_fail_fast


def dep(gen: int = 2, observed: int = 2, want: int | None = 3, conditions: list[dict[str, Any]] | None = None,
        **status: int) -> dict[str, Any]:  # fmt: skip
    """``want`` is spec.replicas; keyword arguments are status fields (replicas, updatedReplicas, ...)."""
    spec: dict[str, Any] = {"progressDeadlineSeconds": 600}
    if want is not None:
        spec["replicas"] = want
    return {
        "metadata": {"name": "web", "generation": gen},
        "spec": spec,
        "status": {"observedGeneration": observed, "conditions": conditions or [], **status},
    }


DEADLINE = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
PROGRESSING = [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]


@pytest.mark.parametrize(
    ("obj", "phase", "text"),
    [
        (
            dep(gen=3, observed=2, updatedReplicas=3, replicas=3, availableReplicas=3),
            RolloutPhase.WAITING,
            "spec update",
        ),
        (dep(conditions=DEADLINE, updatedReplicas=1), RolloutPhase.FAILED, "exceeded its progress deadline (600s)"),
        (dep(gen=3, observed=2, conditions=DEADLINE), RolloutPhase.WAITING, "spec update"),  # deadline of old gen
        (dep(updatedReplicas=1, replicas=4, availableReplicas=1), RolloutPhase.WAITING, "1 out of 3 new replicas"),
        (dep(updatedReplicas=3, replicas=4, availableReplicas=3), RolloutPhase.WAITING, "1 old replicas are pending"),
        (dep(updatedReplicas=3, replicas=3, availableReplicas=2), RolloutPhase.WAITING, "2 of 3 updated replicas"),
        (
            dep(conditions=PROGRESSING, updatedReplicas=3, replicas=3, availableReplicas=3),
            RolloutPhase.COMPLETE,
            "successfully rolled out",
        ),
        (dep(want=None, updatedReplicas=1, replicas=1, availableReplicas=1), RolloutPhase.COMPLETE, "successfully"),
        (dep(want=None), RolloutPhase.WAITING, "0 out of 1 new replicas"),  # missing spec.replicas defaults to 1
        (dep(want=0), RolloutPhase.COMPLETE, "successfully"),  # scaled to zero: nothing to wait for
        ({"metadata": {"name": "web"}}, RolloutPhase.WAITING, "0 out of 1"),  # missing fields count as 0
    ],
)
def test_rollout_status_follows_kubectl(obj: dict[str, Any], phase: RolloutPhase, text: str) -> None:
    result = rollout_status(obj)
    assert result.phase is phase
    assert text in result.message


def pod(name: str, hash_: str = "h1", waiting: str | None = None, restarts: int = 0, scheduled: str | None = None,
        init: bool = False) -> dict[str, Any]:  # fmt: skip
    status: dict[str, Any] = {"conditions": []}
    if waiting:
        cs = {"name": "web", "restartCount": restarts, "state": {"waiting": {"reason": waiting, "message": "m"}}}
        status["initContainerStatuses" if init else "containerStatuses"] = [cs]
    if scheduled:
        status["conditions"].append(
            {"type": "PodScheduled", "status": "False", "reason": scheduled, "message": "0/3 nodes"}
        )
    return {"metadata": {"name": name, "labels": {"pod-template-hash": hash_}}, "status": status}


@pytest.mark.parametrize(
    ("pods", "hash_", "reason", "count"),
    [
        ([pod("a"), pod("b")], "h1", None, 0),
        ([pod("a", waiting="CrashLoopBackOff", restarts=4)], "h1", "CrashLoopBackOff", 1),
        ([pod("a", waiting="ImagePullBackOff"), pod("b", waiting="ErrImagePull")], "h1", "ImagePullBackOff", 1),
        ([pod("a", waiting="ContainerCreating")], "h1", None, 0),  # still starting: not blocking
        ([pod("a", scheduled="Unschedulable")], "h1", "Unschedulable", 1),
        ([pod("a", waiting="CreateContainerConfigError", init=True)], "h1", "CreateContainerConfigError", 1),
        ([pod("a", hash_="old", waiting="CrashLoopBackOff"), pod("b")], "h1", None, 0),  # old pods do not count
        (
            [
                pod("a", waiting="CrashLoopBackOff"),
                pod("b", waiting="CrashLoopBackOff"),
                pod("c", scheduled="Unschedulable"),
            ],
            None,
            "CrashLoopBackOff",
            2,
        ),
    ],
)
def test_blocking_problem_names_the_worst_reason(pods: list[dict[str, Any]], hash_: str | None, reason: str | None,
                                                 count: int) -> None:  # fmt: skip
    problem = blocking_problem(pods, hash_)
    if reason is None:
        assert problem is None
        return
    assert problem is not None
    assert (problem.reason, problem.pods) == (reason, count)
    assert reason in problem.describe() and f"{count} of" in problem.describe()


def test_crash_detail_carries_restarts() -> None:
    problem = blocking_problem([pod("a", waiting="CrashLoopBackOff", restarts=7)])
    assert problem is not None and "7 restarts" in problem.detail


@pytest.mark.parametrize(
    ("has_problem", "stuck", "after", "expected"),
    [(True, 10.0, 5.0, True), (True, 4.9, 5.0, False), (False, 100.0, 5.0, False), (True, 100.0, None, False)],
)
def test_fail_fast(has_problem: bool, stuck: float, after: float | None, expected: bool) -> None:
    problem = blocking_problem([pod("a", waiting="CrashLoopBackOff")]) if has_problem else None
    assert should_fail_fast(problem, stuck, after) is expected
