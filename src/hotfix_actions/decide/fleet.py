"""A fleet run, as pure functions: the record each target keeps of it, where a run stands, what comes next, and
where each target goes back to.

Every target keeps its own state in its own cluster: the LKG records ``hotfix promote`` writes, and the fleet-run
annotation below (which run, which wave, which phase, and the release it ran before the run). ``next_step`` reads
the records of every target and says what the run must do now, so a rerun after a crash continues where it stopped
and never promotes a wave before every target of the wave before is promoted *and* baked.

Phases of one target in one run: PROMOTING (written before its gate and promote start), PROMOTED (its promote
passed and recorded the LKG), BAKED (the whole wave was watched for the bake time and passed), FAILED (its gate,
promote or bake failed), ROLLED_BACK (the run's rollback put it back on the release it ran before, verified).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hotfix_actions.decide.lkg import LkgRecord, container_images
from hotfix_actions.decide.rollback import previous_release

__all__ = [
    "FLEET_ANNOTATION",
    "Back",
    "FleetRecord",
    "Phase",
    "Step",
    "StepKind",
    "Wave",
    "fleet_id",
    "next_step",
    "rollback_back",
    "run_status",
]

FLEET_ANNOTATION = "hotfix-actions.io/fleet-run"


class Phase(StrEnum):
    PROMOTING = "promoting"
    PROMOTED = "promoted"
    BAKED = "baked"
    FAILED = "failed"
    ROLLED_BACK = "rolled-back"


_IN_FLIGHT = frozenset({Phase.PROMOTING, Phase.PROMOTED, Phase.FAILED})
_TO_UNDO = frozenset({Phase.PROMOTING, Phase.PROMOTED, Phase.BAKED, Phase.FAILED})


def fleet_id(version: str, image: str) -> str:
    """The identity of a fleet run: the same version and image are the same run (a rerun continues it)."""
    digest = hashlib.sha256(f"{version}\n{image}".encode()).hexdigest()[:12]
    return f"{version or 'unversioned'}-{digest}"[:63]


@dataclass(frozen=True)
class Wave:
    name: str
    targets: tuple[str, ...]
    bake: float = 0.0
    max_parallel: int = 1
    canary: bool = True


@dataclass(frozen=True)
class FleetRecord:
    """The fleet-run annotation on one target's Deployment."""

    run: str
    version: str
    image: str
    wave: str
    wave_index: int
    waves: int  # how many waves the run has (its last wave baked = the run is complete)
    phase: Phase
    before: tuple[tuple[str, str], ...] = ()  # container -> image the target ran before the run (its release then)
    before_revision: int = 0
    at: str = ""  # time of this phase
    holder: str = ""  # the runner that wrote it
    reason: str = ""  # one line: why it failed, what the rollback did

    def with_phase(self, phase: Phase, *, at: str, holder: str, reason: str = "") -> FleetRecord:
        return FleetRecord(
            self.run,
            self.version,
            self.image,
            self.wave,
            self.wave_index,
            self.waves,
            phase,
            self.before,
            self.before_revision,
            at,
            holder,
            reason[:300],
        )

    def before_text(self) -> str:
        return ", ".join(f"{name}={image}" for name, image in self.before) or "?"

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "run": self.run,
            "version": self.version,
            "image": self.image,
            "wave": self.wave,
            "waveIndex": self.wave_index,
            "waves": self.waves,
            "phase": self.phase.value,
            "before": dict(self.before),
            "beforeRevision": self.before_revision,
            "at": self.at,
            "holder": self.holder,
        }
        if self.reason:
            data["reason"] = self.reason
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_annotations(cls, annotations: Mapping[str, str] | None) -> FleetRecord | None:
        """The record on a Deployment, None when there is none; ValueError naming what cannot be read."""
        text = (annotations or {}).get(FLEET_ANNOTATION)
        if not text:
            return None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"annotation {FLEET_ANNOTATION} is not JSON: {exc.msg}") from exc
        if not isinstance(data, Mapping):
            raise ValueError(f"annotation {FLEET_ANNOTATION} is not a JSON object")
        try:
            phase = Phase(str(data.get("phase")))
        except ValueError as exc:
            raise ValueError(f"annotation {FLEET_ANNOTATION} has an unknown phase {data.get('phase')!r}") from exc
        before = data.get("before") or {}
        index, waves = data.get("waveIndex"), data.get("waves")
        if not isinstance(before, Mapping) or not isinstance(index, int) or not isinstance(waves, int):
            raise ValueError(f"annotation {FLEET_ANNOTATION} lacks before, waveIndex or waves")
        if not str(data.get("run") or ""):
            raise ValueError(f"annotation {FLEET_ANNOTATION} names no run")
        revision = data.get("beforeRevision")
        return cls(
            run=str(data["run"]),
            version=str(data.get("version") or ""),
            image=str(data.get("image") or ""),
            wave=str(data.get("wave") or ""),
            wave_index=index,
            waves=waves,
            phase=phase,
            before=tuple((str(k), str(v)) for k, v in before.items()),
            before_revision=revision if isinstance(revision, int) else 0,
            at=str(data.get("at") or ""),
            holder=str(data.get("holder") or ""),
            reason=str(data.get("reason") or ""),
        )


