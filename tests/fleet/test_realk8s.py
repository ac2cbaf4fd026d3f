"""The fleet across backends at once: target a is a namespace of the real control plane (kube-apiserver, etcd,
controller-manager, scheduler, kwok), reached with the tool's least-privilege service account; b and c are
sandboxes. One real control plane and two sandboxes keep the 2-core machine responsive."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from hotfix_actions.decide.fleet import Phase
from tests.clusters import real_control_plane  # noqa: F401 - the session fixture
from tests.fleet.rig import GOOD, NEW, VERSION, Rig, real_member, sandbox_member, seed
from tests.realk8s.controlplane import ControlPlane


@pytest.fixture
def mixed(tmp_path: Path, real_control_plane: ControlPlane) -> Iterator[Rig]:  # noqa: F811
    with ExitStack() as stack:
        members = {"a": stack.enter_context(real_member("a", real_control_plane, tmp_path))}
        for name in ("b", "c"):
            members[name] = stack.enter_context(sandbox_member(name, tmp_path))
        for member in members.values():
            seed(member, tmp_path)
        rig = Rig(tmp_path, members)
        rig.write_config()
        yield rig


def test_real_cluster_in_wave_1_is_rolled_back_when_wave_2_fails(mixed: Rig) -> None:
    assert mixed.members["a"].kube.kind == "real" and mixed.members["b"].kube.kind == "sandbox"
    mixed.members["b"].errors[("web", NEW)] = 0.3  # the regression shows only in wave 2, after its promote
    code, out, outputs = mixed.hotfix("fleet", "promote", "--version", VERSION, "--image", NEW)
    assert code == 1, out
    assert outputs["rolled-back-targets"] == "a b"
    a = mixed.members["a"]
    assert a.image() == GOOD
    lkg = a.lkg()
    assert lkg is not None and lkg.image == GOOD and lkg.source == "rollback"
    assert a.record().phase is Phase.ROLLED_BACK  # type: ignore[union-attr]
    # on the real cluster the rollout really finished on GOOD (kwok pods of the restored template are Ready)
    assert a.kube.rollout_complete(a.namespace, "web")
    assert mixed.members["c"].record() is None and mixed.members["c"].image() == GOOD
    # the status of the three clusters, the real one through the least-privilege account
    code, out, _ = mixed.hotfix("fleet", "status")
    assert code == 0, out
    assert "rolled-back" in out and f"image web={GOOD}" in out
