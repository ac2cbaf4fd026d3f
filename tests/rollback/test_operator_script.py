"""scripts/rollback-production.sh against the sandbox: the plan first, a typed confirmation, --yes, --dry-run."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from hotfix_actions.kube.cluster import KubeCluster
from hotfix_actions.sandbox import Sandbox
from tests.kube.kubefix import BAD, GOOD, NS, deployment, image_of

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "rollback-production.sh"


def _env(sb: Sandbox, tmp_path: Path) -> dict[str, str]:
    config = tmp_path / ".hotfix.yml"
    config.write_text("version: 1\ncluster: {fail_fast_after: 2, poll_interval: 0.05}\nrollback: {wait_timeout: 20}\n")
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "HOTFIX_KUBECONFIG": str(sb.kubeconfig_path), "HOTFIX_CONFIG": str(config)}


def _bad(sb: Sandbox, cluster: KubeCluster) -> None:
    sb.apply(deployment(image=GOOD))
    sb.wait_rollout(NS, "web")
    cluster.set_images(NS, "web", {"web": BAD})


def test_without_a_terminal_it_asks_for_yes(sandbox: Sandbox, cluster: KubeCluster, tmp_path: Path) -> None:
    _bad(sandbox, cluster)
    env = _env(sandbox, tmp_path)
    refused = subprocess.run([str(SCRIPT), "web", "--to-revision", "1"], env=env, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, check=False)  # fmt: skip
    assert refused.returncode == 1 and "pass --yes" in refused.stderr
    assert image_of(sandbox) == BAD
    plan = subprocess.run([str(SCRIPT), "--dry-run", "web", "--to-revision", "1"], env=env, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert plan.returncode == 0 and "dry run: would write" in plan.stdout and image_of(sandbox) == BAD
    done = subprocess.run([str(SCRIPT), "--yes", "--namespace", NS, "web", "--to-revision", "1", "--reason", "INC 7"],
                          env=env, capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert image_of(sandbox) == GOOD
    bad_input = subprocess.run([str(SCRIPT), "--yes", "Web;id"], env=env, capture_output=True, text=True, check=False)
    assert bad_input.returncode == 2 and "DNS-1123" in bad_input.stdout + bad_input.stderr


def _interactive(args: list[str], env: dict[str, str], answer: str) -> tuple[int, str]:
    leader, follower = pty.openpty()
    proc = subprocess.Popen([str(SCRIPT), *args], env=env, stdin=follower, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    os.close(follower)
    os.write(leader, (answer + "\n").encode())
    out, _ = proc.communicate(timeout=60)
    os.close(leader)
    return proc.returncode, out


def test_the_typed_name_confirms(sandbox: Sandbox, cluster: KubeCluster, tmp_path: Path) -> None:
    _bad(sandbox, cluster)
    env = _env(sandbox, tmp_path)
    code, out = _interactive(["web", "--to-revision", "1"], env, "nope")
    assert code == 1 and "not confirmed" in out and "would write" in out
    assert image_of(sandbox) == BAD
    code, out = _interactive(["web", "--to-revision", "1"], env, "web")
    assert code == 0, out
    assert image_of(sandbox) == GOOD
