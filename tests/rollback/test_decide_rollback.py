"""Rollback decisions from values: targets, no-ops, refusals, LKG records, blue-green, the matrix, the lease."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotfix_actions.decide.bluegreen import BLUE_GREEN_ANNOTATION, blue_green_record, plan_blue_green
from hotfix_actions.decide.lkg import (
    LKG_ANNOTATION,
    LKG_HISTORY_ANNOTATION,
    LkgRecord,
    history,
    normalize_template,
    templates_equal,
    with_lkg,
)
from hotfix_actions.decide.rollback import (
    DEFAULT_MATRIX,
    Action,
    Target,
    apply_plan,
    choose_strategy,
    lease_free,
    plan_template,
    previous_release,
    rollback_record,
)


def template(image: str, hash_: str | None = None, env: str = "") -> dict[str, Any]:
    labels = {"app": "web", **({"pod-template-hash": hash_} if hash_ else {})}
    container: dict[str, Any] = {"name": "web", "image": image}
    if env:
        container["env"] = [{"name": "MODE", "value": env}]
    return {"metadata": {"labels": labels}, "spec": {"containers": [container]}}


def rs(revision: int, image: str, hash_: str, history_: str = "") -> dict[str, Any]:
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    if history_:
        annotations["deployment.kubernetes.io/revision-history"] = history_
    return {
        "metadata": {"name": f"web-{hash_}", "labels": {"pod-template-hash": hash_}, "annotations": annotations},
        "spec": {"template": template(image, hash_)},
        "status": {"replicas": 0, "readyReplicas": 0},
    }


def record(image: str, hash_: str, revision: int, source: str = "promote", stored: bool = True) -> LkgRecord:
    rec = LkgRecord.build(template(image), template_hash=hash_, revision=revision, time="t", run_id="r", source=source)
    return rec if stored else LkgRecord(rec.images, rec.template_hash, rec.revision, rec.time, source=source)


def dep(
    image: str, *, lkg: LkgRecord | None = None, older: list[LkgRecord] | None = None, paused: bool = False
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "metadata": {"name": "web", "resourceVersion": "42", "annotations": {}},
        "spec": {"template": template(image), "paused": paused},
    }
    for item in [*(older or []), *([lkg] if lkg else [])]:
        d = with_lkg(d, item)
    return d


HISTORY = [rs(1, "web:1", "h1"), rs(2, "web:2", "h2"), rs(3, "web:bad", "h3")]


@pytest.mark.parametrize(
    ("deployment", "replicasets", "target", "action", "to_image", "text"),
    [
        # LKG found by hash
        (
            dep("web:bad", lkg=record("web:2", "h2", 2)),
            HISTORY,
            Target(lkg=True),
            Action.UPDATE,
            "web:2",
            "ReplicaSet web-h2",
        ),
        # LKG's ReplicaSet pruned: the stored template, naming what exists
        (
            dep("web:bad", lkg=record("web:0", "h0", 0)),
            HISTORY,
            Target(lkg=True),
            Action.UPDATE,
            "web:0",
            "revisions that exist: 1, 2, 3",
        ),
        # pruned and no stored template: the live template with the LKG images
        (
            dep("web:bad", lkg=record("web:0", "h0", 0, stored=False)),
            HISTORY,
            Target(lkg=True),
            Action.UPDATE,
            "web:0",
            "live template with the LKG images",
        ),
        # no LKG record: refuse, never "the previous revision"
        (dep("web:bad"), HISTORY, Target(lkg=True), Action.REFUSE, None, "no last-known-good record"),
        # live already equals the LKG set by a rollback: no-op (the second rollback)
        (
            dep("web:2", lkg=record("web:2", "h2", 2, source="rollback")),
            HISTORY,
            Target(lkg=True),
            Action.NOOP,
            None,
            "already matches",
        ),
        # live equals the LKG promote verified: a no-op (a failed canary must not move a healthy primary), with a hint
        (
            dep("web:2", lkg=record("web:2", "h2", 2), older=[record("web:1", "h1", 1)]),
            HISTORY,
            Target(lkg=True),
            Action.NOOP,
            None,
            "use --to previous-lkg",
        ),
        # ... asked explicitly for the release before the promoted one
        (
            dep("web:2", lkg=record("web:2", "h2", 2), older=[record("web:1", "h1", 1)]),
            HISTORY,
            Target(previous=True),
            Action.UPDATE,
            "web:1",
            "the release before web=web:2",
        ),
        # ... with no record before it: refuse with the revisions
        (
            dep("web:2", lkg=record("web:2", "h2", 2)),
            HISTORY,
            Target(previous=True),
            Action.REFUSE,
            None,
            "no release is recorded before",
        ),
        # explicit revision
        (dep("web:bad"), HISTORY, Target(revision=1), Action.UPDATE, "web:1", "revision 1"),
        # a revision that was re-used keeps its old number in revision-history
        (
            dep("web:bad"),
            [rs(4, "web:1", "h1", "1"), rs(3, "web:bad", "h3")],
            Target(revision=1),
            Action.UPDATE,
            "web:1",
            "now revision 4",
        ),
        (dep("web:bad"), HISTORY, Target(revision=9), Action.REFUSE, None, "revisions that exist: 1, 2, 3"),
        (dep("web:1"), HISTORY, Target(revision=1), Action.NOOP, None, "already matches"),
        # images
        (dep("web:bad"), HISTORY, Target(images={"": "web:3"}), Action.UPDATE, "web:3", "web web:bad -> web:3"),
        (dep("web:bad"), HISTORY, Target(images={"side": "x:1"}), Action.REFUSE, None, "no container named side"),
        (dep("web:3"), HISTORY, Target(images={"web": "web:3"}), Action.NOOP, None, "already matches"),
        # paused
        (dep("web:bad", paused=True), HISTORY, Target(revision=1), Action.REFUSE, None, "paused"),
    ],
)
def test_plan_template(deployment: dict[str, Any], replicasets: list[dict[str, Any]], target: Target, action: Action,
                       to_image: str | None, text: str) -> None:  # fmt: skip
    plan = plan_template(deployment, replicasets, target)
    assert plan.action is action, plan.reason
    assert text in plan.reason
    if to_image:
        assert plan.template is not None
        assert plan.template["spec"]["containers"][0]["image"] == to_image
        assert "pod-template-hash" not in plan.template["metadata"]["labels"]
    if action is Action.REFUSE:
        assert plan.template is None


def test_paused_with_resume_unpauses_in_the_same_write() -> None:
    plan = plan_template(dep("web:bad", paused=True), HISTORY, Target(revision=1), resume=True)
    assert plan.action is Action.UPDATE and plan.resume
    body = apply_plan(dep("web:bad", paused=True), plan, "cause")
    assert body["spec"]["paused"] is False
    same = plan_template(dep("web:1", paused=True), HISTORY, Target(revision=1), resume=True)
    assert same.action is Action.UPDATE and same.resume and "resuming" in same.reason


def test_multi_container_image_needs_a_name() -> None:
    d = dep("web:1")
    d["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "side:1"})
    plan = plan_template(d, HISTORY, Target(images={"": "web:2"}))
    assert plan.action is Action.REFUSE and "2 containers (web, side)" in plan.reason


def test_apply_plan_keeps_resource_version_and_records_the_target() -> None:
    d = dep("web:bad", lkg=record("web:2", "h2", 2))
    d["status"] = {"replicas": 3}
    d["metadata"]["managedFields"] = [{"manager": "x"}]
    plan = plan_template(d, HISTORY, Target(lkg=True))
    lkg = rollback_record(plan, time="2026-01-01T00:00:00Z", run_url="u", run_id="run-9")
    body = apply_plan(d, plan, "hotfix rollback", lkg)
    assert body["metadata"]["resourceVersion"] == "42"
    assert "status" not in body and "managedFields" not in body["metadata"]
    assert body["metadata"]["annotations"]["kubernetes.io/change-cause"] == "hotfix rollback"
    written = LkgRecord.from_annotations(body["metadata"]["annotations"])
    assert written is not None and written.source == "rollback" and written.images == (("web", "web:2"),)
    assert written.template_hash == "h2" and written.revision == 2
    # the second rollback, seeing this, does nothing: the bad image never comes back
    after = copy.deepcopy(body)
    after["spec"]["template"] = template("web:2")
    assert plan_template(after, HISTORY, Target(lkg=True)).action is Action.NOOP


def test_lkg_record_round_trip_and_history() -> None:
    first = record("web:1", "h1", 1)
    second = record("web:2", "h2", 2)
    d = with_lkg(with_lkg(dep("web:2"), first), second)
    annotations = d["metadata"]["annotations"]
    assert LkgRecord.from_annotations(annotations) == second
    past = history(annotations)
    assert [r.images for r in past] == [second.images, first.images]
    assert "template" in json.loads(annotations[LKG_HISTORY_ANNOTATION])[1]
    assert past[1].pod_template() == normalize_template(template("web:1"))
    assert templates_equal(second.pod_template() or {}, template("web:2", "zzz"))
    assert json.loads(annotations[LKG_ANNOTATION])["podTemplateHash"] == "h2"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{", "not JSON"),
        ('{"images": {}}', "'images'"),
        ('{"images": {"web": "x"}, "revision": "2"}', "'revision'"),
        ("[1]", "not a JSON object"),
    ],
)
def test_unreadable_lkg_is_refused_not_guessed(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        LkgRecord.from_annotations({LKG_ANNOTATION: text})
    d = dep("web:bad")
    d["metadata"]["annotations"][LKG_ANNOTATION] = text
    plan = plan_template(d, HISTORY, Target(lkg=True))
    assert plan.action is Action.REFUSE and "cannot be read" in plan.reason


def test_previous_release_is_stable_after_a_rollback_to_it() -> None:
    d = dep("web:3", lkg=record("web:3", "h3", 3), older=[record("web:1", "h1", 1), record("web:2", "h2", 2)])
    promoted, earlier = previous_release(d["metadata"]["annotations"])
    assert promoted is not None and earlier is not None
    assert (promoted.image, earlier.image) == ("web:3", "web:2")
    plan = plan_template(d, HISTORY, Target(previous=True))
    assert plan.action is Action.UPDATE and plan.to_images == {"web": "web:2"}
    after = apply_plan(d, plan, "rollback", rollback_record(plan, time="t", run_url="", run_id="r"))
    after["spec"]["template"] = template("web:2")
    # history is now [web:2 (rollback), web:3, web:2, web:1]: the same question gives the same answer, a no-op
    assert plan_template(after, HISTORY, Target(previous=True)).action is Action.NOOP
    assert plan_template(after, HISTORY, Target(lkg=True)).action is Action.NOOP
    assert [r.image for r in history(after["metadata"]["annotations"])] == ["web:2", "web:3", "web:2", "web:1"]


def test_normalize_ignores_hash_label_and_nulls() -> None:
    a = template("web:1", "h1")
    a["spec"]["nodeName"] = None
    assert normalize_template(a) == template("web:1")
    assert not templates_equal(template("web:1", env="a"), template("web:1", env="b"))


# -- blue-green ---------------------------------------------------------------------------------------------
def bg_dep(color: str, replicas: int = 2, generation: int = 1) -> dict[str, Any]:
    labels = {"app": "web", "color": color}
    return {"metadata": {"name": f"web-{color}", "generation": generation},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": labels}}}}  # fmt: skip


def bg_pod(color: str, i: int, ready: bool = True, deleting: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": f"web-{color}-{i}", "labels": {"app": "web", "color": color}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def svc(color: str | None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    selector = {"app": "web", **({"color": color} if color else {})}
    return {"metadata": {"name": "web", "annotations": annotations or {}}, "spec": {"selector": selector}}


GREEN_READY = [bg_pod("green", 0), bg_pod("green", 1), bg_pod("blue", 0)]


@pytest.mark.parametrize(
    ("service", "pods", "to_color", "action", "text"),
    [
        (svc("blue"), GREEN_READY, None, Action.UPDATE, "color blue -> green; 2 of 2 pods of web-green Ready"),
        (svc("blue"), [bg_pod("green", 0), bg_pod("green", 1, ready=False)], None, Action.REFUSE, "1 of 2 pods"),
        (svc("blue"), [bg_pod("green", 0), bg_pod("green", 1, deleting=True)], None, Action.REFUSE, "1 of 2 pods"),
        (svc(None), GREEN_READY, None, Action.REFUSE, "has no colors"),
        (svc("green"), GREEN_READY, "green", Action.NOOP, "already selects color=green"),
        (svc("red"), GREEN_READY, None, Action.REFUSE, "not one of two colors"),
        (
            svc("green", {BLUE_GREEN_ANNOTATION: json.dumps({"from": "blue", "to": "green", "target": "web-green@1"})}),
            GREEN_READY,
            None,
            Action.NOOP,
            "already switched from blue to green",
        ),
        # green was redeployed since that switch (generation 2): a new rollback is a real switch again
        (
            svc("green", {BLUE_GREEN_ANNOTATION: json.dumps({"from": "blue", "to": "green", "target": "web-green@0"})}),
            [bg_pod("blue", 0), bg_pod("blue", 1)],
            None,
            Action.UPDATE,
            "green -> blue",
        ),
    ],
)
def test_plan_blue_green(service: dict[str, Any], pods: list[dict[str, Any]], to_color: str | None, action: Action,
                         text: str) -> None:  # fmt: skip
    plan = plan_blue_green(service, [bg_dep("blue"), bg_dep("green")], pods, color_label="color",
                           colors=("blue", "green"), to_color=to_color)  # fmt: skip
    assert plan.action is action, plan.reason
    assert text in plan.reason
    if action is Action.UPDATE:
        assert plan.selector["color"] == plan.to_color


def test_blue_green_record_makes_the_second_run_a_noop() -> None:
    first = plan_blue_green(svc("blue"), [bg_dep("blue"), bg_dep("green")], GREEN_READY, color_label="color",
                            colors=("blue", "green"))  # fmt: skip
    assert first.action is Action.UPDATE and first.failed_deployments == ("web-blue",)
    note = blue_green_record(first, run="run-1", time="t")
    again = plan_blue_green(svc("green", {BLUE_GREEN_ANNOTATION: note}), [bg_dep("blue"), bg_dep("green")],
                            GREEN_READY, color_label="color", colors=("blue", "green"))  # fmt: skip
    assert again.action is Action.NOOP and "run-1" in again.reason


def test_blue_green_without_a_deployment_for_the_other_color() -> None:
    plan = plan_blue_green(svc("blue"), [bg_dep("blue")], GREEN_READY, color_label="color", colors=("blue", "green"))
    assert plan.action is Action.REFUSE and "no deployment has pods labelled" in plan.reason


# -- auto -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("severity", "colors", "image", "strategy", "text"),
    [
        ("critical", True, True, "blue-green", "critical -> blue-green"),
        ("critical", False, True, "undo", "skipped blue-green (the Service has no colors)"),
        ("high", True, True, "undo", "high -> undo"),
        ("medium", False, True, "redeploy", "medium -> redeploy"),
        ("medium", False, False, "none", "no applicable strategy"),
        ("low", True, True, "none", "no rollback by policy"),
    ],
)
def test_choose_strategy(severity: str, colors: bool, image: bool, strategy: str, text: str) -> None:
    choice = choose_strategy(severity, DEFAULT_MATRIX, has_colors=colors, has_image=image)
    assert (choice.strategy, text in choice.reason) == (strategy, True), choice.reason
    assert choice.row.startswith(f"{severity}: ")


def test_choose_strategy_custom_row() -> None:
    choice = choose_strategy("high", {"high": ("redeploy", "undo")}, has_colors=False, has_image=False)
    assert choice.strategy == "undo" and "redeploy (no previous release image is known)" in choice.reason
    assert choose_strategy("high", {}, has_colors=True, has_image=True).strategy == "none"


# -- lease -----------------------------------------------------------------------------------------------
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("holder", "renewed", "duration", "free", "text"),
    [
        (None, None, None, True, "free"),
        ("me", NOW, 60, True, "we hold"),
        ("other", NOW - timedelta(seconds=30), 60, False, "held by other for 30s more unless renewed (TTL 60s)"),
        ("other", NOW - timedelta(seconds=61), 60, True, "expired 1s ago"),
        ("other", None, 60, True, "no renew time"),
    ],
)
def test_lease_free(holder: str | None, renewed: datetime | None, duration: int | None, free: bool, text: str) -> None:
    ok, reason = lease_free(holder, renewed, duration, "me", NOW)
    assert ok is free and text in reason


@given(
    skew=st.floats(min_value=-3600, max_value=3600),
    ttl=st.integers(min_value=1, max_value=600),
    unchanged=st.floats(min_value=0, max_value=1200),
)
def test_a_lease_left_unrenewed_for_a_ttl_is_free_whatever_the_clock_skew(
    skew: float, ttl: int, unchanged: float
) -> None:
    """The holder's clock may be ahead of ours by up to an hour (its renew time is in our future): once we have
    watched the record unchanged for a full TTL it is free; before that, only the renew time can free it."""
    renewed = NOW + timedelta(seconds=skew)
    ok, reason = lease_free("other", renewed, ttl, "me", NOW, unchanged_for=unchanged)
    by_wall = renewed + timedelta(seconds=ttl) <= NOW
    assert ok is (by_wall or unchanged >= ttl), reason
    if not ok:
        assert "held by other" in reason and f"(TTL {ttl}s)" in reason
