"""The demo on a local stack: the bad hotfix is caught and never reaches production; the good one ships."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotfix_actions.sandbox.prometheus_runner import find_binary
from hotfix_actions.sandbox.stack import LocalStack
from hotfix_actions.services import demo
from tests.gitrepos import contains, git

pytestmark = pytest.mark.prometheus


def test_demo_pipeline_catches_the_bad_hotfix_and_ships_the_good_one(tmp_path: Path) -> None:
    find_binary()  # the demo's canary gate reads the real Prometheus
    lines: list[str] = []
    with LocalStack.start(tmp_path / "stack") as stack:
        outcome, result = demo.run(
            tmp_path, base_env=os.environ, stack_env=stack.env(), prometheus_url=stack.prometheus_url, say=lines.append
        )
        # cluster state, not log text: production runs the good image and records it as the last-known-good
        assert stack.image_of("shop") == "ghcr.io/acme/shop:1.4.3"
        assert stack.ready_replicas_of("shop-canary") == 0
        deployment = stack.sandbox.get("apps/v1", "deployments", "shop", "shop")  # type: ignore[union-attr]
        annotations = deployment["metadata"]["annotations"]
        lkg = next(v for k, v in annotations.items() if "last-known-good" in k)
        assert "ghcr.io/acme/shop:1.4.3" in lkg
        assert "1.4.3-rc1" not in lkg
    assert all("\n" not in line for line in lines)  # one line per call: the reporter would escape a newline
    steps = {s.name: s for s in result.steps}
    bad = steps["Canary 1.4.3-rc1 (bad)"]
    assert bad.code == 1
    assert any("errors" in r for r in bad.reasons)
    assert steps["Canary 1.4.3 (good)"].code == 0
    assert result.detect_and_rollback_seconds is not None and result.detect_and_rollback_seconds > 0
    origin = tmp_path / "origin.git"
    assert git(origin, "rev-parse", "v1.4.3^{commit}") == git(origin, "rev-parse", "main")
    hotfix_head = git(tmp_path / "shop", "rev-parse", "HEAD")  # the branch itself is deleted once merged back
    assert contains(origin, hotfix_head, "develop")
    assert contains(origin, hotfix_head, "main")
    assert outcome.verdict.value == "PASS"


def test_demo_command_refuses_without_prometheus_and_cleans_up(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hotfix_actions", "demo", "--no-prometheus", "--json", "--workdir", str(tmp_path / "w")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "apt-get install prometheus" in doc["reasons"][0]
