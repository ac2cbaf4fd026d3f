"""`hotfix sandbox up|down|status`: a detached server process, idempotent, with snapshots across restarts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from click.testing import CliRunner

from hotfix_actions.cli import cli
from hotfix_actions.sandbox import Sandbox, daemon
from tests.sandbox.helpers import deployment, service


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    state = tmp_path / "state"
    yield state
    daemon.stop(state, timeout=5)  # never leave a server behind


def _run(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(cli, ["sandbox", *args, "--json"], catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def test_up_status_down_are_idempotent_and_keep_state(state_dir: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(yaml.safe_dump_all([deployment(replicas=1), service()]))
    code, up = _run("up", "--state-dir", str(state_dir), "--ready-delay", "0.1", "--manifest", str(manifest))
    assert code == 0 and up["verdict"] == "PASS"
    outputs = up["outputs"]
    assert isinstance(outputs, dict)
    url, kubeconfig = str(outputs["url"]), Path(str(outputs["kubeconfig"]))
    assert url.startswith("http://127.0.0.1:") and kubeconfig == state_dir.resolve() / "kubeconfig"
    assert oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == url
    assert httpx.get(f"{url}/apis/apps/v1/namespaces/default/deployments/web", timeout=5).status_code == 200

    code, again = _run("up", "--state-dir", str(state_dir))
    assert code == 0 and "already up" in str(again["reasons"])
    assert again["outputs"] == outputs

    code, status = _run("status", "--state-dir", str(state_dir))
    assert code == 0 and status["outputs"]["running"] == "true"  # type: ignore[index]
    assert "1 deployments" in str(status["outputs"]["objects"])  # type: ignore[index]

    httpx.post(f"{url}/_sandbox/apply", json={"objects": [service("db")]}, timeout=5)
    code, down = _run("down", "--state-dir", str(state_dir))
    assert code == 0 and "stopped pid" in str(down["reasons"])
    snapshot = json.loads((state_dir / "snapshot.json").read_text())
    assert {o["metadata"]["name"] for o in snapshot["objects"] if o["kind"] == "Service"} == {"web", "db"}
    assert not (state_dir / "server.json").exists()

    code, down_again = _run("down", "--state-dir", str(state_dir))
    assert code == 0 and down_again["reasons"] == ["the sandbox is not running"]
    code, status = _run("status", "--state-dir", str(state_dir))
    assert code == 0 and status["outputs"] == {"running": "false"}

    code, up = _run("up", "--state-dir", str(state_dir))  # the snapshot comes back
    assert code == 0
    new_url = str(up["outputs"]["url"])  # type: ignore[index]
    names = httpx.get(f"{new_url}/api/v1/namespaces/default/services", timeout=5).json()["items"]
    assert {s["metadata"]["name"] for s in names} == {"web", "db"}


def test_state_dir_from_the_environment_and_bad_input(state_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTFIX_SANDBOX_DIR", str(state_dir))
    code, bad = _run("up", "--crash-images", "(unclosed")
    assert code == 2 and "--crash-images" in str(bad["reasons"])
    assert not state_dir.exists()  # refused before any side effect
    code, up = _run("up", "--ready-delay", "0.1")
    assert code == 0 and str(up["outputs"]["state_dir"]) == str(state_dir.resolve())  # type: ignore[index]
    info = daemon.read_info(state_dir.resolve())
    assert info is not None and os.path.exists(f"/proc/{info.pid}")


def test_a_manifest_that_cannot_load_fails_loudly(state_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(dict(deployment(), kind="Widget")))
    result = CliRunner().invoke(cli, ["sandbox", "up", "--state-dir", str(state_dir), "--manifest", str(bad)])
    assert result.exit_code == 3
    assert "cannot load manifest" in result.output


def test_snapshot_round_trip_in_process(tmp_path: Path) -> None:
    snap = tmp_path / "snap.json"
    with Sandbox.start(ready_delay=0.05, snapshot=snap) as sb:
        sb.apply(deployment(replicas=2))
        sb.wait_rollout("default", "web")
        rv = sb.store.resource_version
    with Sandbox.start(ready_delay=0.05, snapshot=snap) as sb:
        d = sb.get("apps/v1", "deployments", "default", "web")
        assert d is not None and d["status"]["availableReplicas"] == 2
        assert sb.store.resource_version >= rv
        assert len(sb.list("v1", "pods", "default")) == 2
        sb.apply(deployment(replicas=3))
        sb.wait_rollout("default", "web")
        assert int(sb.get("apps/v1", "deployments", "default", "web")["metadata"]["resourceVersion"]) > rv  # type: ignore[index]
