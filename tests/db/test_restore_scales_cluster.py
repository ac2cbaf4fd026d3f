"""`hotfix db restore --scale-deployment`: the application is scaled to zero in the (sandbox) cluster during the
restore and back afterwards, through the real Kubernetes client."""

from __future__ import annotations

from pathlib import Path

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.sandbox.stack import StackSettings, deployment_manifest
from tests.db.conftest import AppDb, run_json


def test_restore_scales_the_deployment_down_and_back(appdb: AppDb, tmp_path: Path) -> None:
    code, out, result = run_json(["db", "backup"], appdb.env())
    assert code == 0, result.output
    name = str(out["outputs"]["backup"])  # type: ignore[index]
    with Sandbox.start(ready_delay=0.1, kubeconfig_path=str(tmp_path / "kubeconfig")) as sb:
        sb.apply(deployment_manifest(StackSettings(namespace="default", deployment="web", container="web", replicas=3)))
        sb.wait_rollout("default", "web", timeout=10)
        env = {**appdb.env(), "KUBECONFIG": str(tmp_path / "kubeconfig")}
        code, out, result = run_json(["db", "restore", name, "--scale-deployment", "web", "-n", "default"], env)
        assert code == 0, result.output
        checks = [c["check"] for c in out["checks"]]  # type: ignore[union-attr]
        assert checks.index("scale down") < checks.index("restore") < checks.index("scale up")
        assert sb.get("apps/v1", "deployments", "default", "web")["spec"]["replicas"] == 3  # back where it was
        events = sb.list("v1", "events", "default")
        assert any("to 0" in str(e.get("message", "")) for e in events), [e.get("message") for e in events]
