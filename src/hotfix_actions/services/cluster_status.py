"""`hotfix status` (the live and LKG revisions in kubectl's numbering, every revision's images and change cause, the
bad ones and why, the lock holder) and `hotfix snapshot` (get all -o yaml + LKG)."""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from hotfix_actions.decide.history import lkg_revision, revision_views
from hotfix_actions.decide.lkg import REVISION, LkgRecord, revisions, template_hash
from hotfix_actions.decide.lkg import history as lkg_history
from hotfix_actions.decide.rollout import RolloutPhase, rollout_status
from hotfix_actions.decide.tracking import crash_problem, pod_restarts, recent_restart
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.ports import Cluster, KubeObject
from hotfix_actions.report import Outcome, Row, md_escape, md_table
from hotfix_actions.services import _kubeops as ops

__all__ = ["snapshot", "status"]

_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when PyYAML has it

_ALL = ("pods", "services", "deployments", "replicasets")  # kubectl get all, minus kinds we do not serve
RECENT_CRASH = 600.0  # seconds: a live revision whose pods crashed this recently is bad, even if they run now


def status(cluster: Cluster, namespace: str, name: str, *, lock_prefix: str) -> Outcome:
    """The truth at a glance: the rollout, the live and the LKG revision in ``kubectl rollout history``'s numbering,
    every revision's images and change cause ("unknown" when another tool made it), the bad ones and why, the lock.
    PASS when the live revision is healthy; FAIL (exit 1) when it is not (a failed rollout, new pods that crash)."""
    ops.check_names(namespace, deployment=name)
    deployment = ops.read_deployment(cluster, namespace, name)
    meta = deployment.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    spec = deployment.get("spec") or {}
    st = deployment.get("status") or {}
    rollout = rollout_status(deployment)
    replicasets = cluster.owned_replicasets(deployment)
    live_problem = _live_problem(cluster, namespace, deployment, replicasets, rollout.phase is RolloutPhase.FAILED)
    healthy = not live_problem
    rows = [
        Row(
            "deployment",
            Status.FAIL if live_problem else (Status.PASS if rollout.phase is RolloutPhase.COMPLETE else Status.WARN),
            f"{rollout.message}; {st.get('readyReplicas', 0)}/{spec.get('replicas', 1)} ready"
            + ("; PAUSED" if spec.get("paused") else "")
            + (f"; {live_problem}" if live_problem else ""),
        )
    ]
    try:
        lkg = LkgRecord.from_annotations(annotations)
        problem = ""
    except ValueError as exc:
        lkg, problem = None, f"unreadable: {exc}"
    records = lkg_history(annotations) or ([lkg] if lkg else [])
    views = revision_views(deployment, replicasets, lkg, records, live_problem)
    live = str(annotations.get(REVISION, ""))
    lkg_number, lkg_words = lkg_revision(revisions(replicasets), lkg)
    if lkg is not None:
        lkg_words += f"; {lkg.source} {lkg.time}" + (
            f", run {lkg.run_url or lkg.run_id}" if lkg.run_url or lkg.run_id else ""
        )
    rows.append(Row("live revision", Status.FAIL if live_problem else Status.PASS, f"revision {live or '?'}"))
    rows.append(Row("last-known-good", Status.PASS if lkg_number is not None else Status.WARN, problem or lkg_words))
    table = []
    for view in views:
        marks = view.marks()
        status_of = Status.FAIL if view.bad and view.live else (Status.WARN if view.bad else Status.PASS)
        rows.append(
            Row(
                f"revision {view.number}",
                status_of,
                f"{view.images_text()}; hash {view.template_hash}; {view.ready}/{view.replicas} ready"
                + (f"; {', '.join(marks)}" if marks else "")
                + (f"; bad: {view.bad}" if view.bad else "")
                + f"; cause: {view.change_cause}",
            )
        )
        table.append(
            [
                str(view.number),
                md_escape(view.images_text()),
                f"{view.ready}/{view.replicas}",
                " ".join(marks),
                md_escape(view.bad),
                md_escape(view.change_cause),
            ]
        )
    lease = cluster.read_lease(namespace, ops.lease_name(lock_prefix, name))
    holder = lease.holder if lease and lease.holder else ""
    rows.append(Row("lock", Status.PASS, lease.describe() if lease else "free (no lease yet)"))
    outputs = {
        "revision": live,
        "lkg-revision": str(lkg_number or ""),
        "images": json.dumps(dict(revisions(replicasets)[-1].images) if replicasets and views else {}),
        "lkg": lkg.to_json(with_template=False) if lkg else "",
        "lock-holder": holder,
        "healthy": "true" if healthy else "false",
        "paused": "true" if spec.get("paused") else "false",
        "revisions": json.dumps(
            [
                {
                    "revision": v.number,
                    "images": dict(v.images),
                    "hash": v.template_hash,
                    "replicas": v.replicas,
                    "ready": v.ready,
                    "changeCause": v.change_cause,
                    "live": v.live,
                    "lkg": v.lkg,
                    "bad": v.bad,
                }
                for v in views
            ]
        ),
    }
    markdown = md_table(["Revision", "Images", "Ready", "", "Bad because", "Change cause"], table) if table else ""
    return Outcome(
        command="status",
        verdict=Verdict.PASS if healthy else Verdict.FAIL,
        reasons=[r.text for r in rows if r.check in ("deployment", "live revision", "last-known-good", "lock")],
        outputs=outputs,
        rows=rows,
        title=f"status {namespace}/{name}",
        markdown=markdown,
    )


