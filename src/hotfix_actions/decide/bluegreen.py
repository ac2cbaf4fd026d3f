"""Blue-green rollback decided from values: the Service, the Deployments and the pods of the namespace.

Switch the Service selector to the other color only when all of that color's pods are Ready; a record of the switch
(annotation on the Service) makes the same rollback a no-op when run again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hotfix_actions.decide.rollback import Action

__all__ = ["BLUE_GREEN_ANNOTATION", "BlueGreenPlan", "blue_green_record", "plan_blue_green", "pod_ready"]

BLUE_GREEN_ANNOTATION = "hotfix-actions.io/blue-green-rollback"


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
