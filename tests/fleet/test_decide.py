"""decide.fleet: the record, where a run stands (``next_step``), where a target goes back to (``rollback_back``).

Tables, one row per rule; then Hypothesis drives whole runs through any interleaving of crashes, reruns, failures
and concurrent runs, and checks that no wave is ever promoted before the one before it is promoted and baked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotfix_actions.decide.fleet import (
    FLEET_ANNOTATION,
    FleetRecord,
    Phase,
    StepKind,
    Wave,
    fleet_id,
    next_step,
    rollback_back,
    run_status,
)
from hotfix_actions.decide.lkg import LkgRecord, with_lkg

WAVES = (Wave("w1", ("a",)), Wave("w2", ("b", "b2")), Wave("w3", ("c",)))
RUN = fleet_id("1.1.0", "web:1.1")
OTHER = fleet_id("1.2.0", "web:1.2")
WAVE_OF = {t: i for i, w in enumerate(WAVES) for t in w.targets}


def rec(target: str, phase: Phase, run: str = RUN, reason: str = "") -> FleetRecord:
    index = WAVE_OF[target]
    image = "web:1.1" if run == RUN else "web:1.2"
    return FleetRecord(run, "1.1.0", image, WAVES[index].name, index, len(WAVES), phase, (("web", "web:1.0"),), 1,
                       reason=reason)  # fmt: skip


P, D, B, F, R = Phase.PROMOTING, Phase.PROMOTED, Phase.BAKED, Phase.FAILED, Phase.ROLLED_BACK


@pytest.mark.parametrize(
    ("records", "kind", "wave", "targets"),
    [
        # nothing yet: wave 1, every target of it
        ({}, StepKind.PROMOTE, 0, ("a",)),
        # a crash after PROMOTING: promote it again (the gate and promote are idempotent)
        ({"a": P}, StepKind.PROMOTE, 0, ("a",)),
        # promoted, not baked: bake before anything else
        ({"a": D}, StepKind.BAKE, 0, ("a",)),
        # wave 1 baked: wave 2, both targets
        ({"a": B}, StepKind.PROMOTE, 1, ("b", "b2")),
        # half of wave 2 promoted: only the other one
        ({"a": B, "b": D}, StepKind.PROMOTE, 1, ("b2",)),
        # wave 2 promoted: bake it (and only it), never wave 3
        ({"a": B, "b": D, "b2": D}, StepKind.BAKE, 1, ("b", "b2")),
        # a crash while marking baked: bake the one not marked yet
        ({"a": B, "b": B, "b2": D}, StepKind.BAKE, 1, ("b2",)),
        ({"a": B, "b": B, "b2": B}, StepKind.PROMOTE, 2, ("c",)),
        ({"a": B, "b": B, "b2": B, "c": B}, StepKind.DONE, -1, ()),
        # a FAIL anywhere: every target this run touched, not the untouched ones
        ({"a": B, "b": F, "b2": D}, StepKind.ROLLBACK, -1, ("a", "b", "b2")),
        ({"a": B, "b": F, "b2": P}, StepKind.ROLLBACK, -1, ("a", "b", "b2")),
        # a rollback stopped half way: the rest of it
        ({"a": R, "b": R, "b2": D}, StepKind.ROLLBACK, -1, ("b2",)),
        # all rolled back: nothing more (a new release is needed)
        ({"a": R, "b": R, "b2": R}, StepKind.STOPPED, -1, ()),
    ],
)
def test_next_step(records: dict[str, Phase], kind: StepKind, wave: int, targets: tuple[str, ...]) -> None:
    step = next_step(WAVES, {t: rec(t, p) for t, p in records.items()}, RUN)
    assert (step.kind, step.wave, step.targets) == (kind, wave, targets)


@pytest.mark.parametrize(
    ("other", "kind"),
    [
        # another run in the middle of a target: blocked
        ({"a": P}, StepKind.BLOCKED),
        ({"a": D}, StepKind.BLOCKED),
        ({"a": F}, StepKind.BLOCKED),
        # another run that stopped between waves (wave 1 baked, its last wave never reached): blocked
        ({"a": B}, StepKind.BLOCKED),
        # a finished run (its last wave baked): free
        ({"a": B, "b": B, "b2": B, "c": B}, StepKind.PROMOTE),
        # a run rolled back everywhere it went: free
        ({"a": R, "b": R}, StepKind.PROMOTE),
        # a rollback that did not reach every target it touched: blocked
        ({"a": R, "b": D}, StepKind.BLOCKED),
    ],
)
def test_another_run(other: dict[str, Phase], kind: StepKind) -> None:
    step = next_step(WAVES, {t: rec(t, p, OTHER) for t, p in other.items()}, RUN)
    assert step.kind is kind
    if kind is StepKind.BLOCKED:
        assert OTHER in step.reason and "not finished" in step.reason


def test_once_started_a_run_reads_only_its_own_records() -> None:
    """Wave 1 is ours; wave 2 still carries a finished older run: go on with ours."""
    records = {"a": rec("a", B), "b": rec("b", B, OTHER), "b2": rec("b2", B, OTHER), "c": rec("c", B, OTHER)}
    step = next_step(WAVES, records, RUN)
    assert (step.kind, step.wave, step.targets) == (StepKind.PROMOTE, 1, ("b", "b2"))


def test_record_round_trip_and_refusals() -> None:
    record = rec("b", F, reason="bake: guardrail error rate")
    again = FleetRecord.from_annotations({FLEET_ANNOTATION: record.to_json()})
    assert again == record
    assert FleetRecord.from_annotations({}) is None
    for bad, words in [
        ("{", "not JSON"),
        ("[]", "not a JSON object"),
        (json.dumps({**json.loads(record.to_json()), "phase": "halfway"}), "unknown phase"),
        (json.dumps({**json.loads(record.to_json()), "run": ""}), "names no run"),
        (json.dumps({k: v for k, v in json.loads(record.to_json()).items() if k != "waves"}), "lacks"),
    ]:
        with pytest.raises(ValueError, match=words):
            FleetRecord.from_annotations({FLEET_ANNOTATION: bad})


def test_fleet_id_is_the_version_and_image() -> None:
    assert fleet_id("1.1.0", "web:1.1") == fleet_id("1.1.0", "web:1.1")
    assert fleet_id("1.1.0", "web:1.1") != fleet_id("1.1.0", "web:1.1-rc")
    assert fleet_id("1.1.0", "web:1.1").startswith("1.1.0-")


def _template(image: str, container: str = "web") -> dict[str, object]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": container, "image": image}]}}


def _annotations(*releases: tuple[str, str]) -> dict[str, str]:
    """LKG records, oldest first: (image, source)."""
    deployment: dict[str, object] = {"metadata": {"annotations": {}}}
    for n, (image, source) in enumerate(releases, start=1):
        record = LkgRecord.build(_template(image), template_hash=f"h{n}", revision=n, time=f"t{n}", source=source)
        deployment = with_lkg(deployment, record)
    return dict(deployment["metadata"]["annotations"])  # type: ignore[index]


@pytest.mark.parametrize(
    ("releases", "live", "to", "why"),
    [
        # the promote never recorded (gate failed, or the promote rolled itself back): the LKG is the release before
        ([("web:1.0", "promote")], "web:1.0", "lkg", "last-known-good"),
        # promoted and recorded: the release before the promoted one
        ([("web:1.0", "promote"), ("web:1.1", "promote")], "web:1.1", "previous", "recorded before"),
        # already rolled back by an earlier rollback: the LKG (a rollback record) is it: a no-op again
        ([("web:1.0", "promote"), ("web:1.1", "promote"), ("web:1.0", "rollback")], "web:1.0", "lkg", "last-known"),
        # no LKG before the run (never promoted by the tool): the images it ran
        ([("web:1.1", "promote")], "web:1.1", "image", "image it ran"),
    ],
)
def test_rollback_back(releases: list[tuple[str, str]], live: str, to: str, why: str) -> None:
    record = rec("a", B)
    back = rollback_back(record, _annotations(*releases), _template(live))
    assert back.to == to and why in back.reason
    assert dict(back.images) == {"web": "web:1.0"}


def test_rollback_back_refuses_what_it_cannot_express() -> None:
    record = FleetRecord(RUN, "1", "i", "w1", 0, 1, B, (("web", "a:1"), ("side", "b:1")))
    assert rollback_back(record, {}, _template("x")).to == "none"  # a container no longer in the template
    two = {"spec": {"containers": [{"name": "web", "image": "x"}, {"name": "side", "image": "y"}]}}
    back = rollback_back(record, {}, two)
    assert back.to == "none" and "different images" in back.reason
    assert rollback_back(FleetRecord(RUN, "1", "i", "w1", 0, 1, B), {}, two).to == "none"


# -- Hypothesis: whole runs, crashes, reruns, failures, a second run -----------------------------------------------


@dataclass
class World:
    """The records as the clusters hold them, and a log of every write with the state it was made in."""

    waves: tuple[Wave, ...]
    records: dict[str, FleetRecord] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    touched_after_fail: list[str] = field(default_factory=list)

    def write(self, target: str, run: str, phase: Phase) -> None:
        index = next(i for i, w in enumerate(self.waves) if target in w.targets)
        if phase is Phase.PROMOTING:
            for earlier in self.waves[:index]:
                for t in earlier.targets:
                    r = self.records.get(t)
                    if r is None or r.run != run or r.phase is not Phase.BAKED:
                        self.violations.append(f"{target} (wave {index + 1}) promoted while {t} is {r and r.phase}")
            if any(r.run == run and r.phase is Phase.FAILED for r in self.records.values()):
                self.touched_after_fail.append(target)
        old = self.records.get(target)
        before = old.before if old is not None and old.run == run else (("web", "web:1.0"),)
        self.records[target] = FleetRecord(run, "v", "i", self.waves[index].name, index, len(self.waves), phase, before)


def drive(world: World, run: str, budget: int, fail_at: set[str], *, in_bake: bool = False) -> int:
    """One invocation of `fleet promote`: acts on next_step until it stops or the budget (writes) runs out, as a
    crash would cut it. Returns the writes made."""
    made = 0
    for _ in range(50):
        step = next_step(world.waves, dict(world.records), run)
        if step.kind in (StepKind.DONE, StepKind.STOPPED, StepKind.BLOCKED):
            return made
        writes: list[tuple[str, Phase]] = []
        if step.kind is StepKind.PROMOTE:
            for t in step.targets:
                writes.append((t, Phase.PROMOTING))
                writes.append((t, Phase.FAILED if t in fail_at and not in_bake else Phase.PROMOTED))
        elif step.kind is StepKind.BAKE:
            failing = [t for t in step.targets if t in fail_at and in_bake]
            writes += [(t, Phase.FAILED) for t in failing] or [(t, Phase.BAKED) for t in step.targets]
        else:
            writes += [(t, Phase.ROLLED_BACK) for t in step.targets]
        for target, phase in writes:
            if made >= budget:
                return made
            if phase is not Phase.PROMOTING and target in world.records and world.records[target].run != run:
                return made  # another run took the target meanwhile (cannot happen under the Lease)
            world.write(target, run, phase)
            made += 1
            if phase is Phase.FAILED:
                break  # a FAIL stops the wave: the rest is not started
    return made


wave_shapes = st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    shape=wave_shapes,
    crashes=st.lists(st.integers(min_value=0, max_value=6), max_size=6),
    fail=st.one_of(st.none(), st.integers(min_value=0, max_value=9)),
    in_bake=st.booleans(),
    second=st.lists(st.integers(min_value=0, max_value=8), max_size=3),
)
def test_any_interleaving_of_crashes_and_reruns(
    shape: list[int], crashes: list[int], fail: int | None, in_bake: bool, second: list[int]
) -> None:
    """Reruns after crashes at any write, a FAIL at any target (gate/promote or bake), another run started at any
    moment: no target of a wave is ever promoted before every target of the wave before is baked by the same run;
    nothing is promoted after a FAIL; a run ends DONE (every target baked), STOPPED (every target it touched
    rolled back) or BLOCKED by the other run, never half-way."""
    names = iter("abcdefghijkl")
    waves = tuple(Wave(f"w{i + 1}", tuple(next(names) for _ in range(n))) for i, n in enumerate(shape))
    targets = [t for w in waves for t in w.targets]
    fail_at = {targets[fail % len(targets)]} if fail is not None else set()
    world = World(waves)
    interleave = list(second)
    for budget in [*crashes, 10_000]:
        drive(world, RUN, budget, fail_at, in_bake=in_bake)
        if interleave:  # a second run tries in between: it may only start once ours is finished
            drive(world, OTHER, interleave.pop(0), set())
    final = next_step(waves, dict(world.records), RUN)
    assert not world.violations, world.violations
    assert not world.touched_after_fail
    mine = {t: r for t, r in world.records.items() if r.run == RUN}
    if final.kind is StepKind.STOPPED:  # failed: every target it still holds is rolled back
        assert fail_at and all(r.phase is Phase.ROLLED_BACK for r in mine.values())
    elif final.kind is StepKind.DONE:
        assert set(mine) == set(targets) and all(r.phase is Phase.BAKED for r in mine.values())
    elif final.kind is StepKind.BLOCKED:  # the other run holds it, or came after ours and overwrote it
        assert any(r.run == OTHER for r in world.records.values())
    else:  # the later run finished over every target of ours: running ours again is a new start, from wave 1
        assert not mine and not run_status(world.records, OTHER).unfinished
        assert (final.kind, final.wave) == (StepKind.PROMOTE, 0)
