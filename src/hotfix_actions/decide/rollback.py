"""What a rollback should do, decided from values: the Deployment, its ReplicaSets, the Service, the target.

Never "the second-highest revision": the target is explicit (the LKG record, a revision number, an image) and a
live template that already equals it is a no-op. Every plan says why, with the numbers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from hotfix_actions.decide.lkg import (
    CHANGE_CAUSE,
    LkgRecord,
    Revision,
    container_images,
    normalize_template,
    revisions,
    templates_equal,
    with_images,
)

__all__ = [
    "BLUE_GREEN_ANNOTATION",
    "DEFAULT_MATRIX",
    "STRATEGIES",
    "Action",
    "BlueGreenPlan",
    "Plan",
    "StrategyChoice",
    "Target",
    "apply_plan",
    "blue_green_record",
    "choose_strategy",
    "lease_free",
    "plan_blue_green",
    "plan_template",
    "pod_ready",
]

STRATEGIES = ("undo", "blue-green", "redeploy", "none")
DEFAULT_MATRIX: Mapping[str, tuple[str, ...]] = {
    "critical": ("blue-green", "undo"),
    "high": ("undo",),
    "medium": ("redeploy",),
    "low": ("none",),
}
BLUE_GREEN_ANNOTATION = "hotfix-actions.io/blue-green-rollback"


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

    def describe(self) -> str:
        if self.revision is not None:
            return f"revision {self.revision}"
        if self.images:
            return ", ".join(f"{k}={v}" if k else v for k, v in self.images.items())
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


def _from_lkg(
    revs: Sequence[Revision], record: LkgRecord, live: Mapping[str, Any]
) -> tuple[Mapping[str, Any] | None, str]:
    for rev in revs:
        if record.template_hash and rev.template_hash == record.template_hash:
            return rev.template, f"ReplicaSet {rev.name} (LKG hash {record.template_hash}, revision {rev.number})"
    stored = record.pod_template()
    pruned = f"the LKG ReplicaSet (hash {record.template_hash or '?'}, revision {record.revision}) is gone"
    if stored is not None:
        return stored, f"the LKG record's stored pod template ({pruned}; revisions that exist: {_existing(revs)})"
    rebuilt, missing = with_images(live, dict(record.images))
    if missing:
        return None, f"{pruned} and the live pod has no container named {', '.join(missing)}"
    return rebuilt, f"the live template with the LKG images ({pruned}; revisions that exist: {_existing(revs)})"


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
    source = ""
    goal: Mapping[str, Any] | None = None
    if target.revision is not None:
        rev, source = _from_revision(revs, target.revision)
        if rev is None:
            return Plan(
                Action.REFUSE,
                f"unable to find revision {target.revision} in the history of deployment {name}; "
                f"revisions that exist: {_existing(revs)}",
                target=target.describe(),
                fix="pass --to-revision with one of the revisions that exist, or --to-image",
            )
        goal = rev.template
    elif target.images:
        images, problem = _resolve_images(live, target.images)
        if images is None:
            return Plan(Action.REFUSE, problem, target=target.describe(), fix="pass --container NAME")
        goal, missing = with_images(live, images)
        if missing:
            return Plan(
                Action.REFUSE,
                f"deployment {name} has no container named {', '.join(missing)} "
                f"(containers: {', '.join(from_images) or 'none'})",
                target=target.describe(),
                fix="pass --container with one of the container names",
            )
        source = "the live template with new images"
    else:
        annotations = meta.get("annotations") or {}
        try:
            record = LkgRecord.from_annotations(annotations)
        except ValueError as exc:
            return Plan(Action.REFUSE, f"the LKG record on deployment {name} cannot be read: {exc}", fix="")
        if record is None:
            return Plan(
                Action.REFUSE,
                f"deployment {name} has no last-known-good record (hotfix promote writes one); "
                f"revisions that exist: {_existing(revs)}",
                target=target.describe(),
                fix="pass --to-revision N or --to-image IMAGE; undo never guesses 'the previous revision'",
            )
        goal, source = _from_lkg(revs, record, live)
        if goal is None:
            return Plan(Action.REFUSE, source, target=record.describe(), fix="pass --to-revision N or --to-image")
    to_images = container_images(goal)
    described = f"{target.describe()} ({', '.join(f'{k}={v}' for k, v in to_images.items())})"
    if paused and not resume:
        return Plan(
            Action.REFUSE,
            f"deployment {name} is paused (spec.paused=true): kubectl refuses to roll back a paused deployment and "
            "its progress deadline is not checked while paused",
            target=described,
            fix=f"pass --resume to resume it as part of the rollback, or run: kubectl rollout resume deployment/{name}",
        )
    if templates_equal(live, goal):
        if paused:
            return Plan(
                Action.UPDATE,
                f"the live template already matches {described}; resuming the paused deployment",
                target=described,
                template=normalize_template(goal),
                source=source,
                from_images=from_images,
                to_images=to_images,
                resume=True,
            )
        return Plan(
            Action.NOOP,
            f"skipped: the live template of deployment {name} already matches {described}",
            target=described,
            source=source,
            from_images=from_images,
            to_images=to_images,
        )
    return Plan(
        Action.UPDATE,
        f"deployment {name}: {_images_change(from_images, to_images)} from {source}",
        target=described,
        template=normalize_template(goal),
        source=source,
        from_images=from_images,
        to_images=to_images,
        resume=paused and resume,
    )


def _images_change(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    changed = [f"{n} {before.get(n, '-')} -> {after[n]}" for n in after if before.get(n) != after[n]]
    return "; ".join(changed) if changed else "same images, other template fields differ"


def apply_plan(deployment: Mapping[str, Any], plan: Plan, change_cause: str) -> dict[str, Any]:
    """The Deployment to PUT: the read object (its resourceVersion included) with the new template."""
    if plan.template is None:
        raise ValueError("a plan without a template has nothing to apply")
    result = copy.deepcopy(dict(deployment))
    result.pop("status", None)
    meta = result.setdefault("metadata", {})
    meta.pop("managedFields", None)
    annotations = dict(meta.get("annotations") or {})
    if change_cause:
        annotations[CHANGE_CAUSE] = change_cause
    meta["annotations"] = annotations
    spec = result.setdefault("spec", {})
    spec["template"] = copy.deepcopy(dict(plan.template))
    if plan.resume:
        spec["paused"] = False
    return result


# -- blue-green ---------------------------------------------------------------------------------------------
def pod_ready(pod: Mapping[str, Any]) -> bool:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    for cond in (pod.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


@dataclass(frozen=True)
class BlueGreenPlan:
    action: Action
    reason: str
    from_color: str = ""
    to_color: str = ""
    selector: Mapping[str, str] = field(default_factory=dict)
    target_deployment: str = ""
    failed_deployments: tuple[str, ...] = ()
    target_hash: str = ""
    fix: str = ""


def _selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def plan_blue_green(
    service: Mapping[str, Any],
    deployments: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
    *,
    color_label: str,
    colors: Sequence[str],
    to_color: str | None = None,
) -> BlueGreenPlan:
    """Switch the Service to the other color, only when that color's pods are all Ready."""
    meta = service.get("metadata") or {}
    svc = meta.get("name", "?")
    selector = dict((service.get("spec") or {}).get("selector") or {})
    current = selector.get(color_label)
    if current is None:
        return BlueGreenPlan(
            Action.REFUSE,
            f"service {svc} has no '{color_label}' key in its selector {selector}: it has no colors",
            fix="use --strategy undo, or set rollback.blue_green.color_label in .hotfix.yml",
        )
    others = [c for c in colors if c != current]
    goal = to_color or (others[0] if len(others) == 1 else None)
    if goal is None:
        return BlueGreenPlan(
            Action.REFUSE,
            f"service {svc} selects {color_label}={current}, which is not one of two colors {list(colors)}",
            fix="pass --to-color",
        )
    new_selector = {**selector, color_label: goal}

    def matching(sel: Mapping[str, str]) -> list[Mapping[str, Any]]:
        return [
            d
            for d in deployments
            if _selects(sel, ((d.get("spec") or {}).get("template") or {}).get("metadata", {}).get("labels") or {})
        ]

    targets = matching(new_selector)
    failed = tuple(sorted((d.get("metadata") or {}).get("name", "?") for d in matching(selector)))
    if not targets:
        return BlueGreenPlan(
            Action.REFUSE,
            f"no deployment has pods labelled {new_selector} (the {goal} color of service {svc})",
            from_color=current,
            to_color=goal,
            fix="deploy the other color first, or use --strategy undo",
        )
    target = targets[0]
    t_meta = target.get("metadata") or {}
    t_hash = _bg_key(targets)
    if current == goal:
        return BlueGreenPlan(
            Action.NOOP,
            f"skipped: service {svc} already selects {color_label}={goal}",
            from_color=current,
            to_color=goal,
            selector=new_selector,
            target_deployment=t_meta.get("name", "?"),
        )
    record = _bg_record(meta.get("annotations") or {})
    if to_color is None and record.get("to") == current and record.get("target") == _bg_key(matching(selector)):
        return BlueGreenPlan(
            Action.NOOP,
            f"skipped: service {svc} was already switched from {record.get('from')} to {current} by run "
            f"{record.get('run') or '?'} at {record.get('time') or '?'}, and {current} has not changed since",
            from_color=current,
            to_color=current,
            selector=selector,
        )
    wanted = int((target.get("spec") or {}).get("replicas", 1) or 0)
    live = [p for p in pods if _selects(new_selector, (p.get("metadata") or {}).get("labels") or {})]
    ready = sum(1 for p in live if pod_ready(p))
    if wanted < 1 or ready < wanted:
        return BlueGreenPlan(
            Action.REFUSE,
            f"the {goal} color is not ready: {ready} of {wanted} pods of deployment {t_meta.get('name')} are Ready "
            f"({len(live)} pods exist)",
            from_color=current,
            to_color=goal,
            fix=f"scale deployment {t_meta.get('name')} up and wait until its pods are Ready, or use --strategy undo",
        )
    return BlueGreenPlan(
        Action.UPDATE,
        f"service {svc}: {color_label} {current} -> {goal}; {ready} of {wanted} pods of {t_meta.get('name')} Ready",
        from_color=current,
        to_color=goal,
        selector=new_selector,
        target_deployment=t_meta.get("name", "?"),
        failed_deployments=failed,
        target_hash=t_hash,
    )


