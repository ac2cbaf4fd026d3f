"""Acceptance: the real kubectl (the gcloud dispatcher on PATH, v1.32) performs each operation against the sandbox."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from hotfix_actions.sandbox import Sandbox
from tests.sandbox.conftest import Kubectl
from tests.sandbox.helpers import deployment, images, service

pytestmark = pytest.mark.kubectl

MANIFEST = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    kubernetes.io/change-cause: "release 1"
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        ports: [{containerPort: 80}]
      - name: sidecar
        image: busybox:1.36
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def _ready(sandbox: Sandbox, replicas: int = 2, **spec: object) -> None:
    sandbox.apply(deployment(replicas=replicas, **spec))
    sandbox.wait_rollout("default", "web")


def test_apply_creates_then_changes_then_reports_unchanged(sandbox: Sandbox, kubectl: Kubectl) -> None:
    path = kubectl.cwd / "web.yaml"
    path.write_text(MANIFEST)
    assert kubectl("apply", "-f", str(path)).stdout.split() == [
        "deployment.apps/web",
        "created",
        "service/web",
        "created",
    ]
    sandbox.wait_rollout("default", "web")
    changed = MANIFEST.replace("nginx:1.25\n        ports: [{containerPort: 80}]", "nginx:1.26")
    changed = changed.replace("      - name: sidecar\n        image: busybox:1.36\n", "").replace(
        "replicas: 2", "replicas: 3"
    )
    path.write_text(changed)
    out = kubectl("apply", "-f", str(path)).stdout
    assert "deployment.apps/web configured" in out and "service/web unchanged" in out
    d = sandbox.get("apps/v1", "deployments", "default", "web")
    assert d is not None and d["spec"]["replicas"] == 3
    (container,) = d["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "nginx:1.26" and "ports" not in container  # ports: null and $patch: delete applied
    rv = d["metadata"]["resourceVersion"]
    assert "deployment.apps/web unchanged" in kubectl("apply", "-f", str(path)).stdout
    sandbox.wait_rollout("default", "web")
    assert "deployment.apps/web unchanged" in kubectl("apply", "-f", str(path)).stdout
    after = sandbox.get("apps/v1", "deployments", "default", "web")
    assert after is not None and after["metadata"]["generation"] == 2
    assert int(after["metadata"]["resourceVersion"]) >= int(rv)


def test_get_deployment_yaml(sandbox: Sandbox, kubectl: Kubectl) -> None:
    _ready(sandbox)
    d = yaml.safe_load(kubectl("get", "deployment", "web", "-o", "yaml").stdout)
    assert (d["apiVersion"], d["kind"], d["metadata"]["name"]) == ("apps/v1", "Deployment", "web")
    assert (
        d["status"]["availableReplicas"] == 2
        and d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    )
    missing = kubectl("get", "deployment", "nope", "-o", "yaml", ok=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "nope" not found' in missing.stderr


def test_set_image(sandbox: Sandbox, kubectl: Kubectl) -> None:
    _ready(sandbox)
    assert "deployment.apps/web image updated" in kubectl("set", "image", "deployment/web", "web=nginx:1.27").stdout
    d = sandbox.get("apps/v1", "deployments", "default", "web")
    assert d is not None and d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    sandbox.wait_rollout("default", "web")
    assert {images(r)[0] for r in sandbox.list("apps/v1", "replicasets", "default") if r["spec"]["replicas"]} == {
        "nginx:1.27"
    }


def test_rollout_status_succeeds(sandbox: Sandbox, kubectl: Kubectl) -> None:
    _ready(sandbox, replicas=3)
    kubectl("set", "image", "deployment/web", "web=nginx:1.26")
    start = time.monotonic()
    result = kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert time.monotonic() - start < 10
    assert result.stdout.strip().splitlines()[-1] == 'deployment "web" successfully rolled out'
    assert "Waiting for deployment" in result.stdout


def test_rollout_status_fails_on_the_progress_deadline(sandbox: Sandbox, kubectl: Kubectl) -> None:
    _ready(sandbox, progressDeadlineSeconds=2)
    kubectl("set", "image", "deployment/web", "web=nginx:bad")
    start = time.monotonic()
    result = kubectl("rollout", "status", "deployment/web", "--timeout=30s", ok=False)
    assert result.returncode == 1
    assert 'error: deployment "web" exceeded its progress deadline' in result.stderr
    assert time.monotonic() - start < 8
    pods = kubectl("get", "pods", "-l", "app=web").stdout
    assert "CrashLoopBackOff" in pods
    # and the classic recovery: undo, then the rollout completes on the old pods
    kubectl("rollout", "undo", "deployment/web")
    assert (
        'deployment "web" successfully rolled out'
        in kubectl("rollout", "status", "deployment/web", "--timeout=30s").stdout
    )
    assert "CrashLoopBackOff" not in kubectl("get", "pods", "-l", "app=web").stdout


def test_rollout_history(sandbox: Sandbox, kubectl: Kubectl) -> None:
    _ready(sandbox)
    kubectl("set", "image", "deployment/web", "web=nginx:1.26")
    sandbox.wait_rollout("default", "web")
    # the controller copies the Deployment's annotations to the current ReplicaSet only (as kube does)
    kubectl("annotate", "deployment/web", "kubernetes.io/change-cause=deploy 1.26", "--overwrite")
    sandbox.wait_for(
        lambda: any(
            "kubernetes.io/change-cause" in r["metadata"]["annotations"]
            for r in sandbox.list("apps/v1", "replicasets", "default")
        ),
        timeout=5,
    )
    out = kubectl("rollout", "history", "deployment/web").stdout
    rows = [line.split(None, 1) for line in out.strip().splitlines()[2:]]
    assert rows == [["1", "<none>"], ["2", "deploy 1.26"]]
    one = kubectl("rollout", "history", "deployment/web", "--revision=1").stdout
    assert "nginx:1.25" in one and "pod-template-hash" in one


def test_rollout_undo_and_to_revision(sandbox: Sandbox, kubectl: Kubectl) -> None:
    _ready(sandbox)
    for image in ("nginx:1.26", "nginx:1.27"):
        kubectl("set", "image", "deployment/web", f"web={image}")
        sandbox.wait_rollout("default", "web")
    assert "deployment.apps/web rolled back" in kubectl("rollout", "undo", "deployment/web").stdout
    sandbox.wait_rollout("default", "web")
    d = sandbox.get("apps/v1", "deployments", "default", "web")
    assert d is not None and d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"  # revision 2 came back as 4
    history = kubectl("rollout", "history", "deployment/web").stdout
    assert [line.split()[0] for line in history.strip().splitlines()[2:]] == ["1", "3", "4"]
    kubectl("rollout", "undo", "deployment/web", "--to-revision=1")
    sandbox.wait_rollout("default", "web")
    d = sandbox.get("apps/v1", "deployments", "default", "web")
    assert d is not None and d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    again = kubectl("rollout", "undo", "deployment/web", "--to-revision=1", ok=False)  # revision 1 is now 5
    assert again.returncode == 1 and "unable to find specified revision 1 in history" in again.stderr
    skipped = kubectl("rollout", "undo", "deployment/web", "--to-revision=5")
    assert "skipped rollback (current template already matches revision 5)" in skipped.stdout + skipped.stderr


def test_rollout_pause_and_resume(sandbox: Sandbox, kubectl: Kubectl) -> None:
    _ready(sandbox)
    kubectl("set", "image", "deployment/web", "web=nginx:1.26")
    sandbox.wait_rollout("default", "web")
    assert "deployment.apps/web paused" in kubectl("rollout", "pause", "deployment/web").stdout
    assert "already paused" in kubectl("rollout", "pause", "deployment/web", ok=False).stderr
    kubectl("set", "image", "deployment/web", "web=nginx:1.27")
    time.sleep(0.3)
    assert len(sandbox.list("apps/v1", "replicasets", "default")) == 2  # no new ReplicaSet while paused
    d = sandbox.get("apps/v1", "deployments", "default", "web")
    assert d is not None and d["status"]["observedGeneration"] == d["metadata"]["generation"]
    assert "DeploymentPaused" in json.dumps(d["status"]["conditions"])
    undo = kubectl("rollout", "undo", "deployment/web", ok=False)
    assert "you cannot rollback a paused deployment" in undo.stderr
    assert "deployment.apps/web resumed" in kubectl("rollout", "resume", "deployment/web").stdout
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert len(sandbox.list("apps/v1", "replicasets", "default")) == 3


def test_scale(sandbox: Sandbox, kubectl: Kubectl) -> None:
    _ready(sandbox)
    assert "deployment.apps/web scaled" in kubectl("scale", "deployment/web", "--replicas=4").stdout
    sandbox.wait_for(lambda: len(sandbox.list("v1", "pods", "default")) == 4, timeout=5)
    sandbox.wait_rollout("default", "web")
    kubectl("scale", "deployment/web", "--current-replicas=4", "--replicas=1")
    wrong = kubectl("scale", "deployment/web", "--current-replicas=3", "--replicas=2", ok=False)
    assert wrong.returncode == 1
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert len(sandbox.list("v1", "pods", "default")) == 1


def test_patch_service_json_merge_and_strategic(sandbox: Sandbox, kubectl: Kubectl) -> None:
    sandbox.apply(service())
    out = kubectl(
        "patch", "service", "web", "--type=json", "-p", '[{"op":"replace","path":"/spec/ports/0/port","value":81}]'
    )
    assert "service/web patched" in out.stdout
    kubectl("patch", "service", "web", "--type=merge", "-p", '{"metadata":{"labels":{"color":"blue"}}}')
    kubectl(
        "patch", "service", "web", "-p", '{"spec":{"selector":{"color":"green"},"ports":[{"port":81,"name":"http"}]}}'
    )
    svc = json.loads(kubectl("get", "service", "web", "-o", "json").stdout)
    assert svc["metadata"]["labels"] == {"color": "blue"}
    assert svc["spec"]["selector"] == {"app": "web", "color": "green"}
    assert svc["spec"]["ports"] == [{"name": "http", "port": 81, "protocol": "TCP", "targetPort": 8080}]
    same = kubectl("patch", "service", "web", "-p", '{"spec":{"selector":{"color":"green"}}}')
    assert "service/web patched (no change)" in same.stdout


def test_get_all_yaml(sandbox: Sandbox, kubectl: Kubectl) -> None:
    sandbox.apply(service())
    _ready(sandbox)
    listing = yaml.safe_load(kubectl("get", "all", "-o", "yaml").stdout)
    assert listing["kind"] == "List"
    kinds = [item["kind"] for item in listing["items"]]
    assert kinds == ["Pod", "Pod", "Service", "Deployment", "ReplicaSet"]
    human = kubectl("get", "all").stdout
    assert "deployment.apps/web" in human and "service/web" in human and "replicaset.apps/web-" in human


def test_get_pods_by_label(sandbox: Sandbox, kubectl: Kubectl) -> None:
    _ready(sandbox)
    sandbox.apply(deployment(name="api", replicas=1))
    sandbox.wait_rollout("default", "api")
    out = kubectl("get", "pods", "-l", "app=web").stdout.strip().splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(out) == 3 and all(line.startswith("web-") and "Running" in line for line in out[1:])
    names = kubectl("get", "pods", "-l", "app in (api),app!=web", "-o", "name").stdout.split()
    assert len(names) == 1 and names[0].startswith("pod/api-")
    assert "No resources found" in kubectl("get", "pods", "-l", "app=nothing").stderr
