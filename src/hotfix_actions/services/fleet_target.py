"""One target of a fleet run: its record, and each step run by the same services as the single-cluster commands
(``canary.run`` for the gate, ``promote.run``, the monitor's one-arm judge for the bake, ``rollback.run``).

The sub-services get a null notifier and null GitHub Deployments: the fleet sends one message per event for every
target (services/fleet.py), never one per target. Their progress lines carry the target's name.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from hotfix_actions.config.canary import CanaryConfig
from hotfix_actions.config.promote import PromoteConfig
from hotfix_actions.config.rollback import RollbackConfig
from hotfix_actions.decide.canary.templates import ArmLabels, prom_duration
from hotfix_actions.decide.fleet import FLEET_ANNOTATION, Back, FleetRecord, Phase, rollback_back
from hotfix_actions.decide.lkg import REVISION, LkgRecord, container_images
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import ConflictError, HotfixError
from hotfix_actions.ports import Cluster, KubeObject, Metrics, NullDeployments, NullNotifier, Probe
from hotfix_actions.report import Outcome, Reporter
from hotfix_actions.services import _kubeops as ops
from hotfix_actions.services._deploy import Context
from hotfix_actions.services.canary_loop import LiveSource, SystemClock, analyze, settings_from_config
from hotfix_actions.services.canary_settle import settle_previous_pods
from hotfix_actions.services.fleet_report import StepResult

__all__ = [
    "Cancelled",
    "FleetSettings",
    "Opener",
    "Prefixed",
    "StopClock",
    "TargetPorts",
    "TargetRun",
    "TargetSpec",
]


class Cancelled(Exception):
    """Another target of the wave failed (or a signal came): this gate or bake stops at its next look."""


class StopClock(SystemClock):
    """The analysis clock, whose sleep ends early (raising Cancelled) once the run's stop event is set."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def sleep(self, seconds: float) -> None:
        if self.stop.wait(max(0.0, seconds)):
            raise Cancelled("stopped: another target of the wave failed or the run was interrupted")


class Prefixed(Reporter):
    """A reporter for one target: every progress line starts with ``[target]``; secrets, masks and streams are the
    parent's (the same registry scrubs every line), and lines of parallel targets never mix."""

    _write_lock = threading.Lock()

    def __init__(self, parent: Reporter, prefix: str) -> None:  # no super().__init__: the parent's state is shared
        self.__dict__.update(parent.__dict__)
        self._parent = parent
        self._prefix = prefix

    def step(self, message: str) -> None:
        with self._write_lock:
            self._parent.step(f"[{self._prefix}] {message}")

    def info(self, message: str) -> None:
        with self._write_lock:
            self._parent.info(f"[{self._prefix}] {message}")

    def annotate(
        self, level: str, message: str, *, file: str | None = None, line: int | None = None, title: str | None = None
    ) -> None:
        with self._write_lock:
            self._parent.annotate(level, f"{self._prefix}: {message}", file=file, line=line, title=title)

    def mask(self, value: str | None) -> None:
        self._parent.mask(value)


@dataclass(frozen=True)
class TargetSpec:
    """One target as resolved from `.hotfix.yml`: which wave, which Deployment, which Prometheus."""

    name: str
    wave: str
    wave_index: int
    deployment: str
    namespace: str | None = None  # None: the connection's (context, cluster.namespace, else default)
    service: str | None = None
    prometheus_url: str | None = None


@dataclass
class TargetPorts:
    cluster: Cluster
    probe: Probe
    metrics: Metrics | None = None


Opener = Callable[[TargetSpec, bool], AbstractContextManager[TargetPorts]]
"""(target, with metrics) -> its connections: the cluster (and Prometheus when asked), closed on exit."""


@dataclass(frozen=True)
class FleetSettings:
    """Everything a fleet run needs besides the targets: the release, who runs it, and the sections of
    `.hotfix.yml` the single-cluster commands use."""

    version: str
    image: str
    run: str  # decide.fleet.fleet_id(version, image)
    holder: str  # the runner: Lease holder and record writer
    canary: CanaryConfig
    promote: PromoteConfig
    rollback: RollbackConfig
    run_url: str = ""
    actor: str = ""
    bake_interval: float = 15.0
    fail_fast_after: float | None = None
    snapshot_dir: str | None = None
    lock_timeout: float | None = None
    lock_prefix: str = "hotfix-fleet-"
    strategy: str | None = None  # rollback strategy (default: rollback.strategy)
    gate_interval: float | None = None  # canary --interval / --duration for the gate (default: canary section)
    gate_duration: float | None = None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _verdict_of(outcome: Outcome) -> Verdict:
    return outcome.verdict


def _reason(outcome: Outcome) -> str:
    return ops.one_line("; ".join(outcome.reasons) or outcome.verdict.value, 400)


