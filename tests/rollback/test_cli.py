"""The commands through click's CliRunner: exit codes, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, --json, masking."""

from __future__ import annotations

import base64
import json
import socket
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from hotfix_actions.cli import cli
from hotfix_actions.kube import ConnectOptions, connect
from hotfix_actions.sandbox import Sandbox
from tests.conftest import read_outputs
from tests.kube.kubefix import BAD, GOOD, GOOD2, NS, deployment, image_of, service

CONFIG = """\
version: 1
cluster: {api_deadline: 1.5, retries: 3, backoff_initial: 0.01, backoff_max: 0.05, poll_interval: 0.05,
          fail_fast_after: 0.5, request_timeout: 2}
rollback:
  wait_timeout: 20
  lock: {ttl_seconds: 30, timeout_seconds: 1}
  blue_green: {grace_seconds: 0}
promote: {wait_timeout: 20, settle_seconds: 0}
"""


@pytest.fixture
def env(sandbox: Sandbox, tmp_path: Path, gha: dict[str, Path]) -> dict[str, str]:
    config = tmp_path / ".hotfix.yml"
    config.write_text(CONFIG)
    return {"HOTFIX_KUBECONFIG": str(sandbox.kubeconfig_path), "HOTFIX_CONFIG": str(config), "GITHUB_RUN_ID": "4242",
            "GITHUB_REPOSITORY": "acme/shop", "GITHUB_SERVER_URL": "https://github.example"}  # fmt: skip


def hotfix(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def ready(sb: Sandbox, image: str = GOOD, **kwargs: Any) -> None:
    sb.apply(deployment(image=image, **kwargs))
    sb.wait_rollout(NS, "web")


def test_promote_then_rollback_through_the_cli(sandbox: Sandbox, env: dict[str, str], gha: dict[str, Path]) -> None:
    ready(sandbox)
    result = hotfix(["promote", "-d", "web", "--image", GOOD2, "--version", "1.1.0"], env)
    assert result.exit_code == 0, result.output
    out = read_outputs(gha["output"])
    assert out["verdict"] == "PASS" and out["revision"] == "2" and GOOD2 in out["lkg"]
    dep = sandbox.get("apps/v1", "deployments", NS, "web")
    assert dep is not None and "https://github.example/acme/shop/actions/runs/4242" in json.dumps(dep)
    gha["output"].write_text("")
    with connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path))) as kc:  # a bad deploy from elsewhere
        kc.set_images(NS, "web", {"web": BAD}, "kubectl set image")
    result = hotfix(["rollback", "-d", "web", "--reason", "INC-9 errors"], {**env, "HOTFIX_STRATEGY": "undo"})
    assert result.exit_code == 0, result.output
    out = read_outputs(gha["output"])
    assert out["verdict"] == "PASS" and out["rolled-back"] == "true" and out["to-image"] == GOOD2
    assert out["from-image"] == BAD and out["strategy"] == "undo"
    summary = gha["summary"].read_text()
    assert "emergency-rollback default/web" in summary and "| rollout |" in summary
    assert image_of(sandbox) == GOOD2
    gha["output"].write_text("")
    again = hotfix(["rollback", "-d", "web"], env)
    assert again.exit_code == 0 and read_outputs(gha["output"])["rolled-back"] == "false"
    assert "already matches" in again.output


def test_json_mode_prints_one_object(sandbox: Sandbox, env: dict[str, str]) -> None:
    ready(sandbox)
    result = CliRunner().invoke(cli, ["rollback", "-d", "web", "--to-revision", "1", "--json"], env=env)
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["command"] == "rollback" and doc["outputs"]["action"] == "no-op" and doc["exit_code"] == 0