def _bg_key(deployments: Sequence[Mapping[str, Any]]) -> str:
    return ",".join(
        sorted(
            f"{(d.get('metadata') or {}).get('name', '?')}@{(d.get('metadata') or {}).get('generation', 0)}"
            for d in deployments
        )
    )


def _bg_record(annotations: Mapping[str, str]) -> dict[str, Any]:
    try:
        data = json.loads(annotations.get(BLUE_GREEN_ANNOTATION) or "{}")
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def blue_green_record(plan: BlueGreenPlan, *, run: str, time: str) -> str:
    """The annotation written on the Service with the switch, so running the same rollback again is a no-op."""
    return json.dumps(
        {"from": plan.from_color, "to": plan.to_color, "target": plan.target_hash, "run": run, "time": time},
        sort_keys=True,
        separators=(",", ":"),
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
    holder: str | None, renewed: datetime | None, duration_seconds: int | None, me: str, now: datetime
) -> tuple[bool, str]:
    """May ``me`` take the lease? Yes when nobody holds it, we do, or the holder let it expire."""
    if not holder:
        return True, "the lease is free"
    if holder == me:
        return True, "we hold the lease"
    if renewed is None or duration_seconds is None:
        return True, f"the lease of {holder} has no renew time or duration"
    expires = renewed + timedelta(seconds=duration_seconds)
    if now >= expires:
        return True, f"the lease of {holder} expired {(now - expires).total_seconds():.0f}s ago"
    return False, f"held by {holder} for {(expires - now).total_seconds():.0f}s more (TTL {duration_seconds}s)"