@dataclass
class TargetRun:
    """One target's connections and steps during one fleet invocation."""

    spec: TargetSpec
    ports: TargetPorts
    settings: FleetSettings
    reporter: Reporter
    stop: threading.Event
    namespace: str = ""
    record: FleetRecord | None = None
    record_problem: str = ""
    deployment: KubeObject = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.namespace = self.spec.namespace or self.ports.cluster.namespace

    def warn(self, text: str) -> None:
        self.reporter.annotate("warning", text)

    # -- the record ---------------------------------------------------------------------------------
    def read(self) -> FleetRecord | None:
        """Read the Deployment and its fleet record (an unreadable record is said, and counts as none)."""
        self.deployment = ops.read_deployment(self.ports.cluster, self.namespace, self.spec.deployment)
        annotations = (self.deployment.get("metadata") or {}).get("annotations") or {}
        try:
            self.record = FleetRecord.from_annotations(annotations)
            self.record_problem = ""
        except ValueError as exc:
            self.record, self.record_problem = None, str(exc)
        return self.record

    def live_images(self) -> dict[str, str]:
        return container_images((self.deployment.get("spec") or {}).get("template") or {})

    def fresh_record(self, wave_count: int) -> FleetRecord:
        """This run's record for the target, PROMOTING; ``before`` is kept from an earlier write of the same run,
        else the LKG record (the release the target was verified on), else what runs now."""
        s = self.settings
        if self.record is not None and self.record.run == s.run:
            return self.record.with_phase(Phase.PROMOTING, at=_now(), holder=s.holder)
        annotations = (self.deployment.get("metadata") or {}).get("annotations") or {}
        try:
            lkg = LkgRecord.from_annotations(annotations)
        except ValueError:
            lkg = None
        if lkg is not None:
            before, revision = lkg.images, lkg.revision
        else:
            number = str(annotations.get(REVISION, ""))
            before, revision = tuple(self.live_images().items()), int(number) if number.isdigit() else 0
        return FleetRecord(
            run=s.run,
            version=s.version,
            image=s.image,
            wave=self.spec.wave,
            wave_index=self.spec.wave_index,
            waves=wave_count,
            phase=Phase.PROMOTING,
            before=tuple(before),
            before_revision=revision,
            at=_now(),
            holder=s.holder,
        )

    def write(self, record: FleetRecord) -> None:
        """Put ``record`` on the Deployment: a conditional replace, re-read on a 409."""
        cluster = self.ports.cluster
        for _ in range(5):
            deployment = ops.read_deployment(cluster, self.namespace, self.spec.deployment)
            body = copy.deepcopy(deployment)
            body.pop("status", None)
            meta = body.setdefault("metadata", {})
            meta["annotations"] = {**(meta.get("annotations") or {}), FLEET_ANNOTATION: record.to_json()}
            try:
                self.deployment = cluster.replace("deployments", self.namespace, body)
            except ConflictError:
                continue
            self.record = record
            return
        raise ConflictError(
            f'deployment "{self.spec.deployment}" changed under us 5 times while its fleet record was written',
            fix="stop the other writer and run the fleet command again",
        )

    def mark(self, phase: Phase, reason: str = "") -> None:
        assert self.record is not None
        self.write(self.record.with_phase(phase, at=_now(), holder=self.settings.holder, reason=reason))
        self.reporter.step(f"record: {phase.value}" + (f" ({reason})" if reason else ""))

    # -- the steps -----------------------------------------------------------------------------------
    def _context(self) -> Context:
        return Context(
            cluster=self.ports.cluster,
            reporter=self.reporter,
            probe=self.ports.probe,
            deployments=NullDeployments(),
            notifier=NullNotifier(),
        )

    def gate(self) -> StepResult:
        """The canary gate, by the canary service: PASS, FAIL (the canary rolled back by it), or ERROR."""
        from hotfix_actions.services import canary

        began, t0 = time.time(), time.monotonic()
        s = self.settings
        assert self.ports.metrics is not None
        settings = settings_from_config(s.canary, interval=s.gate_interval, duration=s.gate_duration)
        request = canary.CanaryRequest(
            namespace=self.namespace, deployment=self.spec.deployment, image=s.image, run_id=s.holder
        )
        try:
            outcome = canary.run(
                request,
                settings,
                cluster=self.ports.cluster,
                metrics=self.ports.metrics,
                reporter=self.reporter,
                clock=StopClock(self.stop),
            )
        except Cancelled as exc:
            name = f"{self.spec.deployment}{s.canary.suffix}"
            try:
                self.ports.cluster.scale(self.namespace, name, 0)
                after = f"canary {name} scaled to zero"
            except HotfixError as err:
                after = f"canary {name} left running: {err}"
            return StepResult(Verdict.ERROR, f"{exc}; {after}", began, time.monotonic() - t0)
        return StepResult(_verdict_of(outcome), _reason(outcome), began, time.monotonic() - t0)

    def promote(self) -> StepResult:
        """``hotfix promote`` itself (its Lease, wait, settle, smoke checks, LKG; it rolls itself back on FAIL)."""
        from hotfix_actions.services.promote import PromoteRequest
        from hotfix_actions.services.promote import run as promote_run

        began, t0 = time.time(), time.monotonic()
        s = self.settings
        request = PromoteRequest(
            namespace=self.namespace,
            deployment=self.spec.deployment,
            image=s.image,
            change_cause=f"hotfix fleet {s.version or s.image} wave {self.spec.wave} by run {s.holder}",
            lock_timeout=s.lock_timeout,
            fail_fast_after=s.fail_fast_after,
            snapshot_dir=s.snapshot_dir,
            run_id=s.holder,
            run_url=s.run_url,
            actor=s.actor,
            version=s.version,
        )
        outcome = promote_run(request, s.promote, s.rollback.lock, self._context())
        verdict = outcome.verdict if outcome.code in (0, 1) else Verdict.ERROR  # superseded, signals: not a FAIL
        return StepResult(verdict, _reason(outcome), began, time.monotonic() - t0)

    def bake(self, seconds: float) -> StepResult:
        """The monitor's judge (one arm, the canary's guardrails and fail-closed rules) for ``seconds``."""
        began, t0 = time.time(), time.monotonic()
        s = self.settings
        metrics = self.ports.metrics
        assert metrics is not None
        interval = min(s.bake_interval, seconds)
        settings = settings_from_config(s.canary, interval=interval, duration=seconds, compare=False)
        metrics.query("vector(1)", at=time.time())
        labels = ArmLabels(
            self.namespace, self.spec.deployment, "stable", prom_duration(settings.interval), settings.selector
        )
        source = LiveSource(
            metrics,
            settings,
            {"canary": labels},
            cluster=self.ports.cluster,
            namespace=self.namespace,
            say=self.reporter.info,
        )
        clock = StopClock(self.stop)
        try:
            settled = settle_previous_pods(  # the release before must be gone first, as `hotfix monitor` waits
                self.ports.cluster,
                self.namespace,
                self.spec.deployment,
                lag=settings.canary_lag,
                limit=settings.ready_timeout,
                monotonic=clock.monotonic,
                sleep=clock.sleep,
                say=self.reporter.info,
                judged="the new release",
            )
            if settled is not None:
                self.reporter.info(f"previous pods: {settled[0].value} - {settled[1]}")
            analysis = analyze(settings, source, {"canary": self.spec.deployment}, self.reporter, clock=clock)
        except Cancelled as exc:
            return StepResult(Verdict.ERROR, str(exc), began, time.monotonic() - t0)
        decision = analysis.decision
        assert decision is not None
        reason = f"{decision.rule}: {'; '.join(decision.reasons)}"
        return StepResult(decision.verdict, ops.one_line(reason, 400), began, time.monotonic() - t0)

    def rollback(self, back: Back | None, reason: str) -> StepResult:
        """``hotfix rollback`` itself, to the explicit target ``back`` (None: the LKG record)."""
        from hotfix_actions.services.rollback import RollbackRequest
        from hotfix_actions.services.rollback import run as rollback_run

        began, t0 = time.time(), time.monotonic()
        s = self.settings
        request = RollbackRequest(
            namespace=self.namespace,
            deployment=self.spec.deployment,
            strategy=s.strategy,
            service=self.spec.service,
            fail_fast_after=s.fail_fast_after,
            lock_timeout=s.lock_timeout,
            snapshot_dir=s.snapshot_dir,
            run_id=s.holder,
            run_url=s.run_url,
            actor=s.actor,
            reason=reason,
        )
        strategy = s.strategy or s.rollback.strategy
        if back is not None and strategy != "blue-green":
            if back.to == "previous":
                request = replace(request, to_previous=True)
            elif back.to == "image":
                request = replace(request, to_image=back.images[0][1], containers=tuple(n for n, _ in back.images))
        outcome = rollback_run(request, s.rollback, self._context())
        changed = outcome.outputs.get("changed") == "true"
        verdict = outcome.verdict
        text = _reason(outcome)
        if verdict is Verdict.PASS:
            target = outcome.outputs.get("to-image") or outcome.outputs.get("target") or "its target"
            checked = "rollout verified" if outcome.outputs.get("rollout") == "complete" else "rollout not waited for"
            text = f"{'rolled back' if changed else 'unchanged, already'} on {target} ({checked})"
        return StepResult(verdict, text, began, time.monotonic() - t0)

    def back(self) -> Back:
        assert self.record is not None
        annotations = (self.deployment.get("metadata") or {}).get("annotations") or {}
        return rollback_back(self.record, annotations, (self.deployment.get("spec") or {}).get("template") or {})


def step_status(result: StepResult) -> Status:
    return {Verdict.PASS: Status.PASS, Verdict.FAIL: Status.FAIL}.get(result.verdict, Status.ERROR)
