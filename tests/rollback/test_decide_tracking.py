"""decide.tracking as tables: what a wait after our write must see (our template, no crash, no failure to create
pods) and where a change cause came from. Pure functions: no cluster."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotfix_actions.decide.lkg import CHANGE_CAUSE
from hotfix_actions.decide.tracking import (
    CAUSE_MARK,
    Expectation,
    change_cause_of,
    crash_problem,
    replica_failure,
    superseded,
    template_digest,
    with_change_cause,
)

TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}


def dep(image: str = "web:1", generation: int = 3, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["spec"]["containers"][0]["image"] = image
    return {
        "metadata": {"name": "web", "generation": generation, "annotations": annotations or {}},
        "spec": {"template": template},
    }


def pod(uid: str, restarts: int = 0, waiting: str = "", hash_: str = "h1") -> dict[str, Any]:
    state: dict[str, Any] = {"waiting": {"reason": waiting, "message": "m"}} if waiting else {"running": {}}
    status = {"name": "web", "restartCount": restarts, "state": state}
    if restarts:
        status["lastState"] = {"terminated": {"reason": "Error", "exitCode": 1}}
    return {
        "metadata": {"name": f"web-{uid}", "uid": uid, "labels": {"pod-template-hash": hash_}},
        "status": {"containerStatuses": [status]},
    }


EXPECT = Expectation(3, TEMPLATE, "web=web:1", None, {})


@pytest.mark.parametrize(
    ("live", "gone", "text"),
    [
        (dep(), False, ""),
        (dep(generation=5), False, ""),  # a scale or an annotation change: still ours
        (dep("web:2", 4, {CHANGE_CAUSE: "deploy 2"}), True, "change cause: deploy 2"),
        (dep("web:2", 4, with_change_cause({}, "ours", TEMPLATE)), True, "unknown (made by another tool"),
        (dep("web:2", 4), True, "unknown (no change cause recorded)"),
    ],
)
def test_superseded(live: dict[str, Any], gone: bool, text: str) -> None:
    found = superseded(live, EXPECT)
    assert (found is not None) is gone
    if found is not None:
        said = found.describe(EXPECT)
        assert said.startswith("superseded: another writer changed the deployment after our write (generation 3 -> 4)")
        assert "it now runs web=web:2" in said and text in said and "not web=web:1" in said


def test_managed_fields_name_the_writer() -> None:
    live = dep("web:2", 4, {CHANGE_CAUSE: "x"})
    live["metadata"]["managedFields"] = [
        {"manager": "hotfix-actions", "time": "2026-01-01T00:00:00Z", "fieldsV1": {"f:spec": {"f:template": {}}}},
        {"manager": "kubectl-set", "time": "2026-01-01T00:00:05Z", "fieldsV1": {"f:spec": {"f:template": {}}}},
        {"manager": "kube-controller-manager", "time": "2026-01-01T00:00:09Z", "fieldsV1": {"f:status": {}}},
    ]
    found = superseded(live, EXPECT)
    assert found is not None and found.writer == "kubectl-set at 2026-01-01T00:00:05Z"


@given(st.text(min_size=1, max_size=40), st.sampled_from(["web:1", "web:2", "other:3"]))
def test_a_change_cause_is_ours_only_for_the_template_it_was_written_with(cause: str, later: str) -> None:
    written = dep(annotations=with_change_cause({}, cause, TEMPLATE))
    assert change_cause_of(written) == cause
    inherited = dep(later, annotations=written["metadata"]["annotations"])  # another tool set only the image
    if later == "web:1":
        assert change_cause_of(inherited) == cause
    else:
        assert change_cause_of(inherited).startswith("unknown (made by another tool")


def test_the_digest_ignores_the_hash_label_and_nulls() -> None:
    labelled = copy.deepcopy(TEMPLATE)
    labelled["metadata"]["labels"]["pod-template-hash"] = "abc"
    labelled["spec"]["nodeSelector"] = None
    assert template_digest(labelled) == template_digest(TEMPLATE)
    assert with_change_cause({}, "c", TEMPLATE)[CAUSE_MARK] == template_digest(TEMPLATE)


@pytest.mark.parametrize(
    ("pods", "baseline", "reason", "count"),
    [
        ([pod("a"), pod("b")], {}, None, 0),
        ([pod("a", restarts=1)], {}, "Restarted", 1),  # crashed after Ready, running again
        ([pod("a", restarts=2, waiting="CrashLoopBackOff")], {}, "CrashLoopBackOff", 1),
        ([pod("a", restarts=3)], {"a": 3}, None, 0),  # restarts from before our write do not count
        ([pod("a", restarts=4)], {"a": 3}, "Restarted", 1),
        ([pod("a", waiting="ImagePullBackOff"), pod("b", waiting="ImagePullBackOff")], {}, "ImagePullBackOff", 2),
        ([pod("a", waiting="CreateContainerConfigError")], {}, "CreateContainerConfigError", 1),
        ([pod("a", waiting="ErrImagePull")], {}, None, 0),  # may clear by itself: left to fail_fast_after
        ([pod("a", restarts=5, hash_="old")], {}, None, 0),  # not one of our new pods
    ],
)
def test_crash_problem(pods: list[dict[str, Any]], baseline: dict[str, int], reason: str | None, count: int) -> None:
    found = crash_problem(pods, "h1", baseline)
    assert (found.reason if found else None) == reason
    if found is not None:
        assert found.pods == count and found.immediate


RS = {"metadata": {"name": "web-h1", "uid": "rs-1"}, "status": {}}


def event(uid: str = "rs-1", when: str = "2026-01-01T00:00:10Z", **extra: Any) -> dict[str, Any]:
    return {"involvedObject": {"uid": uid}, "type": "Warning", "reason": "FailedCreate", "count": 3,
            "message": 'Error creating: pods "web-h1-x" is forbidden: exceeded quota: pods', "lastTimestamp": when,
            **extra}  # fmt: skip


@pytest.mark.parametrize(
    ("deployment", "replicaset", "events", "text"),
    [
        ({}, RS, [], ""),
        (
            {
                "status": {
                    "conditions": [
                        {
                            "type": "ReplicaFailure",
                            "status": "True",
                            "reason": "FailedCreate",
                            "message": "exceeded quota",
                        }
                    ]
                }
            },
            RS,
            [],
            "deployment ReplicaFailure (FailedCreate): exceeded quota",
        ),
        ({"status": {"conditions": [{"type": "ReplicaFailure", "status": "False"}]}}, RS, [], ""),
        (
            {
                "status": {
                    "conditions": [{"type": "Progressing", "reason": "ReplicaSetCreateError", "message": "denied"}]
                }
            },
            None,
            [],
            "deployment could not create its ReplicaSet: denied",
        ),
        ({}, RS, [event()], "replicaset FailedCreate (3x): Error creating: pods"),
        ({}, RS, [event(when="2026-01-01T00:00:01Z")], ""),  # before our write
        ({}, RS, [event(uid="rs-old")], ""),  # another ReplicaSet
        ({}, RS, [event(type="Normal")], ""),
    ],
)
def test_replica_failure(deployment: dict[str, Any], replicaset: dict[str, Any] | None,
                         events: list[dict[str, Any]], text: str) -> None:  # fmt: skip
    found = replica_failure(deployment, replicaset, events, since="2026-01-01T00:00:05Z")
    assert found.startswith(text) if text else found == ""