def _live_problem(
    cluster: Cluster, namespace: str, deployment: KubeObject, replicasets: list[KubeObject], failed: bool
) -> str:
    """What is wrong with the live revision now: a failed rollout, or its pods waiting in a reason that will not
    clear (CrashLoopBackOff, ImagePullBackOff, ...); "" when nothing is."""
    if failed:
        return rollout_status(deployment).message
    live = str(((deployment.get("metadata") or {}).get("annotations") or {}).get(REVISION, ""))
    current = next(
        (rs for rs in replicasets if str(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION)) == live),
        None,
    )
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if current is None or not labels:
        return ""
    pods = cluster.list_objects("pods", namespace, labels=labels)
    hash_ = template_hash(current) or None
    before = {str((p.get("metadata") or {}).get("uid")): pod_restarts(p) for p in pods}
    found = crash_problem(pods, hash_, before)  # waiting now in CrashLoopBackOff, ImagePullBackOff...
    now = cluster.server_time() or time.time()
    found = found or recent_restart(pods, hash_, now, RECENT_CRASH)  # or crashed a moment ago, Ready in between
    return f"its pods crash: {found.describe()}" if found else ""


def snapshot(cluster: Cluster, namespace: str, name: str | None = None) -> tuple[str, int]:
    """YAML like ``kubectl get all -o yaml`` (one Deployment's objects when ``name`` is given) plus LKG records."""
    ops.check_names(namespace, deployment=name)
    items: list[dict[str, Any]] = []
    lkg: dict[str, Any] = {}
    if name:
        deployment = ops.read_deployment(cluster, namespace, name)
        items = ops.snapshot_objects(cluster, namespace, deployment, pods=True)
        lkg[name] = ops.lkg_records(deployment)
    else:
        if not cluster.namespace_exists(namespace):
            from hotfix_actions.errors import NotFoundError

            raise NotFoundError(f'namespace "{namespace}" does not exist', fix="pass an existing --namespace")
        for kind in _ALL:
            for obj in cluster.list_objects(kind, namespace):
                meta = dict(obj.get("metadata") or {})
                meta.pop("managedFields", None)
                items.append({**obj, "metadata": meta})
                if obj.get("kind") == "Deployment":
                    lkg[meta.get("name", "?")] = ops.lkg_records(obj)
    document = {"apiVersion": "v1", "kind": "List", "metadata": {"hotfix-actions": {"lkg": lkg}}, "items": items}
    return yaml.dump(document, Dumper=_DUMPER, sort_keys=False), len(items)
