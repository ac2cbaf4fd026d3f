"""What a rollback should do, decided from values: the Deployment, its ReplicaSets, the Service, the target.

Never "the second-highest revision": the target is explicit (the LKG record, a revision number, an image) and a
live template that already equals it is a no-op. Every plan says why, with the numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hotfix_actions.decide.lkg import (
    LkgRecord,
    Revision,
    container_images,
    normalize_template,
    revisions,
    templates_equal,
    with_images,
    with_lkg,
)
from hotfix_actions.decide.lkg import history as lkg_history
from hotfix_actions.decide.tracking import template_digest, with_change_cause

__all__ = [
    "DEFAULT_MATRIX",
    "STRATEGIES",
    "Action",
    "Plan",
    "StrategyChoice",
    "Target",
    "apply_plan",
    "choose_strategy",
    "lease_free",
    "plan_template",
    "previous_release",
    "rollback_record",
]

STRATEGIES = ("undo", "blue-green", "redeploy", "none")
DEFAULT_MATRIX: Mapping[str, tuple[str, ...]] = {
    "critical": ("blue-green", "undo"),
    "high": ("undo",),
    "medium": ("redeploy",),
    "low": ("none",),
}


class Action(StrEnum):
    NOOP = "no-op"
    UPDATE = "update"
    REFUSE = "refuse"


@dataclass(frozen=True)
class Target:
    """Where to go: the LKG record, a revision number, or images for named containers (``{"": image}`` = the only
    container)."""

    lkg: bool = False
    revision: int | None = None
    images: Mapping[str, str] = field(default_factory=dict)
    previous: bool = False  # the release before the newest one promote verified (when that one turned out bad)

    def describe(self) -> str:
        if self.revision is not None:
            return f"revision {self.revision}"
        if self.images:
            return ", ".join(f"{k}={v}" if k else v for k, v in self.images.items())
        if self.previous:
            return "the release before the last promoted one"
        return "the last-known-good release"


@dataclass(frozen=True)
class Plan:
    """The decision for one Deployment: the action, why, and the pod template to write (hash label removed)."""

    action: Action
    reason: str
    target: str = ""
    template: Mapping[str, Any] | None = None
    source: str = ""
    from_images: Mapping[str, str] = field(default_factory=dict)
    to_images: Mapping[str, str] = field(default_factory=dict)
    resume: bool = False
    fix: str = ""
    target_hash: str = ""  # pod-template hash of the target, when known
    target_revision: int = 0  # revision of the target, when known


def _existing(revs: Sequence[Revision]) -> str:
    return ", ".join(str(r.number) for r in revs) or "none"


def _resolve_images(live: Mapping[str, Any], images: Mapping[str, str]) -> tuple[dict[str, str] | None, str]:
    names = list(container_images(live))
    if "" in images:
        if len(names) != 1:
            return None, f"the pod has {len(names)} containers ({', '.join(names)}); name the container(s)"
        return {names[0]: images[""]}, ""
    return dict(images), ""


def _from_revision(revs: Sequence[Revision], number: int) -> tuple[Revision | None, str]:
    for rev in revs:
        if rev.number == number:
            return rev, f"ReplicaSet {rev.name} (revision {rev.number})"
    for rev in revs:
        if number in rev.history:
            return rev, f"ReplicaSet {rev.name} (revision {number}, now revision {rev.number})"
    return None, ""


@dataclass(frozen=True)
class _Goal:
    template: Mapping[str, Any] | None
    source: str
    template_hash: str = ""
    revision: int = 0
    refusal: Plan | None = None
    note: str = ""  # said when nothing is to be done


def _from_lkg(revs: Sequence[Revision], record: LkgRecord, live: Mapping[str, Any]) -> _Goal:
    for rev in revs:
        if record.template_hash and rev.template_hash == record.template_hash:
            where = f"ReplicaSet {rev.name} (LKG hash {record.template_hash}, revision {rev.number})"
            return _Goal(rev.template, where, rev.template_hash, rev.number)
    stored = record.pod_template()
    pruned = f"the LKG ReplicaSet (hash {record.template_hash or '?'}, revision {record.revision}) is gone"
    if stored is not None:
        where = f"the LKG record's stored pod template ({pruned}; revisions that exist: {_existing(revs)})"
        return _Goal(stored, where, record.template_hash, record.revision)
    rebuilt, missing = with_images(live, dict(record.images))
    if missing:
        return _Goal(None, f"{pruned} and the live pod has no container named {', '.join(missing)}")
    where = f"the live template with the LKG images ({pruned}; revisions that exist: {_existing(revs)})"
    return _Goal(rebuilt, where, record.template_hash, record.revision)


def previous_release(annotations: Mapping[str, str]) -> tuple[LkgRecord | None, LkgRecord | None]:
    """(the newest release promote verified, the different release recorded before it) from the LKG history."""
    past = lkg_history(annotations)
    if not past:
        try:
            current = LkgRecord.from_annotations(annotations)
        except ValueError:
            current = None
        past = [current] if current else []
    index = next((i for i, r in enumerate(past) if r.source == "promote"), None)
    if index is None:
        return None, None
    promoted = past[index]
    return promoted, next((r for r in past[index + 1 :] if not r.same_release(promoted)), None)


def _lkg_goal(
    name: str, annotations: Mapping[str, str], revs: Sequence[Revision], live: Mapping[str, Any], previous: bool
) -> _Goal:
    """The LKG record's template; with ``previous``, the release recorded before the newest promoted one.

    Both are stable under repetition: after a rollback the target is still the same record, so running it again is
    a no-op and the release it replaced never comes back.
    """
    try:
        record = LkgRecord.from_annotations(annotations)
    except ValueError as exc:
        refusal = Plan(Action.REFUSE, f"the LKG record on deployment {name} cannot be read: {exc}")
        return _Goal(None, "", refusal=refusal)
    if record is None:
        refusal = Plan(
            Action.REFUSE,
            f"deployment {name} has no last-known-good record (hotfix promote writes one); "
            f"revisions that exist: {_existing(revs)}",
            target="the last-known-good release",
            fix="pass --to-revision N or --to-image IMAGE; undo never guesses 'the previous revision'",
        )
        return _Goal(None, "", refusal=refusal)
    if not previous:
        goal = _from_lkg(revs, record, live)
        if record.source == "promote" and goal.template is not None and templates_equal(live, goal.template):
            return replace(
                goal, note="; it is the release promote verified: if it is the bad one, use --to previous-lkg"
            )
        return goal
    promoted, earlier = previous_release(annotations)
    if promoted is None or earlier is None:
        newest = promoted.describe() if promoted is not None else "none"
        refusal = Plan(
            Action.REFUSE,
            f"deployment {name}: no release is recorded before the newest promoted one ({newest}); "
            f"revisions that exist: {_existing(revs)}",
            target="the release before the last promoted one",
            fix="pass --to-revision N or --to-image IMAGE",
        )
        return _Goal(None, "", refusal=refusal)
    before = _from_lkg(revs, earlier, live)
    note = f"the release before {promoted.images_text()} (promoted {promoted.time or '?'}): "
    return replace(before, source=note + before.source)


def plan_template(
    deployment: Mapping[str, Any],
    replicasets: Sequence[Mapping[str, Any]],
    target: Target,
    *,
    resume: bool = False,
) -> Plan:
    """undo / redeploy / promote: which pod template to write, or why nothing is written."""
    meta = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    name = meta.get("name", "?")
    live = spec.get("template") or {}
    from_images = container_images(live)
    revs = revisions(replicasets)
    paused = bool(spec.get("paused"))
    if target.revision is not None:
        rev, where = _from_revision(revs, target.revision)
        if rev is None:
            return Plan(
                Action.REFUSE,
                f"unable to find revision {target.revision} in the history of deployment {name}; "
                f"revisions that exist: {_existing(revs)}",
                target=target.describe(),
                fix="pass --to-revision with one of the revisions that exist, or --to-image",
            )
        goal = _Goal(rev.template, where, rev.template_hash, rev.number)
    elif target.images:
        images, problem = _resolve_images(live, target.images)
        if images is None:
            return Plan(Action.REFUSE, problem, target=target.describe(), fix="pass --container NAME")
        template, missing = with_images(live, images)
        if missing:
            return Plan(
                Action.REFUSE,
                f"deployment {name} has no container named {', '.join(missing)} "
                f"(containers: {', '.join(from_images) or 'none'})",
                target=target.describe(),
                fix="pass --container with one of the container names",
            )
        goal = _Goal(template, "the live template with new images")
    else:
        goal = _lkg_goal(name, meta.get("annotations") or {}, revs, live, target.previous)
        if goal.refusal is not None:
            return goal.refusal
        if goal.template is None:
            return Plan(Action.REFUSE, goal.source, target=target.describe(), fix="pass --to-revision N or --to-image")
    assert goal.template is not None
    to_images = container_images(goal.template)
    described = f"{target.describe()} ({', '.join(f'{k}={v}' for k, v in to_images.items())})"
    base = Plan(
        Action.NOOP,
        "",
        target=described,
        source=goal.source,
        from_images=from_images,
        to_images=to_images,
        target_hash=goal.template_hash,
        target_revision=goal.revision,
    )
    if paused and not resume:
        return replace(
            base,
            action=Action.REFUSE,
            reason=f"deployment {name} is paused (spec.paused=true): kubectl refuses to roll back a paused deployment "
            "and its progress deadline is not checked while paused",
            fix=f"pass --resume to resume it as part of the rollback, or run: kubectl rollout resume deployment/{name}",
        )
    if templates_equal(live, goal.template):
        if paused:
            return replace(
                base,
                action=Action.UPDATE,
                reason=f"the live template already matches {described}; resuming the paused deployment",
                template=normalize_template(goal.template),
                resume=True,
            )
        reason = f"skipped: the live template of deployment {name} already matches {described}{goal.note}"
        return replace(base, reason=reason)
    return replace(
        base,
        action=Action.UPDATE,
        reason=f"deployment {name}: {_images_change(from_images, to_images)} from {goal.source}",
        template=normalize_template(goal.template),
        resume=paused and resume,
    )


def _images_change(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    changed = [f"{n} {before.get(n, '-')} -> {after[n]}" for n in after if before.get(n) != after[n]]
    return "; ".join(changed) if changed else "same images, other template fields differ"


def apply_plan(
    deployment: Mapping[str, Any], plan: Plan, change_cause: str, lkg: LkgRecord | None = None
) -> dict[str, Any]:
    """The Deployment to PUT: the read object (its resourceVersion included) with the new template, the change
    cause and, for a rollback, the target as the new LKG record (source "rollback") in the same conditional write."""
    if plan.template is None:
        raise ValueError("a plan without a template has nothing to apply")
    result = with_lkg(deployment, lkg) if lkg is not None else copy.deepcopy(dict(deployment))
    result.pop("status", None)
    meta = result.setdefault("metadata", {})
    meta.pop("managedFields", None)
    annotations = dict(meta.get("annotations") or {})
    if change_cause:
        annotations = with_change_cause(annotations, change_cause, plan.template)
    meta["annotations"] = annotations
    spec = result.setdefault("spec", {})
    spec["template"] = copy.deepcopy(dict(plan.template))
    if plan.resume:
        spec["paused"] = False
    return result


def rollback_record(
    plan: Plan, *, time: str, run_url: str, run_id: str, replaced: Mapping[str, Any] | None = None, why: str = ""
) -> LkgRecord:
    """The LKG record a rollback writes with its target, so running it again is a no-op; ``replaced`` is the pod
    template it rolls away from (the bad release: ``hotfix status`` marks its revision with ``why``)."""
    if plan.template is None:
        raise ValueError("a plan without a template has no record")
    return LkgRecord.build(
        plan.template,
        template_hash=plan.target_hash,
        revision=plan.target_revision,
        time=time,
        run_url=run_url,
        run_id=run_id,
        source="rollback",
        replaced=", ".join(f"{k}={v}" for k, v in container_images(replaced).items()) if replaced else "",
        replaced_digest=template_digest(replaced) if replaced else "",
        why=why,
    )


# -- auto -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StrategyChoice:
    strategy: str
    row: str
    reason: str


def choose_strategy(
    severity: str, matrix: Mapping[str, Sequence[str]], *, has_colors: bool, has_image: bool
) -> StrategyChoice:
    """The first applicable strategy of the severity's row; 'none' means no rollback, said out loud."""
    row = tuple(matrix.get(severity) or ())
    row_text = f"{severity}: {' | '.join(row) or '(empty)'}"
    if not row:
        return StrategyChoice("none", row_text, f"severity {severity} has no row in rollback.matrix: no rollback")
    skipped = []
    for strategy in row:
        if strategy == "blue-green" and not has_colors:
            skipped.append("blue-green (the Service has no colors)")
            continue
        if strategy == "redeploy" and not has_image:
            skipped.append("redeploy (no previous release image is known)")
            continue
        why = f"; skipped {', '.join(skipped)}" if skipped else ""
        if strategy == "none":
            return StrategyChoice("none", row_text, f"severity {severity}: no rollback by policy{why}")
        return StrategyChoice(strategy, row_text, f"severity {severity} -> {strategy}{why}")
    return StrategyChoice("none", row_text, f"severity {severity}: no applicable strategy ({', '.join(skipped)})")


