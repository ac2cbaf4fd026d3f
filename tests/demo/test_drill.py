"""`hotfix drill`: the gate must catch a failing canary and the rollback must restore the last-known-good."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.sandbox.prometheus_runner import find_binary
from hotfix_actions.sandbox.stack import LocalStack, StackSettings, deployment_manifest
from tests.clusters import RealCluster
from tests.realk8s.controlplane import ControlPlane


def _hotfix(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    proc = subprocess.run(
        [sys.executable, "-m", "hotfix_actions", *args, "--json"],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.prometheus
def test_sandbox_drill_detects_and_restores() -> None:
    find_binary()
    code, doc = _hotfix("drill", "--sandbox")
    assert code == 0, doc
    rows = {c["check"]: c["result"] for c in doc["checks"]}  # type: ignore[union-attr]
    assert rows == {
        "before": "pass",
        "detect": "pass",
        "canary rolled back": "pass",
        "break": "pass",
        "restore": "pass",
    }
    assert float(doc["outputs"]["time-to-detect"]) > 0  # type: ignore[index]
    assert float(doc["outputs"]["time-to-restore"]) > 0  # type: ignore[index]


def test_drill_refuses_a_target_without_a_last_known_good(tmp_path: Path) -> None:
    with Sandbox.start(ready_delay=0.1, kubeconfig_path=str(tmp_path / "kubeconfig")) as sb:
        settings = StackSettings(namespace="default", deployment="web", container="web")
        sb.apply(deployment_manifest(settings))
        before = sb.get("apps/v1", "deployments", "default", "web")
        code, doc = _hotfix(
            "drill",
            "-d",
            "web",
            "--bad-image",
            "ghcr.io/acme/web:bad",
            "-n",
            "default",
            env={"KUBECONFIG": str(tmp_path / "kubeconfig")},
        )
        assert code == 1
        assert "no last-known-good record" in doc["reasons"][0]  # type: ignore[index]
        assert "hotfix promote -d web" in doc["reasons"][0]  # type: ignore[index]
        after = sb.get("apps/v1", "deployments", "default", "web")
        assert after["metadata"]["generation"] == before["metadata"]["generation"]  # nothing touched
        assert after["spec"]["template"] == before["spec"]["template"]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ([], "a drill needs a target"),
        (["-d", "web", "--bad-image", "x:$(id)"], "--bad-image"),
        (["-d", "Web_1", "--bad-image", "x:1"], "--deployment"),
    ],
)
def test_drill_bad_input_is_a_usage_error(args: list[str], text: str) -> None:
    code, doc = _hotfix("drill", *args, env={"KUBECONFIG": "/nonexistent"})
    assert code == 2
    assert text in doc["reasons"][0]  # type: ignore[index]


@pytest.mark.prometheus
def test_staging_drill_on_the_real_control_plane(real_control_plane: ControlPlane, tmp_path: Path) -> None:
    """The drill against a real cluster as a user runs it on staging: a least-privilege kubeconfig, the sample apps
    and the real Prometheus; the failing canary must be caught and the emergency rollback must restore the LKG."""
    find_binary()
    real = RealCluster(real_control_plane, f"staging-{secrets.token_hex(3)}", tmp_path)
    settings = StackSettings(namespace=real.namespace, deployment="shop", container="shop", replicas=2)
    try:
        with LocalStack.start(tmp_path / "stack", settings, cluster=real) as stack:
            env = stack.env()
            code, doc = _hotfix(
                "promote", "-d", "shop", "--image", "ghcr.io/acme/shop:1.4.2", "--settle", "2s", env=env
            )
            assert code == 0, doc
            code, doc = _hotfix("drill", "-d", "shop", "--bad-image", "ghcr.io/acme/shop:1.4.3-rc1", env=env)
            assert code == 0, json.dumps(doc, indent=1)
            rows = {c["check"]: c["result"] for c in doc["checks"]}  # type: ignore[union-attr]
            assert rows["detect"] == "pass" and rows["restore"] == "pass", doc
            assert stack.image_of("shop") == "ghcr.io/acme/shop:1.4.2"  # the last-known-good, checked on the cluster
            assert stack.ready_replicas_of("shop-canary") == 0
    finally:
        real.cleanup()
