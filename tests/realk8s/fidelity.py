"""The differential fidelity scenario: one scripted sequence of kubectl operations and tool commands, run on the
sandbox and on the real control plane, observed the way a client can observe it and normalised so the two runs
can be compared line by line (tests/realk8s/test_fidelity.py; the results are in docs/sandbox-fidelity.md).

What is compared at each step, once the step has settled:
- the Deployment's ReplicaSets by revision: image, desired and current replicas, revision-history;
- the Deployment: revision annotation, replica counts, each condition's status and reason (messages with
  ReplicaSet names replaced by their revision);
- `kubectl rollout status` (exit code and last line) and `kubectl rollout history` (revision, change cause);
- the tool's verdicts (exit code, verdict and the outputs that say what it did).
Timestamps, uids, resourceVersions, pod names and pod-template hashes are not compared: they differ between any two
runs of the same cluster. What differs on purpose is listed in KNOWN with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotfix_actions.testing import kubectl as kubectl_bin
from tests.clusters import KubeUnderTest

__all__ = ["KNOWN", "Observation", "run_scenario"]

APP = "web"
IMAGE = "registry.example/web:{}"
HOTFIX = str(Path(sys.executable).parent / "hotfix")
HASH = re.compile(r"\b" + APP + r"-[bcdfghjklmnpqrstvwxz2456789]{6,10}\b")
POD = re.compile(r"\b" + APP + r"-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b")

# Differences that stay, by (step, key): the reason is in docs/sandbox-fidelity.md.
KNOWN: dict[tuple[str, str], str] = {}


@dataclass
class Observation:
    step: str
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Runner:
    kube: KubeUnderTest
    workdir: Path
    log: list[Observation] = field(default_factory=list)
    all_settled: bool = True  # since the last observation, every wait for a settled cluster succeeded

    @property
    def ns(self) -> str:
        return self.kube.namespace

    # -- actions -----------------------------------------------------------------------------------------------
    def kubectl(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
        cache = self.workdir / "kubecache"
        cache.mkdir(exist_ok=True)
        env = {**os.environ, "KUBECACHEDIR": str(cache), "HOME": str(self.workdir)}
        env.pop("KUBECONFIG", None)
        return subprocess.run(
            [str(kubectl_bin.path()), "--kubeconfig", str(self.kube.kubeconfig_path), "-n", self.ns, *args],
            capture_output=True, text=True, env=env, timeout=timeout, check=False, cwd=self.workdir,
        )  # fmt: skip

    def hotfix(self, *args: str, timeout: float = 180) -> dict[str, Any]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HOTFIX_"))}
        proc = subprocess.run(
            [HOTFIX, *args, "--json", "--kubeconfig", str(self.kube.kubeconfig_path), "-n", self.ns],
            capture_output=True, text=True, env=env, timeout=timeout, check=False, cwd=self.workdir,
        )  # fmt: skip
        try:
            doc = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}
        except ValueError:
            doc = {}
        outputs = doc.get("outputs") or {}
        return {
            "exit": proc.returncode,
            "verdict": doc.get("verdict"),
            **{k: outputs.get(k) for k in ("action", "changed", "to-image", "image", "recorded-lkg") if k in outputs},
            "_stderr": proc.stderr[-2000:],
        }

    # -- observing ---------------------------------------------------------------------------------------------
    def deployment(self) -> dict[str, Any]:
        found = self.kube.get("apps/v1", "deployments", self.ns, APP)
        assert found is not None
        return found

    def replicasets(self) -> list[dict[str, Any]]:
        uid = self.deployment()["metadata"]["uid"]
        return [
            rs
            for rs in self.kube.list("apps/v1", "replicasets", self.ns, label_selector=f"app={APP}")
            if any(
                ref.get("uid") == uid and ref.get("controller") for ref in rs["metadata"].get("ownerReferences") or []
            )
        ]

    def settled(self, extra: Callable[[], bool] | None = None, timeout: float = 30) -> bool:
        """Wait until every ReplicaSet's status matches its spec and nothing is Terminating (and ``extra``);
        a ReplicaSet held below its size by a quota counts as settled once its failure is reported."""

        def done() -> bool:
            d = self.deployment()
            if int(d["metadata"].get("generation") or 0) > int((d.get("status") or {}).get("observedGeneration") or 0):
                return False
            for rs in self.replicasets():
                st = rs.get("status") or {}
                failing = any(c.get("type") == "ReplicaFailure" for c in st.get("conditions") or [])
                if int(rs["spec"].get("replicas") or 0) != int(st.get("replicas") or 0) and not failing:
                    return False
                if int(st.get("observedGeneration") or 0) < int(rs["metadata"].get("generation") or 0):
                    return False
            pods = self.kube.list("v1", "pods", self.ns, label_selector=f"app={APP}")
            if any(p["metadata"].get("deletionTimestamp") for p in pods):
                return False
            return extra() if extra else True

        try:
            self.kube.wait_for(done, timeout=timeout, interval=0.2)
        except TimeoutError:
            self.all_settled = False  # observed as such: a divergent cluster shows in the comparison, not hangs
            return False
        time.sleep(0.5)  # one more controller pass: a settled state stays settled
        return True

    def rsname(self, text: str) -> str:
        """ReplicaSet names in a message replaced by their revision (``web-5d7587bf7`` -> ``rs@2``)."""
        names = {rs["metadata"]["name"]: rs["metadata"]["annotations"].get("deployment.kubernetes.io/revision", "?")
                 for rs in self.replicasets()}  # fmt: skip
        return HASH.sub(lambda m: f"rs@{names.get(m.group(0), '?')}", POD.sub("<pod>", text))

    def observe(self, step: str, *, volatile: tuple[str, ...] = (), **extra: Any) -> Observation:
        """What a client sees now; ``volatile`` facts (those a crash loop's phase decides) are left out."""
        d = self.deployment()
        st = d.get("status") or {}
        sets = []
        for rs in self.replicasets():
            ann = rs["metadata"].get("annotations") or {}
            containers = rs["spec"]["template"]["spec"]["containers"]
            sets.append(
                (
                    int(ann.get("deployment.kubernetes.io/revision", "0")),
                    containers[0]["image"],
                    int(rs["spec"].get("replicas") or 0),
                    int((rs.get("status") or {}).get("replicas") or 0),
                    ann.get("deployment.kubernetes.io/revision-history", ""),
                )
            )
        facts: dict[str, Any] = {
            "replicasets": sorted(sets),
            "revision": (d["metadata"].get("annotations") or {}).get("deployment.kubernetes.io/revision"),
            "image": d["spec"]["template"]["spec"]["containers"][0]["image"],
            "paused": bool(d["spec"].get("paused")),
            "counts": {k: int(st.get(k) or 0) for k in ("replicas", "updatedReplicas", "availableReplicas")},
            "conditions": {
                c["type"]: (c["status"], c.get("reason"), self.rsname(c.get("message", "")))
                for c in st.get("conditions") or []
            },
        }
        facts["settled"], self.all_settled = self.all_settled, True
        facts.update(extra)
        for key in volatile:
            facts.pop(key, None)
            facts["conditions"].pop(key, None)
        obs = Observation(step, facts)
        self.log.append(obs)
        return obs

    def rollout_status(self) -> tuple[int, str]:
        proc = self.kubectl("rollout", "status", f"deployment/{APP}", "--timeout=60s")
        lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()]
        return proc.returncode, self.rsname(lines[-1] if lines else "")

    def history(self) -> list[tuple[str, str]]:
        proc = self.kubectl("rollout", "history", f"deployment/{APP}")
        rows = []
        for line in proc.stdout.splitlines()[2:]:
            parts = line.split(None, 1)
            if parts and parts[0].isdigit():
                rows.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
        return rows


