"""The rolling-update arithmetic: fenceposts, new ReplicaSet growth, old ReplicaSet scale-down."""

from __future__ import annotations

from typing import Any

import pytest

from hotfix_actions.sandbox.deployment_status import complete, progressed, set_condition
from hotfix_actions.sandbox.rollout import RS, fenceposts, int_or_percent, new_rs_replicas, old_scale_down


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [("25%", 4, True, 1), ("25%", 3, True, 1), ("25%", 3, False, 0), ("50%", 5, True, 3), ("50%", 5, False, 2),
     (2, 10, True, 2), ("3", 10, False, 3), (None, 10, True, 0), ("0%", 10, True, 0), ("100%", 7, False, 7)],
)  # fmt: skip
def test_int_or_percent(value: Any, total: int, round_up: bool, expected: int) -> None:
    assert int_or_percent(value, total, round_up=round_up) == expected


@pytest.mark.parametrize(
    ("strategy", "replicas", "expected"),
    [
        (None, 4, (1, 1)),  # defaults 25%/25%
        ({"type": "RollingUpdate"}, 1, (1, 0)),  # 25% of 1: surge rounds up, unavailable down
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}, 3, (0, 1)),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "50%", "maxUnavailable": "50%"}}, 5, (3, 2)),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 9}}, 3, (0, 3)),
        ({"type": "Recreate"}, 4, (0, 0)),
    ],
)
def test_fenceposts(strategy: dict[str, Any] | None, replicas: int, expected: tuple[int, int]) -> None:
    assert fenceposts(strategy, replicas) == expected


@pytest.mark.parametrize(
    ("replicas", "surge", "new", "olds", "expected"),
    [
        (4, 1, RS("n", 0, 0), [RS("o", 4, 4)], 1),  # one surge pod
        (4, 2, RS("n", 0, 0), [RS("o", 4, 4)], 2),
        (4, 1, RS("n", 1, 0), [RS("o", 4, 4)], 1),  # at the ceiling: wait
        (4, 1, RS("n", 1, 1), [RS("o", 3, 3)], 2),
        (4, 0, RS("n", 0, 0), [RS("o", 3, 3)], 1),  # room left by a scaled-down old set
        (4, 10, RS("n", 0, 0), [RS("o", 4, 4)], 4),  # never above replicas
        (4, 1, RS("n", 6, 6), [], 4),  # shrinks to replicas
        (3, 1, RS("n", 0, 0), [], 3),  # first rollout: all at once
    ],
)
def test_new_rs_replicas(replicas: int, surge: int, new: RS, olds: list[RS], expected: int) -> None:
    assert new_rs_replicas(replicas, surge, new, olds) == expected


@pytest.mark.parametrize(
    ("replicas", "unavailable", "new", "olds", "expected"),
    [
        (4, 1, RS("n", 1, 0), [RS("o", 4, 4)], {"o": 3}),  # 5 pods, min 3 available, new pod not ready: drop 1 old
        (4, 0, RS("n", 1, 0), [RS("o", 4, 4)], {}),  # maxUnavailable 0: wait for the new pod
        (4, 0, RS("n", 1, 1), [RS("o", 4, 4)], {"o": 3}),
        (4, 1, RS("n", 2, 2), [RS("o", 3, 3)], {"o": 1}),  # 2 new available: down to 3 available + ... = o 1
        (2, 0, RS("n", 1, 0), [RS("o", 2, 2), RS("bad", 1, 0)], {"bad": 0}),  # unhealthy old pods go first
        (4, 1, RS("n", 4, 4), [RS("o", 0, 0)], {}),  # nothing left to scale down
        (1, 0, RS("n", 1, 0), [RS("o", 1, 1)], {}),  # a crash-looping new pod blocks the old one forever
    ],
)
def test_old_scale_down(replicas: int, unavailable: int, new: RS, olds: list[RS], expected: dict[str, int]) -> None:
    assert old_scale_down(replicas, unavailable, new, olds) == expected


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"updatedReplicas": 1}, {"updatedReplicas": 2}, True),
        ({"replicas": 4, "updatedReplicas": 2}, {"replicas": 3, "updatedReplicas": 2}, True),  # an old pod went
        ({"readyReplicas": 1}, {"readyReplicas": 2}, True),
        ({"availableReplicas": 1}, {"availableReplicas": 2}, True),
        ({"replicas": 3, "updatedReplicas": 1, "availableReplicas": 2}, {"replicas": 3, "updatedReplicas": 1,
                                                                        "availableReplicas": 2}, False),
        ({"availableReplicas": 2}, {}, False),  # missing counts are 0: fewer is not progress
    ],
)  # fmt: skip
def test_progressed(old: dict[str, int], new: dict[str, int], expected: bool) -> None:
    assert progressed(old, new) is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"updatedReplicas": 3, "replicas": 3, "availableReplicas": 3, "observedGeneration": 2}, True),
        ({"updatedReplicas": 3, "replicas": 4, "availableReplicas": 3, "observedGeneration": 2}, False),
        ({"updatedReplicas": 3, "replicas": 3, "availableReplicas": 2, "observedGeneration": 2}, False),
        ({"updatedReplicas": 3, "replicas": 3, "availableReplicas": 3, "observedGeneration": 1}, False),
    ],
)
def test_complete(status: dict[str, int], expected: bool) -> None:
    assert complete(status, 3, 2) is expected


def test_set_condition_keeps_transition_time_for_the_same_status() -> None:
    status: dict[str, Any] = {}
    first = {"type": "Progressing", "status": "True", "reason": "NewReplicaSetCreated", "lastTransitionTime": "t1"}
    assert set_condition(status, dict(first))
    assert not set_condition(status, dict(first, lastTransitionTime="t9"))  # same status and reason: unchanged
    assert set_condition(status, {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                                  "lastTransitionTime": "t2"})  # fmt: skip
    assert status["conditions"][0]["lastTransitionTime"] == "t1"
    assert set_condition(status, {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                                  "lastTransitionTime": "t3"})  # fmt: skip
    assert status["conditions"][0]["lastTransitionTime"] == "t3"
