"""`hotfix status` (revisions with images, the LKG, the lock holder) and `hotfix snapshot` (get all -o yaml + LKG)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from hotfix_actions.decide.lkg import REVISION, LkgRecord, revisions
from hotfix_actions.decide.rollout import rollout_status
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.ports import Cluster
from hotfix_actions.report import Outcome, Row, md_escape, md_table
from hotfix_actions.services import _kubeops as ops

__all__ = ["snapshot", "status"]

_ALL = ("pods", "services", "deployments", "replicasets")  # kubectl get all, minus kinds we do not serve


def status(cluster: Cluster, namespace: str, name: str, *, lock_prefix: str) -> Outcome:
    ops.check_names(namespace, deployment=name)
    deployment = ops.read_deployment(cluster, namespace, name)
    meta = deployment.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    spec = deployment.get("spec") or {}
    st = deployment.get("status") or {}
    rollout = rollout_status(deployment)
    rows = [
        Row(
            "deployment",
            Status.PASS if rollout.phase.value == "complete" else Status.WARN,
            f"{rollout.message}; {st.get('readyReplicas', 0)}/{spec.get('replicas', 1)} ready"
            + ("; PAUSED" if spec.get("paused") else ""),
        )
    ]
    try:
        lkg = LkgRecord.from_annotations(annotations)
        lkg_text = lkg.describe() + (f", run {lkg.run_url or lkg.run_id}" if lkg else "") if lkg else "none recorded"
        lkg_status = Status.PASS if lkg else Status.WARN
    except ValueError as exc:
        lkg, lkg_text, lkg_status = None, f"unreadable: {exc}", Status.WARN
    live = str(annotations.get(REVISION, ""))
    revs = revisions(cluster.owned_replicasets(deployment))
    table = []
    for rev in revs:
        marks = [
            m
            for m, on in (
                ("live", str(rev.number) == live),
                ("LKG", bool(lkg and lkg.template_hash == rev.template_hash)),
            )
            if on
        ]
        rows.append(
            Row(
                f"revision {rev.number}",
                Status.PASS,
                f"{rev.images_text()}; hash {rev.template_hash}; {rev.ready}/{rev.replicas} ready"
                + (f"; {', '.join(marks)}" if marks else "")
                + (f"; cause: {rev.change_cause}" if rev.change_cause else ""),
            )
        )
        table.append(
            [
                str(rev.number),
                md_escape(rev.images_text()),
                rev.template_hash,
                f"{rev.ready}/{rev.replicas}",
                " ".join(marks),
                md_escape(rev.change_cause),
            ]
        )
    rows.append(Row("last-known-good", lkg_status, lkg_text))
    lease = cluster.read_lease(namespace, ops.lease_name(lock_prefix, name))
    holder = lease.holder if lease and lease.holder else ""
    rows.append(
        Row(
            "lock",
            Status.PASS,
            f"held by {holder} (renewed {lease.renewed}, TTL {lease.duration_seconds}s)"
            if lease and holder
            else "free",
        )
    )
    outputs = {
        "revision": live,
        "images": json.dumps(dict(revs[-1].images) if revs else {}),
        "lkg": lkg.to_json(with_template=False) if lkg else "",
        "lock-holder": holder,
        "paused": "true" if spec.get("paused") else "false",
        "revisions": json.dumps(
            [
                {
                    "revision": r.number,
                    "images": dict(r.images),
                    "hash": r.template_hash,
                    "replicas": r.replicas,
                    "ready": r.ready,
                    "changeCause": r.change_cause,
                }
                for r in revs
            ]
        ),
    }
    markdown = md_table(["Revision", "Images", "Hash", "Ready", "", "Change cause"], table) if table else ""
    return Outcome(
        command="status",
        verdict=Verdict.PASS,
        reasons=[r.text for r in rows if r.check in ("deployment", "last-known-good", "lock")],
        outputs=outputs,
        rows=rows,
        title=f"status {namespace}/{name}",
        markdown=markdown,
    )


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
    return yaml.safe_dump(document, sort_keys=False), len(items)
