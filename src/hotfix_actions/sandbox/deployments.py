"""The Deployment controller (section 4 of the API-surface spec): one ReplicaSet per pod template, revisions and
revision history, RollingUpdate and Recreate, pause/resume, scaling, progress deadline, history pruning, status."""

from __future__ import annotations

import copy

from hotfix_actions.sandbox.api import Api, Obj
from hotfix_actions.sandbox.deployment_status import (
    HISTORY,
    REVISION,
    calculate,
    complete,
    condition,
    new_condition,
    progressed,
    replica_failure,
    replicas_of,
    revision,
    set_condition,
    st,
)
from hotfix_actions.sandbox.events import record
from hotfix_actions.sandbox.objects import HASH_LABEL, parse_time, template_hash, template_key
from hotfix_actions.sandbox.pods import REPLICASETS, controller_of
from hotfix_actions.sandbox.resources import resource
from hotfix_actions.sandbox.rollout import RS, fenceposts, new_rs_replicas, old_scale_down

__all__ = ["REVISION", "SKIP_ANNOTATIONS", "DeploymentController"]

DEPLOYMENTS = resource("apps", "v1", "deployments")
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX = "deployment.kubernetes.io/max-replicas"
SKIP_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        HISTORY,
        DESIRED,
        MAX,
        "deprecated.deployment.rollback.to",
    }
)
_COMPONENT = "deployment-controller"


def _rs(rs: Obj) -> RS:
    return RS(rs["metadata"]["name"], replicas_of(rs), st(rs, "availableReplicas"))


class DeploymentController:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.progress_at: dict[str, float] = {}  # deployment uid -> precise lastUpdateTime of Progressing

    def sync(self, now: float) -> None:
        owned: dict[str, list[Obj]] = {}
        for rs in self.api.store.list(REPLICASETS)[0]:
            owner = controller_of(rs)
            if owner and not rs["metadata"].get("deletionTimestamp"):
                owned.setdefault(owner, []).append(rs)
        skip = self.api.terminating()
        for d in self.api.store.list(DEPLOYMENTS)[0]:
            if not d["metadata"].get("deletionTimestamp") and d["metadata"]["namespace"] not in skip:
                _Sync(self, d, owned.get(d["metadata"]["uid"], []), now).run()