class StepKind(StrEnum):
    PROMOTE = "promote"  # gate + promote the listed targets of the wave, then bake the wave
    BAKE = "bake"  # every target of the wave is promoted: watch the listed ones for the bake time
    DONE = "done"  # every wave is promoted and baked
    ROLLBACK = "rollback"  # the run failed: put the listed targets back on the release they ran before
    STOPPED = "stopped"  # the run failed and is rolled back already: nothing to do, a new run is needed
    BLOCKED = "blocked"  # another run is not finished on these targets


@dataclass(frozen=True)
class Step:
    kind: StepKind
    wave: int = -1  # index of the wave (PROMOTE, BAKE)
    targets: tuple[str, ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class RunStatus:
    """What the records say about one run: its records, and whether it is unfinished."""

    run: str
    records: Mapping[str, FleetRecord] = field(default_factory=dict)

    @property
    def unfinished(self) -> bool:
        phases = {r.phase for r in self.records.values()}
        if Phase.ROLLED_BACK in phases:
            return phases != {Phase.ROLLED_BACK}  # a rollback that did not reach every touched target
        if phases & _IN_FLIGHT:
            return True
        return not any(r.phase is Phase.BAKED and r.wave_index == r.waves - 1 for r in self.records.values())

    def describe(self) -> str:
        first = next(iter(self.records.values()))
        where = ", ".join(f"{t} {r.phase.value} (wave {r.wave})" for t, r in sorted(self.records.items()))
        return f"fleet run {first.run} ({first.image}): {where}"


def run_status(records: Mapping[str, FleetRecord | None], run: str) -> RunStatus:
    return RunStatus(run, {t: r for t, r in records.items() if r is not None and r.run == run})


def next_step(waves: Sequence[Wave], records: Mapping[str, FleetRecord | None], run: str) -> Step:
    """What run ``run`` does next, from the fleet-run record of every target (None: no record).

    Rules, in order:
    1. a record of this run that FAILED, or one already ROLLED_BACK: the run failed; ROLLBACK every target it touched
       that is not rolled back yet, or STOPPED when none is left;
    2. before this run touched anything: another run that is not finished (a target in the middle of it, or
       stopped between waves) BLOCKs it; after: a target of a wave it reached that now carries another run means
       that run came later, and this one is superseded (BLOCKED: never promote over it);
    3. otherwise the first wave not fully BAKED: PROMOTE its targets not promoted yet, or BAKE the ones promoted and
       not yet baked; DONE when every wave is baked.
    """
    mine = run_status(records, run)
    failed = [t for t, r in mine.records.items() if r.phase is Phase.FAILED]
    rolled = [t for t, r in mine.records.items() if r.phase is Phase.ROLLED_BACK]
    if failed or rolled:
        todo = tuple(sorted(t for t, r in mine.records.items() if r.phase in _TO_UNDO))
        why = "; ".join(f"{t}: {mine.records[t].reason or 'failed'}" for t in sorted(failed)) or "rolled back"
        if todo:
            return Step(StepKind.ROLLBACK, targets=todo, reason=f"fleet run {run} failed ({why})")
        return Step(StepKind.STOPPED, reason=f"fleet run {run} failed and every target it touched is rolled back")
    if not mine.records:
        others = sorted({r.run for r in records.values() if r is not None and r.run != run})
        for other in others:
            status = run_status(records, other)
            if status.unfinished:
                return Step(
                    StepKind.BLOCKED,
                    targets=tuple(sorted(status.records)),
                    reason=f"{status.describe()} is not finished",
                )
    reached = [i for i, w in enumerate(waves) if any(t in mine.records for t in w.targets)]
    for wave in waves[: max(reached) + 1] if reached else ():
        for t in wave.targets:
            record = records.get(t)
            if record is not None and record.run != run:
                return Step(
                    StepKind.BLOCKED,
                    targets=(t,),
                    reason=f"{t} now carries fleet run {record.run} ({record.image}, {record.phase.value}), started "
                    f"after this one: this run is superseded",
                )
    for index, wave in enumerate(waves):
        phases = {t: (mine.records[t].phase if t in mine.records else None) for t in wave.targets}
        if all(p is Phase.BAKED for p in phases.values()):
            continue
        todo = tuple(t for t in wave.targets if phases[t] not in (Phase.PROMOTED, Phase.BAKED))
        if todo:
            return Step(StepKind.PROMOTE, index, todo, f"wave {wave.name}: {len(todo)} of {len(wave.targets)} to do")
        unbaked = tuple(t for t in wave.targets if phases[t] is Phase.PROMOTED)
        return Step(StepKind.BAKE, index, unbaked, f"wave {wave.name}: promoted, not baked yet")
    return Step(StepKind.DONE, reason=f"every wave of fleet run {run} is promoted and baked")


@dataclass(frozen=True)
class Back:
    """Where one target goes back to: ``to`` is lkg (its LKG record), previous (the release recorded before the
    newest promoted one), image (``images`` on the live template) or none (nothing recorded to go back to)."""

    to: str
    images: tuple[tuple[str, str], ...] = ()
    reason: str = ""


def _images_of(record: LkgRecord | None) -> dict[str, str]:
    return dict(record.images) if record is not None else {}


def rollback_back(record: FleetRecord, annotations: Mapping[str, str], live: Mapping[str, Any]) -> Back:
    """The explicit target that puts a target back on the release it ran before the fleet run (``record.before``),
    whatever the run got to: the LKG record when it is that release (the promote never recorded, or a rollback did
    already), the release before the newest promoted one when that is it, else the images themselves on the live
    pod template (``live``, as read now)."""
    before = dict(record.before)
    if not before:
        return Back("none", reason="the fleet record holds no release from before the run")
    try:
        lkg = LkgRecord.from_annotations(annotations)
    except ValueError:
        lkg = None
    if _images_of(lkg) == before:
        return Back(
            "lkg", record.before, f"its last-known-good is the release from before the run ({record.before_text()})"
        )
    _, earlier = previous_release(annotations)
    if _images_of(earlier) == before:
        return Back("previous", record.before, f"the release recorded before the promoted one ({record.before_text()})")
    names = set(container_images(live))
    if not set(before) <= names:
        missing = ", ".join(sorted(set(before) - names))
        return Back("none", reason=f"container {missing} recorded before the run is not in the live template")
    if len(set(before.values())) != 1:
        return Back("none", reason=f"the containers ran different images before the run ({record.before_text()})")
    return Back("image", record.before, f"the image it ran before the run ({record.before_text()})")