def _deployment(ns: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP, "namespace": ns, "annotations": {"kubernetes.io/change-cause": "first release"}},
        "spec": {
            "replicas": 2,
            "revisionHistoryLimit": 4,
            "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": APP}},
            "template": {
                "metadata": {"labels": {"app": APP}},
                "spec": {
                    "containers": [{"name": APP, "image": IMAGE.format("1.0")}],
                    "terminationGracePeriodSeconds": 5,
                },
            },
        },
    }


def run_scenario(kube: KubeUnderTest, workdir: Path) -> list[Observation]:
    """The whole sequence on one cluster; returns what was observed after each step."""
    workdir.mkdir(parents=True, exist_ok=True)
    r = Runner(kube, workdir)

    def set_image(tag: str, cause: str | None = None) -> subprocess.CompletedProcess[str]:
        done = r.kubectl("set", "image", f"deployment/{APP}", f"{APP}={IMAGE.format(tag)}")
        if cause:
            r.kubectl("annotate", "--overwrite", f"deployment/{APP}", f"kubernetes.io/change-cause={cause}")
        return done

    kube.apply(_deployment(r.ns))
    r.settled(lambda: kube.rollout_complete(r.ns, APP))
    r.observe("apply", rollout_status=r.rollout_status())

    generation = int(r.deployment()["metadata"]["generation"])
    r.kubectl("annotate", "--overwrite", f"deployment/{APP}", "team=payments")
    r.observe("annotate", generation_bumped=int(r.deployment()["metadata"]["generation"]) > generation)

    set_image("1.1", "release 1.1")
    r.observe("set image 1.1", rollout_status=r.rollout_status())
    r.settled()
    set_image("1.2", "release 1.2")
    r.observe("set image 1.2", rollout_status=r.rollout_status())
    r.settled()
    r.observe("history", history=r.history())

    undo = r.kubectl("rollout", "undo", f"deployment/{APP}")
    r.observe("undo", undo=(undo.returncode, r.rsname(undo.stdout.strip())), rollout_status=r.rollout_status())
    r.settled()
    undo2 = r.kubectl("rollout", "undo", f"deployment/{APP}", "--to-revision=1")
    r.observe("undo --to-revision=1", undo=(undo2.returncode, undo2.stdout.strip()), rollout_status=r.rollout_status())
    r.settled()
    missing = r.kubectl("rollout", "undo", f"deployment/{APP}", "--to-revision=99")
    r.observe("undo to a revision that does not exist", undo=(missing.returncode, missing.stderr.strip()))
    r.observe("history after undo", history=r.history())

    pause = r.kubectl("rollout", "pause", f"deployment/{APP}")
    set_image("1.3")
    time.sleep(1.5)
    r.observe("paused", pause=pause.returncode)
    r.kubectl("rollout", "resume", f"deployment/{APP}")
    r.observe("resumed", rollout_status=r.rollout_status())
    r.settled()

    set_image("1.4")
    r.kubectl("scale", f"deployment/{APP}", "--replicas=4")
    r.observe("scale during rollout", rollout_status=r.rollout_status())
    r.settled()
    r.kubectl("scale", f"deployment/{APP}", "--replicas=2")
    r.settled(lambda: kube.rollout_complete(r.ns, APP))

    r.kubectl("patch", f"deployment/{APP}", "-p", '{"spec":{"revisionHistoryLimit":2}}')
    set_image("1.5")
    r.settled(lambda: kube.rollout_complete(r.ns, APP) and len(r.replicasets()) <= 3)
    r.observe("pruned history", history=[rev for rev, _ in r.history()])

    r.kubectl("patch", f"deployment/{APP}", "-p", '{"spec":{"progressDeadlineSeconds":3}}')
    r.settled()
    set_image("nopull")
    deadline_status = r.rollout_status()
    r.observe("progress deadline", rollout_status=deadline_status)
    r.kubectl("rollout", "undo", f"deployment/{APP}")
    r.settled(lambda: kube.rollout_complete(r.ns, APP))
    r.kubectl("patch", f"deployment/{APP}", "-p", '{"spec":{"progressDeadlineSeconds":600}}')
    r.settled()

    set_image("crash")
    crash_status = r.rollout_status()

    def restarted() -> bool:
        pods = kube.list("v1", "pods", r.ns, label_selector=f"app={APP}")
        return any(
            int(cs.get("restartCount") or 0) > 0
            for p in pods
            if p["spec"]["containers"][0]["image"].endswith(":crash")
            for cs in (p.get("status") or {}).get("containerStatuses") or []
        )

    with contextlib.suppress(TimeoutError):
        kube.wait_for(restarted, timeout=30)
    # how many crash-looping pods are Ready at this instant depends on where each is in its cycle
    r.observe(
        "crash after Ready", rollout_status=crash_status, restarts_seen=restarted(), volatile=("counts", "Available")
    )
    r.kubectl("rollout", "undo", f"deployment/{APP}")
    r.settled(lambda: kube.rollout_complete(r.ns, APP))

    # the tool
    promoted = r.hotfix("promote", "-d", APP, "--image", IMAGE.format("2.0"), "--version", "2.0", "--settle", "2s")
    r.observe("hotfix promote 2.0", tool={k: v for k, v in promoted.items() if k != "_stderr"})
    r.settled()
    set_image("bad-config", "someone else's deploy")
    r.settled(lambda: kube.rollout_complete(r.ns, APP))
    first = r.hotfix("rollback", "-d", APP, "--strategy", "undo", "--reason", "INC-1")
    r.observe("hotfix rollback", tool={k: v for k, v in first.items() if k != "_stderr"})
    r.settled()
    second = r.hotfix("rollback", "-d", APP, "--strategy", "undo")
    r.observe("hotfix rollback again", tool={k: v for k, v in second.items() if k != "_stderr"})
    crash = r.hotfix(
        "promote", "-d", APP, "--image", IMAGE.format("crash"), "--version", "2.1", "--settle", "5s", timeout=240
    )
    r.settled(lambda: kube.rollout_complete(r.ns, APP))
    r.observe(
        "hotfix promote of a release that crashes after Ready", tool={k: v for k, v in crash.items() if k != "_stderr"}
    )

    kube.apply({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "pods", "namespace": r.ns},
                "spec": {"hard": {"pods": "3"}}})  # fmt: skip
    time.sleep(1.0)  # the quota controller's first pass
    r.kubectl("scale", f"deployment/{APP}", "--replicas=5")

    def failing() -> bool:
        conds = (r.deployment().get("status") or {}).get("conditions") or []
        return any(c["type"] == "ReplicaFailure" for c in conds)

    with contextlib.suppress(TimeoutError):
        kube.wait_for(failing, timeout=30)
    r.settled(lambda: int((r.deployment().get("status") or {}).get("availableReplicas") or 0) == 3)
    r.observe("quota exceeded")
    return r.log
