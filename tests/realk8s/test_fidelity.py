"""Differential fidelity: the same scripted sequence on the sandbox and on the real control plane must look the
same to a client (tests/realk8s/fidelity.py says what is compared). A difference fails with both sides shown;
the ones that stay on purpose are in fidelity.KNOWN, each with its reason in docs/sandbox-fidelity.md."""

from __future__ import annotations

import json
from pathlib import Path

from tests.clusters import RealCluster, SandboxCluster
from tests.kube.kubefix import start_sandbox
from tests.realk8s.controlplane import ControlPlane
from tests.realk8s.fidelity import KNOWN, Observation, run_scenario

DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox-fidelity.md"


def _differences(sandbox: list[Observation], real: list[Observation]) -> list[str]:
    out = []
    assert [o.step for o in sandbox] == [o.step for o in real]
    for s, r in zip(sandbox, real, strict=True):
        for key in sorted(set(s.facts) | set(r.facts)):
            if (s.step, key) in KNOWN:
                continue
            if s.facts.get(key) != r.facts.get(key):
                out.append(f"{s.step} / {key}:\n  sandbox: {s.facts.get(key)!r}\n  real:    {r.facts.get(key)!r}")
    return out


def test_sandbox_and_real_control_plane_look_the_same(real_control_plane: ControlPlane, tmp_path: Path) -> None:
    with start_sandbox(ready_delay=0.15, crash_after=1.0, crash_period=1.0, tick=0.05) as sb:
        on_sandbox = run_scenario(SandboxCluster(sb), tmp_path / "sandbox")
    real = RealCluster(real_control_plane, "t-fidelity", tmp_path)
    try:
        on_real = run_scenario(real, tmp_path / "real")
    finally:
        real.cleanup()
    (tmp_path / "observations.json").write_text(
        json.dumps({"sandbox": [o.__dict__ for o in on_sandbox], "real": [o.__dict__ for o in on_real]}, indent=1)
    )
    differences = _differences(on_sandbox, on_real)
    assert not differences, "the sandbox differs from the real control plane:\n" + "\n".join(differences)


def test_every_known_difference_is_explained_in_the_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    for (step, key), reason in KNOWN.items():
        assert reason, (step, key)
        assert f"`{step}` / `{key}`" in text, f"docs/sandbox-fidelity.md does not explain {step} / {key}"
