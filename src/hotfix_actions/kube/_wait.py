"""Wait for a Deployment rollout by kubectl's rules, and beyond them: follow the template we wrote, watch the new
pods for crashes during the rollout and a settle window after it, and name failures that are not pods.

The Deployment comes from a watch (polling when watches fail); the new pods, their ReplicaSet and its warnings are
read every ``pod_check`` seconds. Every ending is a RolloutResult: COMPLETE, FAILED (progress deadline, a restart or a
reason no wait clears, a blocking reason past ``fail_fast_after``, a ReplicaFailure, a rollout that did not hold),
SUPERSEDED (another writer's template) or TIMEOUT. See ``decide.tracking`` for the rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from hotfix_actions.decide.lkg import REVISION, template_hash, templates_equal
from hotfix_actions.decide.rollout import (
    PodProblem,
    RolloutPhase,
    RolloutResult,
    RolloutStatus,
    blocking_problem,
    rollout_status,
    should_fail_fast,
)
from hotfix_actions.decide.tracking import (
    IMMEDIATE_REASONS,
    Expectation,
    change_cause_of,
    crash_problem,
    pod_restarts,
    replica_failure,
    superseded,
)
from hotfix_actions.kube._transport import Transport

__all__ = ["RolloutWaiter"]

_SLICE = 2.0  # seconds per watch request
_POD_CHECK = 1.0  # seconds between looks at the new pods, their ReplicaSet and its warnings


@dataclass
class _Look:
    """One look at the new pods: the first sign of a crash, a non-pod failure, the slowest blocking reason."""

    crash: PodProblem | None = None
    failure: str = ""
    blocking: PodProblem | None = None


@dataclass
class _State:
    start: float
    end: float
    problem: PodProblem | None = None
    problem_since: float | None = None
    complete_at: float | None = None
    notes: list[str] = field(default_factory=list)
    first_restarts: dict[str, int] = field(default_factory=dict)  # without an expectation: restarts at first sight


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
        self.pod_check = _POD_CHECK

    def _get(self, namespace: str, name: str) -> dict[str, Any]:
        return self.transport.request(
            "GET",
            f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}",
            what=f'deployment "{name}" in namespace "{namespace}"',
        )

    def _list(self, path: str, what: str, *, labels: str = "", fields: str = "") -> list[dict[str, Any]]:
        query = {"labelSelector": labels} if labels else {"fieldSelector": fields}
        return list(self.transport.request("GET", path, what=what, query=query).get("items") or [])

    def new_replicaset(
        self, namespace: str, deployment: Mapping[str, Any], expect: Expectation | None
    ) -> tuple[dict[str, Any] | None, str]:
        """(our ReplicaSet, the label selector of the Deployment's pods): the owned ReplicaSet whose template is the
        one we wrote, or without an expectation the one with the Deployment's revision."""
        spec = deployment.get("spec") or {}
        labels = ((spec.get("selector") or {}).get("matchLabels")) or {}
        if not labels:
            return None, ""
        selector = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        meta = deployment.get("metadata") or {}
        revision = (meta.get("annotations") or {}).get(REVISION)
        rs_list = self._list(
            f"/apis/apps/v1/namespaces/{namespace}/replicasets",
            f'replicasets in namespace "{namespace}"',
            labels=selector,
        )
        for rs in rs_list:
            rs_meta = rs.get("metadata") or {}
            owners = rs_meta.get("ownerReferences") or ()
            if not any(o.get("uid") == meta.get("uid") and o.get("controller") for o in owners):
                continue
            template = (rs.get("spec") or {}).get("template") or {}
            if expect is not None and templates_equal(template, expect.template):
                return rs, selector
            if expect is None and (rs_meta.get("annotations") or {}).get(REVISION) == revision:
                return rs, selector
        return None, selector

    def problem(self, namespace: str, deployment: dict[str, Any]) -> PodProblem | None:
        """The blocking reason among the pods of the Deployment's newest ReplicaSet."""
        rs, selector = self.new_replicaset(namespace, deployment, None)
        if not selector:
            return None
        pods = self._list(f"/api/v1/namespaces/{namespace}/pods", f'pods in namespace "{namespace}"', labels=selector)
        return blocking_problem(pods, (template_hash(rs) or None) if rs else None)

    def _look(
        self,
        namespace: str,
        deployment: dict[str, Any],
        expect: Expectation | None,
        state: _State,
        reasons: Sequence[str],
        *,
        complete: bool,
    ) -> _Look:
        rs, selector = self.new_replicaset(namespace, deployment, expect)
        if not selector:
            return _Look()
        new_hash = (template_hash(rs) or None) if rs else None
        pods = self._list(f"/api/v1/namespaces/{namespace}/pods", f'pods in namespace "{namespace}"', labels=selector)
        if expect is not None:
            baseline: Mapping[str, int] = expect.restarts
        else:
            for pod in pods:
                state.first_restarts.setdefault(str((pod.get("metadata") or {}).get("uid")), pod_restarts(pod))
            baseline = state.first_restarts
        look = _Look(crash=crash_problem(pods, new_hash, baseline, reasons) if rs is not None else None)
        events: list[dict[str, Any]] = []
        rs_spec, rs_status = (rs or {}).get("spec") or {}, (rs or {}).get("status") or {}
        short = int(rs_status.get("replicas") or 0) < int(rs_spec.get("replicas") or 0)
        if rs is not None and not complete and short and expect is not None:
            uid = (rs.get("metadata") or {}).get("uid")
            events = self._list(
                f"/api/v1/namespaces/{namespace}/events",
                f'events in namespace "{namespace}"',
                fields=f"involvedObject.uid={uid},type=Warning",
            )
        since = ""
        if expect is not None and expect.written_at is not None:
            since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expect.written_at))
        look.failure = replica_failure(deployment, rs, events, since) if expect is not None else ""
        look.blocking = blocking_problem(pods, new_hash)
        return look

    def wait(
        self,
        namespace: str,
        name: str,
        *,
        timeout: float,
        fail_fast_after: float | None = None,
        on_progress: Callable[[str], None] | None = None,
        expect: Expectation | None = None,
        settle: float = 0.0,
        immediate_reasons: Sequence[str] = IMMEDIATE_REASONS,
    ) -> RolloutResult:
        start = self.clock()
        state = _State(start=start, end=start + timeout)
        say = on_progress or (lambda _msg: None)
        obj = self._get(namespace, name)
        last_message = ""
        checked: float | None = None
        while True:
            now = self.clock()
            if expect is not None:
                other = superseded(obj, expect)
                if other is not None:
                    message = other.describe(expect)
                    say(message)
                    return RolloutResult(RolloutPhase.SUPERSEDED, message, now - start, notes=tuple(state.notes))
                self._note_generation(obj, expect, state, say)
            status = rollout_status(obj)
            if status.message != last_message:
                say(status.message)
                last_message = status.message
            if status.phase is RolloutPhase.FAILED:
                return self._end(RolloutPhase.FAILED, status.message, now, state, self.problem(namespace, obj))
            ended = self._settle_step(status, now, settle, state, say)
            complete = status.phase is RolloutPhase.COMPLETE
            due = checked is None or now - checked >= self.pod_check or ended is not None
            if due and (status.generation <= status.observed_generation or expect is not None):
                checked = now
                look = self._look(namespace, obj, expect, state, immediate_reasons, complete=complete)
                verdict = self._judge(name, look, now, state, status, fail_fast_after, say)
                if verdict is not None:
                    return verdict  # a crash explains a rollout that stopped holding better than its counts
            if ended is not None:
                return ended
            if now >= state.end:
                return self._end(
                    RolloutPhase.TIMEOUT,
                    f"timed out waiting for the condition ({timeout:.0f}s): {status.message}",
                    now,
                    state,
                    self.problem(namespace, obj),
                )
            budget = min(_SLICE, self.pod_check, state.end - now)
            if state.complete_at is not None:
                budget = min(budget, max(0.05, state.complete_at + settle - now))
            obj = self._next(namespace, name, obj, budget)

    def _note_generation(
        self, obj: Mapping[str, Any], expect: Expectation, state: _State, say: Callable[[str], None]
    ) -> None:
        generation = int((obj.get("metadata") or {}).get("generation") or 0)
        if generation > expect.generation and not state.notes:
            note = (
                f"the deployment was written again after our write (generation {expect.generation} -> {generation}) "
                f"and still carries our template ({expect.target}); change cause now: {change_cause_of(obj)}"
            )
            state.notes.append(note)
            say(note)

    def _settle_step(
        self, status: RolloutStatus, now: float, settle: float, state: _State, say: Callable[[str], None]
    ) -> RolloutResult | None:
        """COMPLETE once the rollout is complete and has held for ``settle`` seconds; FAILED if it stopped holding."""
        if status.phase is RolloutPhase.COMPLETE:
            if state.complete_at is None:
                state.complete_at = now
                if settle > 0:
                    say(f"rolled out; watching the new pods for {settle:.0f}s (settle): a restart fails it")
            if now - state.complete_at >= settle:
                return self._end(RolloutPhase.COMPLETE, status.message, now, state, None)
            return None
        if state.complete_at is not None and status.generation <= status.observed_generation:
            held = now - state.complete_at
            message = f"the rollout did not hold for {settle:.0f}s: after {held:.1f}s {status.message}"
            return self._end(RolloutPhase.FAILED, message, now, state, None)
        return None

    def _judge(
        self,
        name: str,
        look: _Look,
        now: float,
        state: _State,
        status: RolloutStatus,
        fail_fast_after: float | None,
        say: Callable[[str], None],
    ) -> RolloutResult | None:
        after = f" {now - state.complete_at:.1f}s after the rollout completed" if state.complete_at is not None else ""
        if look.crash is not None:
            message = f'deployment "{name}": new pods crash{after}: {look.crash.describe()}'
            return self._end(RolloutPhase.FAILED, message, now, state, look.crash)
        if look.failure:
            message = f'deployment "{name}": pods cannot be created: {look.failure}'
            return self._end(RolloutPhase.FAILED, message, now, state, look.blocking)
        found = look.blocking
        if found is not None and (state.problem is None or found.reason != state.problem.reason):
            say(f"blocking: {found.describe()}")
            state.problem_since = now
        state.problem = found
        if found is None:
            state.problem_since = None
        stuck = now - state.problem_since if state.problem_since is not None else 0.0
        if should_fail_fast(found, stuck, fail_fast_after):
            assert found is not None and fail_fast_after is not None
            message = (
                f'deployment "{name}": new pods stuck in {found.reason} for {stuck:.0f}s '
                f"(fail-fast after {fail_fast_after:.0f}s): {status.message}"
            )
            return self._end(RolloutPhase.FAILED, message, now, state, found)
        return None

    def _end(
        self, phase: RolloutPhase, message: str, now: float, state: _State, problem: PodProblem | None
    ) -> RolloutResult:
        settled = now - state.complete_at if state.complete_at is not None else 0.0
        result = RolloutResult(phase, message, now - state.start, problem or state.problem, tuple(state.notes))
        return replace(result, settled=settled)

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