class _Sync:
    """One reconciliation of one Deployment."""

    def __init__(self, ctl: DeploymentController, d: Obj, owned: list[Obj], now: float) -> None:
        self.ctl, self.api, self.d, self.now = ctl, ctl.api, d, now
        self.spec: Obj = d.get("spec") or {}
        replicas = self.spec.get("replicas")
        self.replicas = int(replicas) if replicas is not None else 1
        self.surge, self.unavailable = fenceposts(self.spec.get("strategy"), self.replicas)
        self.status: Obj = copy.deepcopy(d.get("status") or {})
        key = template_key(self.spec.get("template"))
        owned.sort(key=lambda r: (r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]))
        self.new: Obj | None = next((r for r in owned if template_key(r["spec"].get("template")) == key), None)
        self.olds = sorted((r for r in owned if r is not self.new), key=revision)
        self.uid = d["metadata"]["uid"]

    # -- helpers ----------------------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.d["metadata"]["name"])

    def _progressing(self, status: str, reason: str, message: str) -> None:
        if set_condition(self.status, new_condition("Progressing", status, reason, message, self.now)):
            self.ctl.progress_at[self.uid] = self.now

    def _scale(self, rs: Obj, size: int) -> Obj:
        """Resize a ReplicaSet and stamp desired/max-replicas; records ScalingReplicaSet."""
        before = replicas_of(rs)
        new = copy.deepcopy(rs)
        new["spec"]["replicas"] = size
        ann = new["metadata"].setdefault("annotations", {})
        ann[DESIRED] = str(self.replicas)
        ann[MAX] = str(self.replicas + self.surge)
        stored = self.api.write_internal(REPLICASETS, new)
        if size != before:
            verb = "up" if size > before else "down"
            record(
                self.api,
                self.d,
                "Deployment",
                "ScalingReplicaSet",
                f"Scaled {verb} replica set {rs['metadata']['name']} from {before} to {size}",
                component=_COMPONENT,
                now=self.now,
            )
        rs.clear()
        rs.update(stored)
        return rs

    def _copied_annotations(self) -> dict[str, str]:
        ann = (self.d["metadata"].get("annotations") or {}).items()
        return {k: v for k, v in ann if k not in SKIP_ANNOTATIONS}

    # -- the new ReplicaSet -------------------------------------------------------------------------------------
    def _ensure_new(self, create: bool) -> None:
        max_old = max((revision(r) for r in self.olds), default=0)
        number = max_old + 1
        if self.new is not None:
            rs = copy.deepcopy(self.new)
            ann = rs["metadata"].setdefault("annotations", {})
            ann.update(self._copied_annotations())
            old_rev = revision(rs)
            if old_rev < number:
                ann[REVISION] = str(number)
                if old_rev > 0:
                    ann[HISTORY] = ",".join(filter(None, [ann.get(HISTORY, ""), str(old_rev)]))
            if int(rs["spec"].get("minReadySeconds") or 0) != int(self.spec.get("minReadySeconds") or 0):
                rs["spec"]["minReadySeconds"] = int(self.spec.get("minReadySeconds") or 0)
            if rs != self.new:
                self.new = self.api.write_internal(REPLICASETS, rs)
            if condition(self.status, "Progressing") is None:
                self._progressing("True", "FoundNewReplicaSet", f'Found new replica set "{rs["metadata"]["name"]}"')
            return
        if not create:
            return
        self.new = self._create_new(number)

    def _create_new(self, number: int) -> Obj:
        template = copy.deepcopy(self.spec.get("template") or {})
        collisions = int(self.status.get("collisionCount") or 0)
        while True:
            h = template_hash(template, collisions)
            name = f"{self.name}-{h}"
            if self.api.store.get(REPLICASETS, self.d["metadata"]["namespace"], name) is None:
                break
            collisions += 1
            self.status["collisionCount"] = collisions
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = copy.deepcopy(self.spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        olds = [_rs(r) for r in self.olds]
        size = (
            new_rs_replicas(self.replicas, self.surge, RS(name, 0, 0), olds)
            if self.spec.get("strategy", {}).get("type", "RollingUpdate") == "RollingUpdate"
            else self.replicas
        )
        annotations = self._copied_annotations() | {
            REVISION: str(number),
            DESIRED: str(self.replicas),
            MAX: str(self.replicas + self.surge),
        }
        labels = dict(template["metadata"]["labels"])
        m = self.d["metadata"]
        rs = self.api.create(
            REPLICASETS,
            m["namespace"],
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "metadata": {
                    "name": name,
                    "namespace": m["namespace"],
                    "labels": labels,
                    "annotations": annotations,
                    "ownerReferences": [
                        {
                            "apiVersion": "apps/v1",
                            "kind": "Deployment",
                            "name": self.name,
                            "uid": self.uid,
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": {
                    "replicas": size,
                    "minReadySeconds": int(self.spec.get("minReadySeconds") or 0),
                    "selector": selector,
                    "template": template,
                },
            },
        )
        if size:
            record(
                self.api,
                self.d,
                "Deployment",
                "ScalingReplicaSet",
                f"Scaled up replica set {name} from 0 to {size}",
                component=_COMPONENT,
                now=self.now,
            )
        self._progressing("True", "NewReplicaSetCreated", f'Created new replica set "{name}"')
        return rs

    # -- strategies ---------------------------------------------------------------------------------------------
    def _rolling(self) -> None:
        self._ensure_new(create=True)
        assert self.new is not None
        size = new_rs_replicas(self.replicas, self.surge, _rs(self.new), [_rs(r) for r in self.olds])
        if size != replicas_of(self.new):
            self._scale(self.new, size)
        by_age = sorted(self.olds, key=lambda r: (r["metadata"].get("creationTimestamp", ""), r["metadata"]["name"]))
        plan = old_scale_down(self.replicas, self.unavailable, _rs(self.new), [_rs(r) for r in by_age])
        for rs in self.olds:
            if rs["metadata"]["name"] in plan:
                self._scale(rs, plan[rs["metadata"]["name"]])

    def _recreate(self) -> None:
        self._ensure_new(create=False)
        active = [r for r in self.olds if replicas_of(r) > 0]
        for rs in active:
            self._scale(rs, 0)
        # kube's oldPodsRunning: new pods wait until every old pod is gone, Terminating ones included
        if active or any(st(r, "replicas") > 0 or st(r, "terminatingReplicas") > 0 for r in self.olds):
            return
        if self.new is None:
            self._ensure_new(create=True)
        assert self.new is not None
        if replicas_of(self.new) != self.replicas:
            self._scale(self.new, self.replicas)

    def _scale_only(self) -> None:
        """Paused, or a scaling event: resize without rolling (kube's ``sync`` -> ``scale``).

        Every active ReplicaSet is rewritten with the current desired/max-replicas annotations, so a scaling event
        never repeats forever.
        """
        everything = ([self.new] if self.new else []) + self.olds
        active = [r for r in everything if replicas_of(r) > 0]
        target: Obj | None = None
        if len(active) == 1:
            target = active[0]
        elif not active and everything:
            target = self.new or max(self.olds, key=lambda r: r["metadata"].get("creationTimestamp", ""))
        if target is not None:
            self._scale(target, self.replicas)
            return
        if not active:
            return
        new = self.new
        if new is not None and replicas_of(new) == self.replicas and st(new, "availableReplicas") == self.replicas:
            for rs in active:
                if rs is not new:
                    self._scale(rs, 0)
            self._scale(new, self.replicas)
            return
        if self.spec.get("strategy", {}).get("type") == "Recreate":
            return
        allowed = self.replicas + self.surge if self.replicas > 0 else 0
        total = sum(replicas_of(r) for r in active)
        add = allowed - total
        ordered = sorted(active, key=lambda r: (replicas_of(r), r is self.new), reverse=add >= 0)
        sizes = [max(replicas_of(r) + int(add * replicas_of(r) / total), 0) for r in ordered]
        if add:
            sizes[0] = max(sizes[0] + allowed - sum(sizes), 0)
        for rs, size in zip(ordered, sizes, strict=True):
            self._scale(rs, size)

    def _scaling_event(self) -> bool:
        for rs in ([self.new] if self.new else []) + self.olds:
            desired = (rs["metadata"].get("annotations") or {}).get(DESIRED)
            if replicas_of(rs) > 0 and desired is not None and desired != str(self.replicas):
                return True
        return False

    # -- cleanup and status -------------------------------------------------------------------------------------
    def _cleanup(self) -> None:
        limit = self.spec.get("revisionHistoryLimit")
        if limit is None:
            return
        # kube's cleanupDeployment: the excess is counted over every live old ReplicaSet, the oldest revisions
        # are looked at first, and one that still has pods (or an unobserved spec) is skipped, not replaced
        alive = [r for r in self.olds if not r["metadata"].get("deletionTimestamp")]
        excess = len(alive) - int(limit)
        by_revision = sorted(alive, key=lambda r: (revision(r), r["metadata"].get("creationTimestamp", "")))
        for rs in by_revision[: max(excess, 0)]:
            observed = int((rs.get("status") or {}).get("observedGeneration") or 0)
            if st(rs, "replicas") or replicas_of(rs) or int(rs["metadata"].get("generation") or 1) > observed:
                continue
            self.api.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])
            self.olds.remove(rs)

    def _calculate(self) -> Obj:
        generation = int(self.d["metadata"].get("generation") or 1)
        return calculate(self.status, generation, self.new, self.olds, self.replicas, self.unavailable, self.now)

    def _complete(self, status: Obj) -> bool:
        return complete(status, self.replicas, int(self.d["metadata"].get("generation") or 1))

    def _rollout_conditions(self, new_status: Obj) -> None:
        failure = replica_failure(self.new, self.olds)  # kube's syncRolloutStatus moves RS failures up
        if failure is not None:
            set_condition(new_status, failure)
        else:
            new_status["conditions"] = [c for c in new_status.get("conditions") or [] if c["type"] != "ReplicaFailure"]
        current = condition(new_status, "Progressing")
        rs_name = self.new["metadata"]["name"] if self.new else ""
        what = f'ReplicaSet "{rs_name}"' if self.new else f'Deployment "{self.name}"'
        self.status = new_status
        if (
            new_status.get("replicas") == new_status.get("updatedReplicas")
            and current
            and current.get("reason") == "NewReplicaSetAvailable"
        ):
            return
        if self._complete(new_status):
            self._progressing("True", "NewReplicaSetAvailable", f"{what} has successfully progressed.")
        elif progressed(self.d.get("status") or {}, new_status):
            cond = new_condition("Progressing", "True", "ReplicaSetUpdated", f"{what} is progressing.", self.now)
            if current and current["status"] == "True":
                cond["lastTransitionTime"] = current["lastTransitionTime"]
            new_status["conditions"] = [c for c in new_status.get("conditions") or [] if c["type"] != "Progressing"]
            new_status["conditions"].append(cond)
            self.ctl.progress_at[self.uid] = self.now
        elif current and current.get("reason") != "NewReplicaSetAvailable":
            if current.get("reason") == "ProgressDeadlineExceeded":
                return
            since = self.ctl.progress_at.get(self.uid) or parse_time(current.get("lastUpdateTime")) or self.now
            deadline = int(self.spec.get("progressDeadlineSeconds") or 600)
            if since + deadline < self.now:
                self._progressing("False", "ProgressDeadlineExceeded", f"{what} has timed out progressing.")

    def _paused_conditions(self) -> None:
        current = condition(self.status, "Progressing")
        if current and current.get("reason") == "ProgressDeadlineExceeded":
            return
        paused_cond = current is not None and current.get("reason") == "DeploymentPaused"
        if self.spec.get("paused") and not paused_cond:
            self._progressing("Unknown", "DeploymentPaused", "Deployment is paused")
        elif not self.spec.get("paused") and paused_cond:
            self._progressing("Unknown", "DeploymentResumed", "Deployment is resumed")

    def run(self) -> None:
        self._paused_conditions()
        paused = bool(self.spec.get("paused"))
        if paused or (self.new is not None and self._scaling_event()):
            self._ensure_new(create=False)
            self._scale_only()
            status = self._calculate()
            if paused or self._complete(status):
                self._cleanup()
            self.status = self._calculate()
        else:
            if self.spec.get("strategy", {}).get("type") == "Recreate":
                self._recreate()
            else:
                self._rolling()
            new_status = self._calculate()
            if self._complete(new_status):
                self._cleanup()
                new_status = self._calculate()
            self._rollout_conditions(new_status)
        self._write()

    def _write(self) -> None:
        d = copy.deepcopy(self.d)
        d["status"] = self.status
        if self.new is not None:
            d["metadata"].setdefault("annotations", {})[REVISION] = str(revision(self.new))
        if d != self.d:
            self.api.write_internal(DEPLOYMENTS, d)
