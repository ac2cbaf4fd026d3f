"""What the wait after our write must keep seeing, as pure functions over API JSON.

- **Our template.** After rollback or promote writes a pod template, the Deployment must keep carrying it. Another
  writer's template ends the wait as SUPERSEDED (naming the new images, the writer's change cause and, where the
  server records it, the field manager); never a PASS. The same template written again by someone else is still ours.
- **Crashes in seconds.** A new pod (of our template's ReplicaSet) whose containers restarted since the write, or
  one waiting in a reason that no wait will clear (CrashLoopBackOff, ImagePullBackOff, CreateContainerConfigError,
  InvalidImageName), fails at once: about one kubelet back-off, not a fixed 90 s.
- **Failures that are not pods.** A ``ReplicaFailure`` condition (quota exceeded, an admission webhook or policy
  denying the pods) or a ``FailedCreate`` warning on our ReplicaSet since the write ends the wait with its message.
- **Change causes.** Our change cause is written with a digest of the template it describes
  (``hotfix-actions.io/change-cause-of``). The Deployment controller copies annotations to each new ReplicaSet, so
  a ReplicaSet whose template does not match that digest got the cause by inheritance: another tool made it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hotfix_actions.decide.lkg import CHANGE_CAUSE, HASH_LABEL, container_images, normalize_template, templates_equal
from hotfix_actions.decide.rollout import PodProblem

__all__ = [
    "CAUSE_MARK",
    "IMMEDIATE_REASONS",
    "Expectation",
    "Superseded",
    "change_cause_of",
    "crash_problem",
    "pod_restarts",
    "recent_restart",
    "replica_failure",
    "superseded",
    "template_digest",
    "with_change_cause",
]

CAUSE_MARK = "hotfix-actions.io/change-cause-of"
IMMEDIATE_REASONS = ("CrashLoopBackOff", "ImagePullBackOff", "CreateContainerConfigError", "InvalidImageName")


def template_digest(template: Mapping[str, Any]) -> str:
    """A short digest of a pod template as kubectl compares it (hash label and nulls removed)."""
    text = json.dumps(normalize_template(template), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def with_change_cause(annotations: Mapping[str, str], cause: str, template: Mapping[str, Any]) -> dict[str, str]:
    """Annotations carrying ``cause`` and the digest of the template it describes."""
    result = dict(annotations)
    result[CHANGE_CAUSE] = cause
    result[CAUSE_MARK] = template_digest(template)
    return result


def change_cause_of(obj: Mapping[str, Any]) -> str:
    """The change cause of a Deployment's or ReplicaSet's template, or "unknown (...)" when it was not written for
    this template (inherited from an earlier write by a tool that set none) or when none is recorded."""
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    cause = str(annotations.get(CHANGE_CAUSE) or "")
    mark = annotations.get(CAUSE_MARK)
    template = (obj.get("spec") or {}).get("template") or {}
    if not cause:
        return "unknown (no change cause recorded)"
    if mark and mark != template_digest(template):
        return f"unknown (made by another tool; it inherited the change cause {cause!r} of an earlier template)"
    return cause


def _writer(deployment: Mapping[str, Any]) -> str:
    """The field manager that last wrote spec.template, when the server keeps managedFields."""
    best = ("", "")
    for entry in (deployment.get("metadata") or {}).get("managedFields") or ():
        fields = ((entry.get("fieldsV1") or {}).get("f:spec") or {}) if isinstance(entry, Mapping) else {}
        if "f:template" in fields and str(entry.get("time") or "") >= best[1]:
            best = (str(entry.get("manager") or ""), str(entry.get("time") or ""))
    return f"{best[0]} at {best[1]}" if best[0] else ""


@dataclass(frozen=True)
class Expectation:
    """What our write put on the Deployment; the wait follows it."""

    generation: int  # metadata.generation of the Deployment as our write left it
    template: Mapping[str, Any]  # the pod template we wrote
    target: str = ""  # the same in words, e.g. "web=registry.example/web:1.0"
    written_at: float | None = None  # the API server's clock at the write (epoch seconds), for events
    restarts: Mapping[str, int] = field(default_factory=dict)  # pod uid -> restarts before the write

    @classmethod
    def after_write(
        cls, written: Mapping[str, Any], *, written_at: float | None, restarts: Mapping[str, int]
    ) -> Expectation:
        meta = written.get("metadata") or {}
        template = (written.get("spec") or {}).get("template") or {}
        images = ", ".join(f"{k}={v}" for k, v in container_images(template).items())
        return cls(int(meta.get("generation") or 0), template, images, written_at, dict(restarts))


@dataclass(frozen=True)
class Superseded:
    """Another writer put another template on the Deployment after our write."""

    generation: int
    images: str
    change_cause: str
    writer: str = ""

    def describe(self, expect: Expectation) -> str:
        by = f"; written by {self.writer}" if self.writer else ""
        return (
            f"superseded: another writer changed the deployment after our write (generation {expect.generation} -> "
            f"{self.generation}): it now runs {self.images or '?'} (change cause: {self.change_cause}{by}), not "
            f"{expect.target or 'our template'}; nothing of ours is rolling out"
        )


def superseded(deployment: Mapping[str, Any], expect: Expectation) -> Superseded | None:
    """None while the Deployment carries our template (whoever wrote it last); else who replaced it with what."""
    template = (deployment.get("spec") or {}).get("template") or {}
    if templates_equal(template, expect.template):
        return None
    meta = deployment.get("metadata") or {}
    images = ", ".join(f"{k}={v}" for k, v in container_images(template).items())
    return Superseded(int(meta.get("generation") or 0), images, change_cause_of(deployment), _writer(deployment))


def pod_restarts(pod: Mapping[str, Any]) -> int:
    status = pod.get("status") or {}
    return sum(
        int(cs.get("restartCount") or 0)
        for key in ("initContainerStatuses", "containerStatuses")
        for cs in status.get(key) or ()
    )


def _restart_detail(pod: Mapping[str, Any]) -> tuple[str, str]:
    """(the reason a restarted container is in now, words about it)."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or ():
        if not cs.get("restartCount"):
            continue
        waiting = (cs.get("state") or {}).get("waiting") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        exit_words = f", last exit {last.get('reason') or '?'} (code {last.get('exitCode', '?')})" if last else ""
        detail = f"container {cs.get('name', '?')} restarted {cs['restartCount']} time(s){exit_words}"
        return str(waiting.get("reason") or "Restarted"), detail
    return "Restarted", "a container restarted"


