"""`hotfix fleet rollback` and `hotfix fleet status` on three sandboxes: every target at once, idempotent, each by
the rollback service; a target cut off is named and the others still go back."""

from __future__ import annotations

import time

from hotfix_actions.decide.fleet import Phase
from tests.fleet.rig import GOOD, NEW, VERSION, Rig
from tests.notify.receiver import Receiver


def promote_fast(rig: Rig) -> None:
    """The whole fleet on NEW with no gate and no bake (the rollback is what is under test here)."""
    rig.write_config(bake="0s", canary=False)
    code, out, _ = rig.hotfix("fleet", "promote", "--version", VERSION, "--image", NEW)
    assert code == 0, out
    assert rig.images() == {"a": NEW, "b": NEW, "c": NEW}


def test_rollback_to_previous_lkg_brings_every_target_back_once(rig: Rig) -> None:
    promote_fast(rig)
    # to the LKG: the promoted release is the LKG: verified, nothing changes
    code, out, outputs = rig.hotfix("fleet", "rollback")
    assert code == 0, out
    assert outputs["rolled-back"] == "false" and rig.images() == {"a": NEW, "b": NEW, "c": NEW}
    rows = [line for line in out.splitlines() if line.strip().startswith(("a (wave", "b (wave", "c (wave"))]
    assert len(rows) == 3 and all("unchanged, already on" in row for row in rows), out
    receiver = Receiver().start()
    try:
        env = {"HOTFIX_WEBHOOK_URL": receiver.url()}
        began = time.monotonic()
        code, out, outputs = rig.hotfix("fleet", "rollback", "--to", "previous-lkg", "--reason", "INC-7", **env)
        took = time.monotonic() - began
        assert code == 0, out
        assert outputs["rolled-back-targets"] == "a b c"
        assert rig.images() == {"a": GOOD, "b": GOOD, "c": GOOD}
        for name, member in rig.members.items():
            lkg = member.lkg()
            assert lkg is not None and lkg.image == GOOD and lkg.source == "rollback", name
            assert member.record().phase is Phase.ROLLED_BACK  # type: ignore[union-attr]
            assert "INC-7" in member.deployment()["metadata"]["annotations"]["kubernetes.io/change-cause"]
        assert len(receiver.received) == 1 and receiver.received[0].json["event"] == "rolled_back"
        assert [r.split(" ")[0] for r in receiver.received[0].json["reasons"]] == ["a", "b", "c"]
        # again: idempotent, nothing changes, no message
        code, out, outputs = rig.hotfix("fleet", "rollback", "--to", "previous-lkg", **env)
        assert code == 0 and outputs["rolled-back"] == "false", out
        assert rig.images() == {"a": GOOD, "b": GOOD, "c": GOOD}
        assert len(receiver.received) == 1
    finally:
        receiver.stop()
    assert took < 30


def test_rollback_of_one_run_leaves_other_targets_alone(rig: Rig) -> None:
    """--to before-run with the run's version and image: only the targets that run touched."""
    rig.write_config(waves=(("a",), ("b", "c")), bake="0s", canary=False)
    code, out, _ = rig.hotfix("fleet", "promote", "--version", VERSION, "--image", NEW, "--target", "a")
    assert code == 0, out
    assert rig.images() == {"a": NEW, "b": GOOD, "c": GOOD}
    before = {n: m.deployment()["metadata"]["resourceVersion"] for n, m in rig.members.items()}
    args = ("fleet", "rollback", "--to", "before-run", "--version", VERSION, "--image", NEW)
    code, out, outputs = rig.hotfix(*args)
    assert code == 0, out
    assert outputs["rolled-back-targets"] == "a" and rig.images() == {"a": GOOD, "b": GOOD, "c": GOOD}
    for name in ("b", "c"):
        assert rig.members[name].deployment()["metadata"]["resourceVersion"] == before[name]
    rows = [line for line in out.splitlines() if line.strip().startswith(("b (wave", "c (wave"))]
    assert len(rows) == 2 and all("left alone" in row for row in rows), out


def test_a_target_cut_off_is_named_and_the_others_go_back(rig: Rig) -> None:
    promote_fast(rig)
    proxy = rig.members["b"].proxy
    assert proxy is not None
    proxy.down()
    code, out, outputs = rig.hotfix("fleet", "rollback", "--to", "previous-lkg")
    assert code == 3, out
    assert "b (wave w2)" in out and "unreachable" in out
    assert outputs["rolled-back-targets"] == "a c"
    assert rig.members["a"].image() == GOOD and rig.members["c"].image() == GOOD
    proxy.up()
    assert rig.members["b"].image() == NEW
    code, out, outputs = rig.hotfix("fleet", "rollback", "--to", "previous-lkg")
    assert code == 0, out
    assert outputs["rolled-back-targets"] == "b"  # a and c: verified, unchanged
    assert rig.images() == {"a": GOOD, "b": GOOD, "c": GOOD}


def test_status_lists_image_lkg_record_and_locks(rig: Rig) -> None:
    promote_fast(rig)
    code, out, _ = rig.hotfix("fleet", "status")
    assert code == 0, out
    for name in ("a", "b", "c"):
        line = next(line for line in out.splitlines() if line.strip().startswith(f"{name} (wave"))
        assert f"image web={NEW}" in line and "LKG revision 2" in line and "baked" in line, line
        assert "hotfix-fleet-web: free" in line and "hotfix-lock-web: free" in line, line
    assert "| Target | Wave | Image | Rollout | LKG | Fleet run | Locks |" in rig.summary