def dead_kubeconfig(tmp_path: Path) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "dead"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}], "users": [{"name": "x", "user": {}}]}))  # fmt: skip
    return str(path)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["rollback", "-d", "web;reboot"], "--deployment: 'web;reboot' is not a DNS-1123"),
        (["rollback", "-d", "web", "-n", "$(curl x)"], "namespace: '$(curl x)' is not a DNS-1123"),
        (["rollback", "-d", "web", "--to-image", "web:1 && rm"], "to-image"),
        (["rollback", "-d", "web", "--container", "Web!"], "container"),
        (["promote", "-d", "web", "--image", "nginx@sha256:xyz"], "image"),
        (["status", "-d", "UPPER"], "is not a DNS-1123"),
        (["rollback", "-d", "web", "--strategy", "blue-green", "--to-color", "green;x"], "to-color"),
    ],
)
def test_bad_input_exits_2_before_any_api_call(args: list[str], text: str, env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "HOTFIX_KUBECONFIG": dead_kubeconfig(tmp_path)}  # any API call would be an exit 3
    result = hotfix(args, env)
    assert result.exit_code == 2, result.output
    assert text in result.output


def test_missing_objects_exit_2_with_the_names(sandbox: Sandbox, env: dict[str, str]) -> None:
    ready(sandbox)
    missing = hotfix(["rollback", "-d", "api"], env)
    assert (
        missing.exit_code == 2
        and 'deployment "api" not found' in missing.output
        and "deployments there: web" in missing.output
    )
    nowhere = hotfix(["rollback", "-d", "web", "-n", "staging"], env)
    assert nowhere.exit_code == 2 and 'namespace "staging" does not exist' in nowhere.output
    container = hotfix(["rollback", "-d", "web", "--to-image", GOOD2, "--container", "api"], env)
    assert container.exit_code == 2 and "no container named api (containers: web)" in container.output


def test_api_down_exits_3_and_never_reports_success(
    sandbox: Sandbox, env: dict[str, str], gha: dict[str, Path]
) -> None:
    ready(sandbox)
    sandbox.faults.fail_next(100_000, 503)
    result = hotfix(["rollback", "-d", "web", "--to-image", GOOD2], env)
    assert result.exit_code == 3
    assert read_outputs(gha["output"])["verdict"] == "ERROR"
    assert "HTTP 503" in result.output and "::error::" in result.output


def test_refused_blue_green_exits_1(sandbox: Sandbox, env: dict[str, str]) -> None:
    ready(sandbox)
    sandbox.apply(service("web", {"app": "web", "color": "blue"}))
    result = hotfix(["rollback", "-d", "web", "--strategy", "blue-green"], env)
    assert result.exit_code == 1 and "no deployment has pods labelled" in result.output


def test_lock_held_exits_4_naming_the_holder(sandbox: Sandbox, env: dict[str, str]) -> None:
    ready(sandbox)
    with connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path))) as kc:
        kc.acquire_lease(NS, "hotfix-lock-web", "github-run-1-1", 60)
    result = hotfix(["rollback", "-d", "web", "--to-revision", "1", "--lock-timeout", "0.2"], env)
    assert result.exit_code == 4 and "github-run-1-1" in result.output


