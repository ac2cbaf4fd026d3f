"""The ReplicaSet controller and a simulated kubelet: pods are created for ReplicaSets, scheduled on one node and
become Ready after ``ready_delay``; images matching ``crash_images`` crash-loop (CrashLoopBackOff) and those matching
``pull_fail_images`` never start (ImagePullBackOff). Pod status is a pure function of (spec, birth time, now), so a
re-sync that finds nothing new writes nothing.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from typing import Any

from hotfix_actions.sandbox.api import Api, Obj
from hotfix_actions.sandbox.events import record
from hotfix_actions.sandbox.objects import random_suffix, rfc3339
from hotfix_actions.sandbox.resources import resource
from hotfix_actions.sandbox.settings import Settings

__all__ = ["NODE_LABELS", "NODE_NAME", "Kubelet", "ReplicaSetController", "controller_of", "is_available"]

NODE_NAME = "sandbox-node"
NODE_LABELS = {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
PODS = resource("", "v1", "pods")
REPLICASETS = resource("apps", "v1", "replicasets")


def controller_of(obj: Obj) -> str | None:
    """The uid of the controlling owner, if any."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _condition(status: Obj, kind: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            found: Obj = cond
            return found
    return None


class Kubelet:
    """Computes pod status from the pod spec and the clock; remembers when each pod was first seen."""

    def __init__(self, api: Api, settings: Settings) -> None:
        self.api = api
        self.settings = settings
        self.born: dict[str, float] = {}
        self._ips: dict[str, str] = {}
        self._next_ip = 2

    def ready_at(self, pod: Obj) -> float | None:
        """When the pod became Ready, or None when it is not Ready."""
        ready = _condition(pod.get("status") or {}, "Ready")
        if not ready or ready.get("status") != "True":
            return None
        born = self.born.get(pod["metadata"]["uid"])
        return born + self.settings.ready_delay if born is not None else 0.0

    def _ip(self, pod: Obj) -> str:
        """A stable pod IP: the one it has (e.g. after a snapshot restore), else the next free one."""
        uid = pod["metadata"]["uid"]
        if uid not in self._ips:
            known = (pod.get("status") or {}).get("podIP")
            if known:
                self._ips[uid] = str(known)
            else:
                n = self._next_ip % 62_500
                self._next_ip += 1
                self._ips[uid] = f"10.244.{n // 250}.{n % 250 + 1}"
        return self._ips[uid]

    def sync(self, now: float) -> None:
        skip = self.api.terminating()
        for pod in self.api.store.list(PODS)[0]:
            if pod["metadata"]["namespace"] in skip:
                continue
            uid = pod["metadata"]["uid"]
            born = self.born.setdefault(uid, now)
            status = self.status_for(pod, born, now)
            if status != pod.get("status"):
                was_crashing = _restarts(pod.get("status") or {})
                new = copy.deepcopy(pod)
                new["status"] = status
                if status.get("hostIP"):
                    new["spec"]["nodeName"] = NODE_NAME
                self.api.write_internal(PODS, new)
                restarts = _restarts(status)
                if restarts > was_crashing:
                    name = _waiting_container(status)
                    record(
                        self.api,
                        new,
                        "Pod",
                        "BackOff",
                        f"Back-off restarting failed container {name} in pod "
                        f"{pod['metadata']['name']}_{pod['metadata'].get('namespace')}({uid})",
                        component="kubelet",
                        warning=True,
                        now=now,
                    )
        live = {p["metadata"]["uid"] for p in self.api.store.list(PODS)[0]}
        for uid in list(self.born):
            if uid not in live:
                self.born.pop(uid, None)
                self._ips.pop(uid, None)

    def status_for(self, pod: Obj, born: float, now: float) -> Obj:
        spec = pod.get("spec") or {}
        s = self.settings
        birth = rfc3339(born)
        selector = spec.get("nodeSelector") or {}
        unmatched = {k: v for k, v in selector.items() if NODE_LABELS.get(k) != v}
        if unmatched:
            return {
                "phase": "Pending",
                "qosClass": "BestEffort",
                "conditions": [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "lastProbeTime": None,
                        "lastTransitionTime": birth,
                        "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
                        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                    }
                ],
            }
        started = born + s.ready_delay
        containers = [_container_status(c, pod, born, started, now, s) for c in spec.get("containers") or []]
        all_ready = bool(containers) and all(c["ready"] for c in containers)
        pending = any(
            "waiting" in c["state"]
            and c["state"]["waiting"]["reason"] in ("ContainerCreating", "ImagePullBackOff", "ErrImagePull")
            for c in containers
        )
        not_ready = [c["name"] for c in containers if not c["ready"]]
        ready_since = rfc3339(started) if all_ready else birth
        cond_ready: Obj = {
            "type": "Ready",
            "status": "True" if all_ready else "False",
            "lastProbeTime": None,
            "lastTransitionTime": ready_since,
        }
        if not all_ready:
            cond_ready |= {
                "reason": "ContainersNotReady",
                "message": f"containers with unready status: [{' '.join(not_ready)}]",
            }
        containers_ready = dict(cond_ready, type="ContainersReady")
        sandbox_ready = now >= started or not pending
        return {
            "phase": "Pending" if pending else "Running",
            "hostIP": "10.0.0.1",
            "hostIPs": [{"ip": "10.0.0.1"}],
            "podIP": self._ip(pod),
            "podIPs": [{"ip": self._ip(pod)}],
            "qosClass": "BestEffort",
            "startTime": birth,
            "conditions": [
                {
                    "type": "PodReadyToStartContainers",
                    "status": "True" if sandbox_ready else "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": birth,
                },
                {"type": "Initialized", "status": "True", "lastProbeTime": None, "lastTransitionTime": birth},
                cond_ready,
                containers_ready,
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": birth},
            ],
            "containerStatuses": containers,
        }


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _container_status(c: Obj, pod: Obj, born: float, started: float, now: float, s: Settings) -> Obj:
    image = str(c.get("image") or "")
    name = str(c.get("name") or "")
    out: Obj = {
        "name": name,
        "image": image,
        "imageID": "",
        "ready": False,
        "restartCount": 0,
        "started": False,
        "lastState": {},
        "state": {},
    }
    if s.pull_fails(image):
        out["state"] = {"waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}}
        return out
    if now < started:
        out["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return out
    out["imageID"] = f"docker.io/library/{image.split(':', maxsplit=1)[0]}@sha256:{_digest(image)}"
    out["containerID"] = f"containerd://{_digest(pod['metadata']['uid'] + name)}"
    if s.crashes(image):
        restarts = 1 + int((now - started) / max(s.crash_period, 0.05))
        last_start = started + (restarts - 1) * s.crash_period
        out["restartCount"] = restarts
        out["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": rfc3339(last_start),
                "finishedAt": rfc3339(last_start),
                "containerID": out["containerID"],
            }
        }
        out["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off {min(10 * restarts, 300)}s "
                f"restarting failed container={name} pod={pod['metadata']['name']}_"
                f"{pod['metadata'].get('namespace')}({pod['metadata']['uid']})",
            }
        }
        return out
    out.update(ready=True, started=True, state={"running": {"startedAt": rfc3339(started)}})
    return out