# -- lease ----------------------------------------------------------------------------------------------
def lease_free(
    holder: str | None,
    renewed: datetime | None,
    duration_seconds: int | None,
    me: str,
    now: datetime,
    unchanged_for: float = 0.0,
) -> tuple[bool, str]:
    """May ``me`` take the lease? Yes when nobody holds it, we do, or the holder let it expire.

    Expired by either clock, as client-go's leader election does: the renew time is a full TTL old by ``now``, or
    we have watched the same record stay unchanged for a full TTL (``unchanged_for`` seconds of our own monotonic
    clock), which holds whatever the skew between the holder's clock and ours.
    """
    if not holder:
        return True, "the lease is free"
    if holder == me:
        return True, "we hold the lease"
    if renewed is None or duration_seconds is None:
        return True, f"the lease of {holder} has no renew time or duration"
    expires = renewed + timedelta(seconds=duration_seconds)
    if now >= expires:
        return True, f"the lease of {holder} expired {(now - expires).total_seconds():.0f}s ago"
    if unchanged_for >= duration_seconds:
        return True, f"the lease of {holder} was not renewed for {unchanged_for:.0f}s (TTL {duration_seconds}s)"
    left = min((expires - now).total_seconds(), duration_seconds - unchanged_for)
    return False, f"held by {holder} for {left:.0f}s more unless renewed (TTL {duration_seconds}s)"
