"""`hotfix fleet promote` on three sandboxes at once (a, b, c: waves [a], [b], [c]), each with its own fake
Prometheus reading what the cluster runs: a good hotfix, a regression only in wave 2 (seen by the bake, then by the
gate), a cluster cut off (before the run and between waves), and reruns. One webhook receiver counts messages."""

from __future__ import annotations

import json
import threading

import pytest

from hotfix_actions.decide.fleet import Phase, fleet_id
from tests.fleet.rig import GOOD, NEW, VERSION, Rig, Timeline
from tests.notify.receiver import Receiver

RUN = fleet_id(VERSION, NEW)


@pytest.fixture
def hook() -> Receiver:
    receiver = Receiver().start()
    yield receiver  # type: ignore[misc]
    receiver.stop()


def promote(rig: Rig, hook: Receiver | None = None, *extra: str) -> tuple[int, str, dict[str, str]]:
    env = {"HOTFIX_WEBHOOK_URL": hook.url()} if hook else {}
    return rig.hotfix("fleet", "promote", "--version", VERSION, "--image", NEW, *extra, **env)


def generation(rig: Rig, name: str) -> int:
    return int(rig.members[name].deployment()["metadata"]["generation"])


def test_a_good_hotfix_goes_through_three_waves(rig: Rig, hook: Receiver) -> None:
    with Timeline(rig) as seen:
        code, out, outputs = promote(rig, hook)
    assert code == 0, out
    assert outputs["verdict"] == "PASS" and outputs["promoted"] == "a b c" and outputs["rolled-back"] == "false"
    for name, member in rig.members.items():
        assert member.image() == NEW, name
        lkg = member.lkg()
        assert lkg is not None and lkg.image == NEW and lkg.source == "promote", name
        record = member.record()
        assert record is not None and record.run == RUN and record.phase is Phase.BAKED
        assert dict(record.before) == {"web": GOOD}
        assert member.kube.get("apps/v1", "deployments", member.namespace, "web-canary")["spec"]["replicas"] == 0
    # each wave started only once the wave before was baked, as the clusters showed it
    for earlier, later in (("a", "b"), ("b", "c")):
        baked, started = seen.first(earlier, "baked"), seen.first(later, "promoting")
        assert baked is not None and started is not None and baked < started, seen.seen
    # the table: target, wave, every step with its time
    assert "a (wave w1)" in out and "gate PASS" in out and "promote PASS" in out and "bake PASS" in out
    assert "| Target | Wave | Gate | Promote | Bake | Verdict | Rollback | Started | Why |" in rig.summary
    assert "```mermaid\ngantt" in rig.summary and "section c" in rig.summary and "bake :c-bake" in rig.summary
    # one message for the whole fleet, naming every target
    assert len(hook.received) == 1
    message = hook.received[0].json
    assert message["event"] == "promoted" and message["verdict"] == "PASS"
    assert [r.split(" ")[0] for r in message["reasons"][1:]] == ["a", "b", "c"]
    # the same command again: nothing to do, nothing written, no message
    before = {n: generation(rig, n) for n in rig.members}
    code, out, outputs = promote(rig, hook)
    assert code == 0 and "nothing to do" in out, out
    assert {n: generation(rig, n) for n in rig.members} == before
    assert len(hook.received) == 1
    # status: image, LKG, locks, record of every target
    code, out, _ = rig.hotfix("fleet", "status")
    assert code == 0, out
    for name in ("a", "b", "c"):
        assert f"{name} (wave" in out
    assert out.count(NEW) >= 3 and "hotfix-fleet-web: free" in out and RUN in out