def _restarts(status: Obj) -> int:
    return sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])


def _waiting_container(status: Obj) -> str:
    for c in status.get("containerStatuses") or []:
        if "waiting" in (c.get("state") or {}):
            return str(c.get("name"))
    return ""


def is_available(kubelet: Kubelet, pod: Obj, min_ready_seconds: int, now: float) -> bool:
    ready = kubelet.ready_at(pod)
    return ready is not None and ready + min_ready_seconds <= now


def _delete_rank(kubelet: Kubelet, pod: Obj) -> tuple[int, int, float]:
    """Pods deleted first: not scheduled, not ready, more restarts, newest (kube's ActivePods ordering, in short)."""
    status = pod.get("status") or {}
    ready = kubelet.ready_at(pod) is not None
    scheduled = status.get("phase") != "Pending"
    return (int(scheduled), int(ready), -float(kubelet.born.get(pod["metadata"]["uid"], 0.0)) - _restarts(status))


class ReplicaSetController:
    def __init__(self, api: Api, kubelet: Kubelet) -> None:
        self.api = api
        self.kubelet = kubelet

    def sync(self, now: float) -> None:
        pods_by_owner: dict[str, list[Obj]] = {}
        for pod in self.api.store.list(PODS)[0]:
            owner = controller_of(pod)
            if owner and not pod["metadata"].get("deletionTimestamp"):
                pods_by_owner.setdefault(owner, []).append(pod)
        skip = self.api.terminating()
        for rs in self.api.store.list(REPLICASETS)[0]:
            if rs["metadata"].get("deletionTimestamp") or rs["metadata"]["namespace"] in skip:
                continue
            self._sync_one(rs, pods_by_owner.get(rs["metadata"]["uid"], []), now)

    def _sync_one(self, rs: Obj, pods: list[Obj], now: float) -> None:
        spec = rs.get("spec") or {}
        want = int(spec.get("replicas") or 0)
        m = rs["metadata"]
        if len(pods) < want:
            for _ in range(want - len(pods)):
                pods.append(self._create_pod(rs, now))
        elif len(pods) > want:
            pods.sort(key=lambda p: _delete_rank(self.kubelet, p))
            for pod in pods[: len(pods) - want]:
                self.api.delete(PODS, m["namespace"], pod["metadata"]["name"])
                record(
                    self.api,
                    rs,
                    "ReplicaSet",
                    "SuccessfulDelete",
                    f"Deleted pod: {pod['metadata']['name']}",
                    component="replicaset-controller",
                    now=now,
                )
            pods = pods[len(pods) - want :]
        min_ready = int(spec.get("minReadySeconds") or 0)
        status: dict[str, Any] = {
            "replicas": len(pods),
            "fullyLabeledReplicas": len(pods),
            "readyReplicas": sum(1 for p in pods if self.kubelet.ready_at(p) is not None),
            "availableReplicas": sum(1 for p in pods if is_available(self.kubelet, p, min_ready, now)),
            "observedGeneration": int(m.get("generation") or 1),
        }
        if status != rs.get("status"):
            new = copy.deepcopy(rs)
            new["status"] = status
            self.api.write_internal(REPLICASETS, new)

    def _create_pod(self, rs: Obj, now: float) -> Obj:
        m = rs["metadata"]
        template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
        tm = template.get("metadata") or {}
        pod_meta: Obj = {
            "name": f"{m['name']}-{random_suffix(uuid.uuid4().hex)}",
            "namespace": m["namespace"],
            "labels": tm.get("labels") or {},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": m["name"],
                    "uid": m["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if tm.get("annotations"):
            pod_meta["annotations"] = tm["annotations"]
        pod = self.api.create(
            PODS,
            m["namespace"],
            {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": template.get("spec") or {}},
        )
        self.kubelet.born[pod["metadata"]["uid"]] = now
        record(
            self.api,
            rs,
            "ReplicaSet",
            "SuccessfulCreate",
            f"Created pod: {pod['metadata']['name']}",
            component="replicaset-controller",
            now=now,
        )
        return pod
