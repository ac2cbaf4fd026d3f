"""`hotfix fleet promote` as a real process: killed by SIGKILL (by its pid) in the middle of wave 2 and run again,
and two runs at once. The order of events is read from the clusters while it happens (Timeline)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from hotfix_actions.decide.fleet import Phase, fleet_id
from tests.fleet.rig import GOOD, NEW, NEWER, VERSION, Rig, Seen, Timeline

RUN = fleet_id(VERSION, NEW)
RUN2 = fleet_id("1.2.0", NEWER)


def spawn(rig: Rig, version: str, image: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    return rig.spawn("fleet", "promote", "--version", version, "--image", image, *extra, log=log)


def finish(proc: subprocess.Popen[bytes], timeout: float = 180) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        raise


def in_wave_order(seen: list[Seen], run: str, waves: list[list[str]]) -> None:
    """Every target of a wave started (promoting) only after every target of the wave before was baked."""
    for earlier, later in itertools.pairwise(waves):
        baked = [
            next((s.at for s in seen if s.target == t and s.run == run and s.phase == "baked"), None) for t in earlier
        ]
        started = [s.at for s in seen if s.target in later and s.run == run and s.phase == "promoting"]
        assert all(b is not None for b in baked), (earlier, seen)
        assert all(at > max(b for b in baked if b is not None) for at in started), (later, seen)


@pytest.mark.parametrize("kill_at", ["promoting", "promoted"])  # b in its gate or promote / b baking
def test_killed_during_wave_2_a_rerun_finishes_correctly(rig: Rig, tmp_path: Path, kill_at: str) -> None:
    log = tmp_path / "first.log"
    with Timeline(rig) as seen:
        proc = spawn(rig, VERSION, NEW, log)
        try:
            seen.wait_for("b", kill_at, timeout=90)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        time.sleep(0.3)
        killed_at = time.monotonic()
        assert rig.members["a"].record().phase is Phase.BAKED  # type: ignore[union-attr]
        assert rig.members["b"].record().phase in (Phase.PROMOTING, Phase.PROMOTED)  # type: ignore[union-attr]
        assert rig.members["c"].record() is None and rig.members["c"].image() == GOOD
        code, out, outputs = rig.hotfix("fleet", "promote", "--version", VERSION, "--image", NEW)
    assert code == 0, log.read_text() + out
    assert rig.images() == {"a": NEW, "b": NEW, "c": NEW}
    assert all(m.record().phase is Phase.BAKED for m in rig.members.values())  # type: ignore[union-attr]
    assert all(m.lkg().image == NEW for m in rig.members.values())  # type: ignore[union-attr]
    # the rerun went on from wave 2 (a untouched), waited for the dead run's lock, and baked b before c
    assert "a (wave w1)" in out and "baked earlier in this run" in out
    in_wave_order(seen.seen, RUN, [["a"], ["b"], ["c"]])
    a_writes = [s for s in seen.seen if s.target == "a" and s.at > killed_at]
    assert not a_writes, a_writes
    assert "locked by root@" in out and f":{proc.pid}" in out, out  # it waited for the dead run's fleet Lease


def test_two_runs_started_together_never_interleave(rig: Rig, tmp_path: Path) -> None:
    """Both start at once; one holds the fleet Lease of every target, the other gives up naming the holder."""
    with Timeline(rig) as seen:
        first = spawn(rig, VERSION, NEW, tmp_path / "1.log", "--lock-timeout", "3s")
        second = spawn(rig, "1.2.0", NEWER, tmp_path / "2.log", "--lock-timeout", "3s")
        codes = sorted([finish(first), finish(second)])
    logs = (tmp_path / "1.log").read_text() + (tmp_path / "2.log").read_text()
    assert codes == [0, 4], logs
    winner = RUN if first.returncode == 0 else RUN2
    image = NEW if winner == RUN else NEWER
    loser_log = (tmp_path / ("2.log" if winner == RUN else "1.log")).read_text()
    assert "the fleet lock of a is locked by" in loser_log, loser_log
    runs = {s.run for s in seen.seen if s.run}
    assert runs == {winner}, seen.seen
    assert set(rig.images().values()) == {image}


def test_a_second_run_waits_and_starts_only_after_the_first_is_done(rig: Rig, tmp_path: Path) -> None:
    """A second hotfix started while the first bakes wave 1 waits for the fleet Lease; it starts after the first run's
    last write, never between two of its waves."""
    with Timeline(rig) as seen:
        first = spawn(rig, VERSION, NEW, tmp_path / "1.log")
        seen.wait_for("a", "promoted", timeout=90)
        second = spawn(rig, "1.2.0", NEWER, tmp_path / "2.log", "--lock-timeout", "3m")
        codes = [finish(first), finish(second)]
    logs = (tmp_path / "1.log").read_text() + (tmp_path / "2.log").read_text()
    assert codes == [0, 0], logs
    mine = [s for s in seen.seen if s.run == RUN]
    theirs = [s for s in seen.seen if s.run == RUN2]
    assert mine and theirs
    assert max(s.at for s in mine) < min(s.at for s in theirs), seen.seen
    in_wave_order(seen.seen, RUN2, [["a"], ["b"], ["c"]])
    assert rig.images() == {"a": NEWER, "b": NEWER, "c": NEWER}
    assert "waiting up to" in (tmp_path / "2.log").read_text()


def test_sigterm_during_wave_2_stops_cleanly_and_a_rerun_finishes(rig: Rig, tmp_path: Path) -> None:
    """A cancelled job: SIGTERM while b's gate runs. The gate stops at its next look, b's canary is scaled to
    zero, the fleet Leases are released (the rerun does not wait for them), one line says so, exit 143."""
    log = tmp_path / "first.log"
    with Timeline(rig) as seen:
        proc = spawn(rig, VERSION, NEW, log)
        seen.wait_for("b", "promoting", timeout=90)
        time.sleep(1.0)  # inside b's gate
        os.kill(proc.pid, signal.SIGTERM)
        code = finish(proc, timeout=30)
        text = log.read_text()
        assert code == 143, text
        assert "interrupted by SIGTERM" in text and "rerun the same command" in text, text
        b = rig.members["b"]
        assert b.image() == GOOD and b.record().phase is Phase.PROMOTING  # type: ignore[union-attr]
        assert b.kube.get("apps/v1", "deployments", b.namespace, "web-canary")["spec"]["replicas"] == 0
        assert rig.members["c"].record() is None
        began = time.monotonic()
        code, out, _ = rig.hotfix("fleet", "promote", "--version", VERSION, "--image", NEW)
    assert code == 0, out
    assert "locked by" not in out, out  # the leases were given back on the way out
    assert rig.images() == {"a": NEW, "b": NEW, "c": NEW}
    in_wave_order(seen.seen, RUN, [["a"], ["b"], ["c"]])
    assert time.monotonic() - began < 120