def test_a_regression_only_in_wave_2_rolls_back_waves_1_and_2(rig: Rig, hook: Receiver) -> None:
    """b's primary fails on NEW once it takes all the traffic (its canary looked fine): the bake catches it."""
    rig.members["b"].errors[("web", NEW)] = 0.3
    c_before = rig.members["c"].deployment()
    code, out, outputs = promote(rig, hook)
    assert code == 1, out
    assert outputs["verdict"] == "FAIL" and outputs["rolled-back-targets"] == "a b"
    for name in ("a", "b"):
        member = rig.members[name]
        assert member.image() == GOOD, name
        lkg = member.lkg()
        assert lkg is not None and lkg.image == GOOD and lkg.source == "rollback", name
        record = member.record()
        assert record is not None and record.phase is Phase.ROLLED_BACK, name
    assert rig.members["b"].record().reason.startswith("rolled back")  # type: ignore[union-attr]
    # wave 3 never changed: the same object, no fleet record, still its LKG
    c_after = rig.members["c"].deployment()
    assert c_after["metadata"]["resourceVersion"] == c_before["metadata"]["resourceVersion"]
    assert rig.members["c"].record() is None and rig.members["c"].image() == GOOD
    assert "guardrail error rate" in out and "b (wave w2)" in out and "not reached; runs web=" in out
    # one message: the failure, every target, the rollback result of each
    assert len(hook.received) == 1
    message = hook.received[0].json
    assert message["event"] == "failed" and message["verdict"] == "FAIL"
    text = json.dumps(message["reasons"])
    assert "a (wave w1): PASS; rollback PASS: rolled back" in text and "b (wave w2): FAIL" in text
    assert "c (wave w3): PASS (not reached" in text
    # post-mortem events: every step of every target, in time order
    events = outputs["postmortem-events"].splitlines()
    assert any("b (wave w2): bake FAIL" in e for e in events) and any("a (wave w1): rollback PASS" in e for e in events)
    assert events == sorted(events)
    # the same command again: the run failed and is rolled back, nothing moves
    code, out, _ = promote(rig, hook)
    assert code == 1 and "failed and every target it touched is rolled back" in out, out
    assert rig.images() == {"a": GOOD, "b": GOOD, "c": GOOD}
    assert len(hook.received) == 1


def test_a_regression_the_gate_sees_never_reaches_wave_2s_primary(rig: Rig) -> None:
    rig.members["b"].errors[("*", NEW)] = 0.3  # the canary shows it too
    revision = rig.members["b"].deployment()["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
    code, out, outputs = promote(rig)
    assert code == 1, out
    assert "gate FAIL" in out
    b = rig.members["b"]
    assert b.image() == GOOD
    assert b.deployment()["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == revision
    assert b.kube.get("apps/v1", "deployments", b.namespace, "web-canary")["spec"]["replicas"] == 0
    assert rig.members["a"].image() == GOOD and rig.members["a"].record().phase is Phase.ROLLED_BACK  # type: ignore[union-attr]
    assert rig.members["c"].record() is None and rig.members["c"].image() == GOOD
    # b's rollback went to its LKG, which it never left: verified and unchanged
    assert "b (wave w2)" in out and "unchanged, already on" in out


def test_a_cluster_cut_off_before_the_run_moves_nothing(rig: Rig) -> None:
    proxy = rig.members["b"].proxy
    assert proxy is not None
    proxy.down()
    code, out, outputs = promote(rig)
    assert code == 3, out
    assert "b (wave w2)" in out and "unreachable" in out
    assert outputs["verdict"] == "ERROR"
    for name in ("a", "c"):
        assert rig.members[name].record() is None and rig.members[name].image() == GOOD


def test_a_cluster_cut_off_between_waves_stops_there_and_a_rerun_goes_on(rig: Rig) -> None:
    proxy = rig.members["b"].proxy
    assert proxy is not None
    with Timeline(rig) as seen:

        def cut() -> None:
            seen.wait_for("a", "promoted")
            proxy.down()

        cutter = threading.Thread(target=cut, daemon=True)
        cutter.start()
        code, out, _ = promote(rig)
        cutter.join(timeout=5)
    assert code == 3, out
    assert "b" in out and "unreachable" in out and "the run stopped, nothing else moves" in out
    a = rig.members["a"].record()
    assert a is not None and a.phase is Phase.BAKED and rig.members["a"].image() == NEW, out  # not rolled back
    assert rig.members["c"].record() is None and rig.members["c"].image() == GOOD
    proxy.up()
    assert rig.members["b"].record() is None and rig.members["b"].image() == GOOD
    code, out, _ = promote(rig)
    assert code == 0, out
    assert "a (wave w1)" in out and "baked earlier in this run" in out
    assert rig.images() == {"a": NEW, "b": NEW, "c": NEW}
    assert all(m.record().phase is Phase.BAKED for m in rig.members.values())  # type: ignore[union-attr]


def test_dry_run_reads_and_writes_nothing(rig: Rig) -> None:
    before = {n: generation(rig, n) for n in rig.members}
    code, out, _ = promote(rig, None, "--dry-run")
    assert code == 0, out
    assert "dry run: would gate and promote a (wave w1)" in out
    assert {n: generation(rig, n) for n in rig.members} == before