def crash_problem(
    pods: Sequence[Mapping[str, Any]],
    template_hash: str | None,
    baseline: Mapping[str, int],
    reasons: Sequence[str] = IMMEDIATE_REASONS,
) -> PodProblem | None:
    """The first sign that our new pods will not run: a restart since the write (``baseline``: restarts per pod uid
    before it; pods created since count from 0), or a waiting reason in ``reasons``."""
    new = [
        p
        for p in pods
        if template_hash is None or ((p.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL) == template_hash
    ]
    restarted = [p for p in new if pod_restarts(p) > baseline.get(str((p.get("metadata") or {}).get("uid")), 0)]
    if restarted:
        pod = restarted[0]
        reason, detail = _restart_detail(pod)
        name = (pod.get("metadata") or {}).get("name", "?")
        return PodProblem(reason, len(restarted), len(new), name, detail, restarts=pod_restarts(pod), immediate=True)
    counts: dict[str, list[tuple[str, str]]] = {}
    for pod in new:
        for key in ("initContainerStatuses", "containerStatuses"):
            for cs in (pod.get("status") or {}).get(key) or ():
                waiting = (cs.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in reasons:
                    name = (pod.get("metadata") or {}).get("name", "?")
                    words = f"container {cs.get('name', '?')}" + (
                        f": {waiting['message']}" if waiting.get("message") else ""
                    )
                    counts.setdefault(str(waiting["reason"]), []).append((name, words))
    for reason in reasons:
        if reason in counts:
            name, detail = counts[reason][0]
            return PodProblem(reason, len(counts[reason]), len(new), name, detail, immediate=True)
    return None


def _epoch(text: Any) -> float | None:
    from datetime import datetime

    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def recent_restart(
    pods: Sequence[Mapping[str, Any]], template_hash: str | None, now: float, within: float
) -> PodProblem | None:
    """A pod of the template whose container last ended (crashed) within ``within`` seconds before ``now``: a
    crash-looping pod between two crashes looks Ready, its last termination does not."""
    new = [
        p
        for p in pods
        if template_hash is None or ((p.get("metadata") or {}).get("labels") or {}).get(HASH_LABEL) == template_hash
    ]
    hits = []
    for pod in new:
        for cs in (pod.get("status") or {}).get("containerStatuses") or ():
            ended = _epoch(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
            if cs.get("restartCount") and ended is not None and now - within <= ended <= now + 60:
                hits.append((pod, cs, now - ended))
                break
    if not hits:
        return None
    pod, cs, ago = min(hits, key=lambda hit: hit[2])
    reason, detail = _restart_detail(pod)
    detail += f", last ended {max(ago, 0):.0f} s ago"
    name = (pod.get("metadata") or {}).get("name", "?")
    return PodProblem(reason, len(hits), len(new), name, detail, restarts=pod_restarts(pod), immediate=True)


def replica_failure(
    deployment: Mapping[str, Any],
    replicaset: Mapping[str, Any] | None,
    events: Sequence[Mapping[str, Any]],
    since: str = "",
) -> str:
    """Why pods are not even created: a ReplicaFailure condition (the Deployment's or our ReplicaSet's), a failed
    ReplicaSet creation, or a FailedCreate warning on our ReplicaSet at or after ``since`` (RFC 3339); "" if none."""
    for owner, obj in (("deployment", deployment), ("replicaset", replicaset or {})):
        for cond in (obj.get("status") or {}).get("conditions") or ():
            if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
                return f"{owner} ReplicaFailure ({cond.get('reason') or '?'}): {cond.get('message') or ''}".strip()
            if cond.get("type") == "Progressing" and cond.get("reason") == "ReplicaSetCreateError":
                return f"{owner} could not create its ReplicaSet: {cond.get('message') or ''}".strip()
    uid = ((replicaset or {}).get("metadata") or {}).get("uid")
    for event in sorted(events, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""), reverse=True):
        involved = event.get("involvedObject") or {}
        when = str(event.get("lastTimestamp") or event.get("eventTime") or "")
        if (
            uid
            and involved.get("uid") == uid
            and event.get("type") == "Warning"
            and event.get("reason") == "FailedCreate"
            and when[:19] >= since[:19]
        ):
            count = int(event.get("count") or 1)
            return f"replicaset FailedCreate ({count}x): {event.get('message') or ''}".strip()
    return ""
