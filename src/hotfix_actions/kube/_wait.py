"""Wait for a Deployment rollout by kubectl's rules: a watch (polling when watches fail), pod reasons, a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hotfix_actions.decide.lkg import REVISION, template_hash
from hotfix_actions.decide.rollout import (
    PodProblem,
    RolloutPhase,
    RolloutResult,
    blocking_problem,
    rollout_status,
    should_fail_fast,
)
from hotfix_actions.kube._transport import Transport

__all__ = ["RolloutWaiter"]

_SLICE = 2.0  # seconds per watch request
_POD_CHECK = 2.0  # seconds between looks at the new pods' reasons while waiting


class RolloutWaiter:
    def __init__(
        self,
        transport: Transport,
        *,
        poll_interval: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = transport
        self.poll_interval = poll_interval
        self.clock = clock
        self.sleep = sleep
        self.watch_works = True
        self.pod_check = _POD_CHECK  # seconds between looks at the new pods while waiting

    def _get(self, namespace: str, name: str) -> dict[str, Any]:
        return self.transport.request(
            "GET",
            f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            what=f'deployment "{name}" in namespace "{namespace}"',
        )

    def problem(self, namespace: str, deployment: dict[str, Any]) -> PodProblem | None:
        """The blocking reason among the pods of the Deployment's newest ReplicaSet."""
        spec = deployment.get("spec") or {}
        labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
        if not labels:
            return None
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        revision = ((deployment.get("metadata") or {}).get("annotations") or {}).get(REVISION)
        rs_list = self.transport.request(
            "GET",
            f"/apis/apps/v1/namespaces/{namespace}/replicasets",
            what=f'replicasets in namespace "{namespace}"',
            query={"labelSelector": selector},
        ).get("items", [])
        uid = (deployment.get("metadata") or {}).get("uid")
        new_hash = None
        for rs in rs_list:
            meta = rs.get("metadata") or {}
            owned = any(o.get("uid") == uid and o.get("controller") for o in meta.get("ownerReferences") or ())
            if owned and (meta.get("annotations") or {}).get(REVISION) == revision:
                new_hash = template_hash(rs) or None
        pods = self.transport.request(
            "GET",
            f"/api/v1/namespaces/{namespace}/pods",
            what=f'pods in namespace "{namespace}"',
            query={"labelSelector": selector},
        ).get("items", [])
        return blocking_problem(pods, new_hash)

    def wait(
        self,
        namespace: str,
        name: str,
        *,
        timeout: float,
        fail_fast_after: float | None = None,
        on_progress: Callable[[str], None] | None = None,
    ) -> RolloutResult:
        start = self.clock()
        end = start + timeout
        say = on_progress or (lambda _msg: None)
        obj = self._get(namespace, name)
        last_message = ""
        problem: PodProblem | None = None
        problem_since: float | None = None
        checked = start
        while True:
            status = rollout_status(obj)
            if status.message != last_message:
                say(status.message)
                last_message = status.message
            waited = self.clock() - start
            if status.phase is RolloutPhase.COMPLETE:
                return RolloutResult(RolloutPhase.COMPLETE, status.message, waited)
            if status.phase is RolloutPhase.FAILED:
                return RolloutResult(RolloutPhase.FAILED, status.message, waited, self.problem(namespace, obj))
            now = self.clock()
            if now >= end:
                return RolloutResult(
                    RolloutPhase.TIMEOUT,
                    f"timed out waiting for the condition ({timeout:.0f}s): {status.message}",
                    now - start,
                    self.problem(namespace, obj),
                )
            if status.generation <= status.observed_generation and now - checked >= self.pod_check:
                checked = now
                found = self.problem(namespace, obj)
                if found is not None and (problem is None or found.reason != problem.reason):
                    say(f"blocking: {found.describe()}")
                    problem_since = now
                problem = found
                if problem is None:
                    problem_since = None
                stuck = now - problem_since if problem_since is not None else 0.0
                if should_fail_fast(problem, stuck, fail_fast_after):
                    return RolloutResult(
                        RolloutPhase.FAILED,
                        f'deployment "{name}": new pods stuck in {problem.reason if problem else "?"} for '
                        f"{stuck:.0f}s (fail-fast after {fail_fast_after:.0f}s): {status.message}",
                        now - start,
                        problem,
                    )
            obj = self._next(namespace, name, obj, min(_SLICE, self.pod_check, end - now))

    def _next(self, namespace: str, name: str, current: dict[str, Any], budget: float) -> dict[str, Any]:
        """The Deployment after its next change, or as it is once ``budget`` seconds have passed."""
        version = (current.get("metadata") or {}).get("resourceVersion", "")
        if self.watch_works and budget >= 1.0:
            started = self.clock()
            seen = False
            for kind, obj in self.transport.watch(
                f"/apis/apps/v1/namespaces/{namespace}/deployments",
                {"fieldSelector": f"metadata.name={name}", "resourceVersion": str(version)},
                timeout=budget,
            ):
                seen = True
                if kind in ("ADDED", "MODIFIED") and (obj.get("metadata") or {}).get("resourceVersion") != version:
                    return obj
            if seen or self.clock() - started >= 0.5:
                return self._get(namespace, name)
            self.watch_works = False  # closed at once: poll from now on
        self.sleep(max(0.0, min(self.poll_interval, budget)))
        return self._get(namespace, name)