def test_base64_kubeconfig_is_masked_and_removed(sandbox: Sandbox, env: dict[str, str]) -> None:
    ready(sandbox)
    doc = yaml.safe_load(sandbox.kubeconfig_path.read_text())
    doc["users"][0]["user"] = {"token": "tok-very-secret-123"}
    data = base64.b64encode(yaml.safe_dump(doc).encode()).decode()
    env = {k: v for k, v in env.items() if k != "HOTFIX_KUBECONFIG"} | {"HOTFIX_KUBECONFIG_DATA": data}
    before = set(Path(tempfile.gettempdir()).glob("hotfix-kubeconfig-*"))
    result = hotfix(["status", "-d", "web"], env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "::add-mask::tok-very-secret-123" in lines and f"::add-mask::{data}" in lines
    first_other = next(i for i, line in enumerate(lines) if not line.startswith("::add-mask::"))
    assert all(line.startswith("::add-mask::") for line in lines[:first_other])  # masks come first
    assert set(Path(tempfile.gettempdir()).glob("hotfix-kubeconfig-*")) == before


def test_status_and_snapshot(sandbox: Sandbox, env: dict[str, str], gha: dict[str, Path], tmp_path: Path) -> None:
    ready(sandbox)
    assert hotfix(["promote", "-d", "web", "--image", GOOD2], env).exit_code == 0
    gha["output"].write_text("")
    result = hotfix(["status", "-d", "web"], env)
    assert result.exit_code == 0, result.output
    out = read_outputs(gha["output"])
    revisions = json.loads(out["revisions"])
    assert [r["images"]["web"] for r in revisions] == [GOOD, GOOD2]
    assert json.loads(out["lkg"])["images"] == {"web": GOOD2} and out["lock-holder"] == ""
    assert "live, LKG" in result.output and "| Revision |" in gha["summary"].read_text()
    snap = hotfix(["snapshot"], {**env, "GITHUB_ACTIONS": ""})
    assert snap.exit_code == 0
    doc = yaml.safe_load(snap.stdout)
    kinds = [i["kind"] for i in doc["items"]]
    assert (_live_pods(doc["items"]), kinds.count("Deployment"), kinds.count("ReplicaSet")) == (2, 1, 2)
    assert doc["metadata"]["hotfix-actions"]["lkg"]["web"]["current"]["images"] == {"web": GOOD2}
    target = tmp_path / "snap.yaml"
    one = hotfix(["snapshot", "-d", "web", "-o", str(target)], env)
    assert one.exit_code == 0 and read_outputs(gha["output"])["snapshot"] == str(target)
    items = yaml.safe_load(target.read_text())["items"]
    kinds = [i["kind"] for i in items]
    assert kinds.count("Deployment") == 1 and _live_pods(items) == 2 and kinds.count("ReplicaSet") == 2


def _live_pods(items: list[dict[str, Any]]) -> int:
    """The snapshot's pods that are not Terminating, all of the promoted image; the old release's pods may still be
    Terminating (for their grace period) when the snapshot is taken, and then they are in it, marked so."""
    pods = [i for i in items if i["kind"] == "Pod"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    assert all(p["spec"]["containers"][0]["image"] == GOOD2 for p in live), live
    assert all(p["spec"]["containers"][0]["image"] == GOOD for p in pods if p not in live)
    return len(live)


def test_free_text_cannot_start_a_workflow_command(sandbox: Sandbox, env: dict[str, str], gha: dict[str, Path]) -> None:
    ready(sandbox)
    hostile = "INC-1\n::add-mask::everything\n::error::pwned"
    result = hotfix(["promote", "-d", "web", "--image", GOOD2, "--change-cause", hostile, "--version", "1\n::x::"], env)
    assert result.exit_code == 0, result.output
    assert not any(
        line.startswith(("::add-mask::everything", "::error::pwned", "::x::")) for line in result.output.splitlines()
    )
    dep = sandbox.get("apps/v1", "deployments", NS, "web")
    assert dep is not None and dep["metadata"]["annotations"]["kubernetes.io/change-cause"] == (
        "INC-1 ::add-mask::everything ::error::pwned"
    )


def test_the_reasons_that_fail_at_once_are_configurable(sandbox: Sandbox, env: dict[str, str], tmp_path: Path) -> None:
    ready(sandbox)
    nopull = ["rollback", "-d", "web", "--to-image", "registry.example/web:nopull", "--fail-fast-after", "300"]
    at_once = hotfix([*nopull, "--json"], env)
    doc = json.loads(at_once.stdout)
    assert at_once.exit_code == 1 and doc["outputs"]["rollout"] == "failed", at_once.output
    assert doc["outputs"]["blocking-reason"] == "ImagePullBackOff"
    config = tmp_path / "patient.yml"
    config.write_text(CONFIG.replace("request_timeout: 2}", "request_timeout: 2, fail_at_once: [CrashLoopBackOff]}"))
    patient = hotfix([*nopull, "--timeout", "2", "--json"], {**env, "HOTFIX_CONFIG": str(config)})
    doc = json.loads(patient.stdout)
    assert patient.exit_code == 1 and doc["outputs"]["rollout"] == "timeout", patient.output
    config.write_text(CONFIG.replace("request_timeout: 2}", "request_timeout: 2, fail_at_once: [Crashing]}"))
    wrong = hotfix(nopull, {**env, "HOTFIX_CONFIG": str(config)})
    assert wrong.exit_code == 2 and "cluster.fail_at_once" in wrong.output, wrong.output
