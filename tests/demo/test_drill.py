"""`hotfix drill`: the gate must catch a failing canary and the rollback must restore the last-known-good."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.sandbox.prometheus_runner import find_binary
from hotfix_actions.sandbox.stack import StackSettings, deployment_manifest


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
