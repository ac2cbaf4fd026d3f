"""The tool's identity is a least-privilege service account: exactly the Role of examples/k8s/rbac.yaml. Every
cluster command works with it on the real control plane; without it, or without any one of its rules, a command
fails with exit 2 and says which permission it needs ("forbidden: needs <verb> <resource>") and how to grant it.
(The sandbox has no authorisation: the real control plane is the only witness here.)"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hotfix_actions.sandbox import load_manifests
from tests.clusters import RBAC, RealCluster
from tests.kube.kubefix import deployment
from tests.realk8s.controlplane import ControlPlane

HOTFIX = str(Path(sys.executable).parent / "hotfix")
IMAGE = "registry.example/web:{}"


def run(kubeconfig: Path, ns: str, *args: str, cwd: Path) -> tuple[int, dict[str, Any], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HOTFIX_", "KUBECONFIG"))}
    proc = subprocess.run(
        [HOTFIX, *args, "--json", "--kubeconfig", str(kubeconfig), "-n", ns],
        capture_output=True, text=True, env=env, timeout=180, check=False, cwd=cwd,
    )  # fmt: skip
    lines = proc.stdout.strip().splitlines()
    doc = json.loads(lines[-1]) if lines else {}
    return proc.returncode, doc, proc.stdout + proc.stderr


def rules() -> list[dict[str, Any]]:
    role = next(o for o in load_manifests(RBAC.read_text(encoding="utf-8")) if o["kind"] == "Role")
    found: list[dict[str, Any]] = role["rules"]
    return found


def kubeconfig_with(cluster: RealCluster, account: str, kept: list[dict[str, Any]] | None) -> Path:
    """A kubeconfig for ``account`` bound to a Role of ``kept`` rules (None: no binding at all)."""
    if kept is not None:
        cluster.apply(
            [
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": account},
                 "rules": kept},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": account},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
                 "subjects": [{"kind": "ServiceAccount", "name": account}]},
            ]
        )  # fmt: skip
    token = cluster.token_for(account)
    return cluster.cp.kubeconfig_for_token(token, cluster.folder / f"kubeconfig-{account}", cluster.namespace)


@pytest.fixture
def real(real_control_plane: ControlPlane, tmp_path: Path) -> Any:
    cluster = RealCluster(real_control_plane, f"t-rbac-{secrets.token_hex(3)}", tmp_path)
    cluster.apply(deployment(image=IMAGE.format("1.0"), namespace=cluster.namespace))
    cluster.wait_rollout(cluster.namespace, "web", timeout=30)
    try:
        yield cluster
    finally:
        cluster.cleanup()


def test_every_cluster_command_works_with_exactly_the_role(real: RealCluster, tmp_path: Path) -> None:
    ns, kc = real.namespace, real.kubeconfig_path  # the hotfix-actions service account, bound to rbac.yaml
    code, doc, out = run(kc, ns, "promote", "-d", "web", "--image", IMAGE.format("1.1"), "--settle", "1s", cwd=tmp_path)
    assert code == 0 and doc["verdict"] == "PASS", out
    code, doc, out = run(kc, ns, "promote", "-d", "web", "--image", IMAGE.format("1.2"), "--settle", "1s", cwd=tmp_path)
    assert code == 0, out
    code, doc, out = run(kc, ns, "rollback", "-d", "web", "--to", "previous-lkg", "--reason", "INC-9", cwd=tmp_path)
    assert code == 0 and doc["outputs"]["to-image"] == IMAGE.format("1.1"), out
    code, doc, out = run(kc, ns, "status", "-d", "web", cwd=tmp_path)
    assert code == 0, out
    code, doc, out = run(kc, ns, "snapshot", "-d", "web", "-o", str(tmp_path / "snap.yaml"), cwd=tmp_path)
    assert code == 0 and "kind: Deployment" in (tmp_path / "snap.yaml").read_text(), out
    for text in (out,):
        assert "forbidden" not in text


@pytest.mark.parametrize("command", ["status", "promote", "rollback", "snapshot"])
def test_without_the_role_each_command_says_what_it_needs(real: RealCluster, tmp_path: Path, command: str) -> None:
    kc = kubeconfig_with(real, "nobody", None)
    args = {
        "status": ["status", "-d", "web"],
        "promote": ["promote", "-d", "web", "--image", IMAGE.format("1.1")],
        "rollback": ["rollback", "-d", "web", "--to-image", IMAGE.format("0.9"), "--strategy", "redeploy"],
        "snapshot": ["snapshot", "-d", "web", "-o", str(tmp_path / "snap.yaml")],
    }[command]
    code, doc, out = run(kc, real.namespace, *args, cwd=tmp_path)
    assert code == 2, out
    assert "forbidden: needs get deployments.apps" in out or "forbidden: needs list" in out, out
    assert f"system:serviceaccount:{real.namespace}:nobody" in out
    assert "examples/k8s/rbac.yaml" in out
    live = real.get("apps/v1", "deployments", real.namespace, "web")
    assert live is not None and live["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE.format("1.0")


# rule (by its resources) -> the command whose happy path needs it, and what the message must name
NEEDS = {
    ("deployments",): (["promote", "-d", "web", "--image", IMAGE.format("1.1")], "deployments.apps"),
    ("replicasets",): (["status", "-d", "web"], "replicasets.apps"),
    ("pods",): (["promote", "-d", "web", "--image", IMAGE.format("1.1"), "--settle", "1s"], "pods"),
    ("leases",): (["promote", "-d", "web", "--image", IMAGE.format("1.1")], "leases.coordination.k8s.io"),
}


@pytest.mark.parametrize("resources", list(NEEDS), ids="-".join)
def test_each_rule_of_the_role_is_needed_and_named(real: RealCluster, tmp_path: Path, resources: tuple[str]) -> None:
    kept = [rule for rule in rules() if tuple(rule["resources"]) != resources]
    assert len(kept) == len(rules()) - 1, f"examples/k8s/rbac.yaml has no rule for exactly {resources}"
    kc = kubeconfig_with(real, "partial", kept)
    args, named = NEEDS[resources]
    code, doc, out = run(kc, real.namespace, *args, cwd=tmp_path)
    assert code == 2, out
    assert "forbidden: needs " in out and f" {named} in namespace" in out, out
    live = real.get("apps/v1", "deployments", real.namespace, "web")
    assert live is not None and live["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE.format("1.0")
