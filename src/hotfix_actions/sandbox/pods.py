"""The ReplicaSet controller and a simulated kubelet: pods are created for ReplicaSets, scheduled on one node and
become Ready after ``ready_delay``; images matching ``crash_images`` are Ready, then crash after ``crash_after`` and
restart after ``crash_period`` (CrashLoopBackOff, restartCount climbing: a real kubelet with no readiness probe);
those matching ``pull_fail_images`` never start (ImagePullBackOff). A deleted pod stays Terminating for
``terminate_delay``. Pod status is a pure function of (spec, birth time, now), so a re-sync that finds nothing new
writes nothing. The same timings can be set per pod by annotation (``hotfix.test/ready-delay`` ...), as on the
real control plane's kwok stages.
"""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from hotfix_actions.sandbox.api import Api, Obj
from hotfix_actions.sandbox.events import record
from hotfix_actions.sandbox.objects import random_suffix, rfc3339
from hotfix_actions.sandbox.resources import resource
from hotfix_actions.sandbox.settings import Settings
from hotfix_actions.sandbox.status import ApiError

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


# Per-pod timings, the same annotations the real control plane's kwok stages read (tests/realk8s/stages.yaml),
# as Go durations ("150ms", "2s", "1m"): a missing or malformed one falls back to the sandbox's setting.
READY_DELAY = "hotfix.test/ready-delay"
CRASH_AFTER = "hotfix.test/crash-after"
BACKOFF = "hotfix.test/backoff"
TERMINATE_DELAY = "hotfix.test/terminate-delay"
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def go_duration(text: object) -> float | None:
    """Seconds of a Go duration like ``1m30s`` or ``250ms``; None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    total, pos = 0.0, 0
    for match in re.finditer(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) else None


def _timing(pod: Obj, key: str, default: float) -> float:
    value = go_duration(((pod.get("metadata") or {}).get("annotations") or {}).get(key))
    return default if value is None else value


@dataclass(frozen=True)
class _Run:
    """Where a container is in its life at one moment."""

    ready: bool
    restarts: int
    running_since: float | None  # start of the current run, when running
    last_run: tuple[float, float] | None  # (started, finished) of the last run that crashed


def _crash_loop(started: float, now: float, crash_after: float, backoff: float) -> _Run:
    """A container that runs ``crash_after`` seconds, crashes, waits ``backoff`` seconds, runs again..."""
    cycle = max(crash_after, 0.01) + max(backoff, 0.01)
    n = int((now - started) // cycle)
    run_start = started + n * cycle
    if now - run_start < crash_after:
        last = (run_start - cycle, run_start - cycle + crash_after) if n else None
        return _Run(True, n, run_start, last)
    return _Run(False, n + 1, None, (run_start, run_start + crash_after))


class Kubelet:
    """Computes pod status from the pod spec and the clock; remembers when each pod was first seen, and finishes
    the deletion of Terminating pods after their grace (``terminate_delay``)."""

    def __init__(self, api: Api, settings: Settings) -> None:
        self.api = api
        self.settings = settings
        self.born: dict[str, float] = {}
        self.ready_since: dict[str, float] = {}  # uid -> when the pod last became Ready
        self.deleting: dict[str, float] = {}  # uid -> when it was first seen Terminating
        self._ips: dict[str, str] = {}
        self._next_ip = 2

    def ready_at(self, pod: Obj) -> float | None:
        """When the pod became Ready (its Ready condition as stored), or None when it is not Ready."""
        ready = _condition(pod.get("status") or {}, "Ready")
        if not ready or ready.get("status") != "True":
            return None
        uid = pod["metadata"]["uid"]
        if uid in self.ready_since:
            return self.ready_since[uid]
        born = self.born.get(uid)
        return born + _timing(pod, READY_DELAY, self.settings.ready_delay) if born is not None else 0.0

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
            if pod["metadata"].get("deletionTimestamp"):
                self._terminate(pod, now)
                continue
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
        for table in (self.born, self._ips, self.ready_since, self.deleting):
            for uid in [u for u in table if u not in live]:
                table.pop(uid, None)

    def _terminate(self, pod: Obj, now: float) -> None:
        """A Terminating pod goes once its containers have stopped (``terminate_delay``), as a kubelet finishes a
        graceful deletion."""
        since = self.deleting.setdefault(pod["metadata"]["uid"], now)
        if now - since >= _timing(pod, TERMINATE_DELAY, self.settings.terminate_delay):
            self.api.finish_deletion(PODS, pod)

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
        started = born + _timing(pod, READY_DELAY, s.ready_delay)
        runs = [self._run(c, pod, started, now) for c in spec.get("containers") or []]
        containers = [
            _container_status(c, pod, started, now, run, s)
            for c, run in zip(spec.get("containers") or [], runs, strict=True)
        ]
        all_ready = bool(containers) and all(c["ready"] for c in containers)
        pending = any(
            "waiting" in c["state"]
            and c["state"]["waiting"]["reason"] in ("ContainerCreating", "ImagePullBackOff", "ErrImagePull")
            for c in containers
        )
        not_ready = [c["name"] for c in containers if not c["ready"]]
        uid = pod["metadata"]["uid"]
        if all_ready:
            since = max((r.running_since for r in runs if r and r.running_since is not None), default=started)
            self.ready_since[uid] = since
        else:
            self.ready_since.pop(uid, None)
        became = max((r.last_run[1] for r in runs if r and r.last_run), default=born)
        ready_since = rfc3339(self.ready_since[uid]) if all_ready else rfc3339(max(became, born))
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

    def _run(self, c: Obj, pod: Obj, started: float, now: float) -> _Run | None:
        image = str(c.get("image") or "")
        s = self.settings
        if s.pull_fails(image) or now < started:
            return None
        if s.crashes(image):
            return _crash_loop(
                started, now, _timing(pod, CRASH_AFTER, s.crash_after), _timing(pod, BACKOFF, s.crash_period)
            )
        return _Run(True, 0, started, None)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _container_status(c: Obj, pod: Obj, started: float, now: float, run: _Run | None, s: Settings) -> Obj:
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
    if run is None or now < started:
        out["state"] = {"waiting": {"reason": "ContainerCreating"}}
        return out
    out["imageID"] = f"docker.io/library/{image.split(':', maxsplit=1)[0]}@sha256:{_digest(image)}"
    out["containerID"] = f"containerd://{_digest(pod['metadata']['uid'] + name)}"
    out["restartCount"] = run.restarts
    if run.last_run is not None:
        out["lastState"] = {
            "terminated": {
                "exitCode": 1,
                "reason": "Error",
                "startedAt": rfc3339(run.last_run[0]),
                "finishedAt": rfc3339(run.last_run[1]),
                "containerID": out["containerID"],
            }
        }
    if run.ready and run.running_since is not None:
        out.update(ready=True, started=True, state={"running": {"startedAt": rfc3339(run.running_since)}})
        return out
    out["state"] = {
        "waiting": {
            "reason": "CrashLoopBackOff",
            "message": f"back-off {min(10 * 2 ** max(run.restarts - 1, 0), 300)}s "
            f"restarting failed container={name} pod={pod['metadata']['name']}_"
            f"{pod['metadata'].get('namespace')}({pod['metadata']['uid']})",
        }
    }
    return out


def _rs_conditions(rs: Obj) -> list[Obj]:
    return list((rs.get("status") or {}).get("conditions") or [])


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
        # uid -> (next attempt, delay): a refused create is retried with a doubling delay, as kube requeues a
        # ReplicaSet whose sync failed, instead of on every pass
        self.create_backoff: dict[str, tuple[float, float]] = {}

    def sync(self, now: float) -> None:
        pods_by_owner: dict[str, list[Obj]] = {}
        terminating: dict[str, int] = {}
        for pod in self.api.store.list(PODS)[0]:
            owner = controller_of(pod)
            if owner and not pod["metadata"].get("deletionTimestamp"):
                pods_by_owner.setdefault(owner, []).append(pod)
            elif owner:
                terminating[owner] = terminating.get(owner, 0) + 1
        skip = self.api.terminating()
        for rs in self.api.store.list(REPLICASETS)[0]:
            if rs["metadata"].get("deletionTimestamp") or rs["metadata"]["namespace"] in skip:
                continue
            uid = rs["metadata"]["uid"]
            self._sync_one(rs, pods_by_owner.get(uid, []), terminating.get(uid, 0), now)

    def _sync_one(self, rs: Obj, pods: list[Obj], terminating: int, now: float) -> None:
        spec = rs.get("spec") or {}
        want = int(spec.get("replicas") or 0)
        m = rs["metadata"]
        failure: str | None = None
        next_try, delay = self.create_backoff.get(m["uid"], (0.0, 0.0))
        if len(pods) < want and now < next_try:
            failure = next((c.get("message", "") for c in _rs_conditions(rs) if c.get("type") == "ReplicaFailure"), "")
        elif len(pods) < want:
            for _ in range(want - len(pods)):
                try:
                    pods.append(self._create_pod(rs, now))
                    self.create_backoff.pop(m["uid"], None)
                except ApiError as exc:  # quota exceeded, admission denied: kube's FailedCreate
                    delay = min(max(delay * 2, 0.5), 10.0)
                    self.create_backoff[m["uid"]] = (now + delay, delay)
                    failure = exc.message
                    record(
                        self.api,
                        rs,
                        "ReplicaSet",
                        "FailedCreate",
                        f"Error creating: {exc.message}",
                        component="replicaset-controller",
                        warning=True,
                        now=now,
                    )
                    break
        elif len(pods) > want:
            pods.sort(key=lambda p: _delete_rank(self.kubelet, p))
            for pod in pods[: len(pods) - want]:
                gone = self.api.delete(PODS, m["namespace"], pod["metadata"]["name"])
                if gone["metadata"].get("deletionTimestamp"):  # Terminating (a pod on no node goes at once)
                    terminating += 1
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
            "terminatingReplicas": terminating,
            "observedGeneration": int(m.get("generation") or 1),
        }
        status = {k: v for k, v in status.items() if v or k in ("replicas", "terminatingReplicas")}
        conditions = [c for c in (rs.get("status") or {}).get("conditions") or [] if c.get("type") == "ReplicaFailure"]
        if failure is not None and not conditions:  # kube's calculateStatus: set once, cleared on success
            conditions = [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "lastTransitionTime": rfc3339(now),
                    "reason": "FailedCreate",
                    "message": failure,
                }
            ]
        elif failure is None:
            conditions = []
        if conditions:
            status["conditions"] = conditions
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
