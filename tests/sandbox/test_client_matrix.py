"""The newest official Python client (``kubernetes`` 37.x) performs the 14 operations of the API-surface doc against
the cluster under test (``kube``), rollout status through its watch with the watch-list options current client-go
sends (``sendInitialEvents``, ``resourceVersionMatch=NotOlderThan``, bookmarks), judged by kubectl's rules; the
undo is the JSON patch kubectl sends. A request the sandbox does not serve fails the test."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from kubernetes import client, config, watch

from tests.sandbox.conftest import assert_all_served, operator_kubeconfig, unserved
from tests.sandbox.helpers import deployment, service

_SKIP_ANNOTATIONS = {
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}


class Api:
    """The typed APIs of one client connected to ``kube``."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self.client, self.ns = api_client, namespace
        self.apps, self.core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)

    def deployment(self, name: str = "web") -> dict[str, Any]:
        found: dict[str, Any] = self.client.sanitize_for_serialization(
            self.apps.read_namespaced_deployment(name, self.ns)
        )
        return found


@pytest.fixture
def api(kube: Any, tmp_path: Path) -> Iterator[Api]:
    assert kubernetes.__version__.split(".")[0] == "37", "the matrix checks the newest client, kubernetes 37.x"
    if kube.kind == "sandbox":
        unserved(kube.kubeconfig_path, clear=True)
    api_client = config.new_client_from_config(config_file=str(operator_kubeconfig(kube, tmp_path)))
    try:
        yield Api(api_client, kube.namespace)
    finally:
        api_client.close()
    assert_all_served(kube)


class DeadlineExceeded(Exception):
    pass


def rollout_verdict(d: dict[str, Any]) -> tuple[bool, str]:
    """kubectl's ``rollout status`` rules (``polymorphichelpers/rollout_status.go``) on one Deployment."""
    meta, spec, st = d["metadata"], d.get("spec") or {}, d.get("status") or {}
    name = meta["name"]
    if int(meta.get("generation") or 0) > int(st.get("observedGeneration") or 0):
        return False, "Waiting for deployment spec update to be observed..."
    for cond in st.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            raise DeadlineExceeded(f'deployment "{name}" exceeded its progress deadline')
    replicas, updated = int(spec.get("replicas", 1)), int(st.get("updatedReplicas") or 0)
    if updated < replicas:
        return False, f"{updated} out of {replicas} new replicas have been updated..."
    if int(st.get("replicas") or 0) > updated:
        return False, f"{int(st['replicas']) - updated} old replicas are pending termination..."
    if int(st.get("availableReplicas") or 0) < updated:
        return False, f"{st.get('availableReplicas') or 0} of {updated} updated replicas are available..."
    return True, f'deployment "{name}" successfully rolled out'


def rollout_status(api: Api, name: str = "web", timeout: int = 30) -> tuple[str, list[str]]:
    """Watch one Deployment as kubectl does (a watch-list) until kubectl's rules say done; (verdict, event types)."""
    w = watch.Watch()
    types: list[str] = []
    for event in w.stream(api.apps.list_namespaced_deployment, api.ns, field_selector=f"metadata.name={name}",
                          timeout_seconds=timeout, allow_watch_bookmarks=True, send_initial_events=True,
                          resource_version_match="NotOlderThan"):  # fmt: skip
        types.append(event["type"])
        if event["type"] in {"BOOKMARK", "DELETED"}:
            continue
        done, message = rollout_verdict(event["raw_object"])
        if done:
            w.stop()
            return message, types
    raise TimeoutError(f"timed out waiting for the condition ({types})")


def revisions(api: Api, name: str = "web") -> dict[int, dict[str, Any]]:
    """``rollout history``: the ReplicaSets the Deployment controls, by revision."""
    d = api.deployment(name)
    selector = ",".join(f"{k}={v}" for k, v in d["spec"]["selector"]["matchLabels"].items())
    found = {}
    for rs in api.apps.list_namespaced_replica_set(api.ns, label_selector=selector).items:
        rs_dict = api.client.sanitize_for_serialization(rs)
        owners = rs_dict["metadata"].get("ownerReferences") or []
        if any(o.get("controller") and o.get("uid") == d["metadata"]["uid"] for o in owners):
            found[int(rs_dict["metadata"]["annotations"]["deployment.kubernetes.io/revision"])] = rs_dict
    return found


def undo(api: Api, to_revision: int = 0, name: str = "web") -> str:
    """``rollout undo``: kubectl's client-side choice and its JSON patch."""
    d, history = api.deployment(name), revisions(api, name)
    if d["spec"].get("paused"):
        return "you cannot rollback a paused deployment"
    if to_revision and to_revision not in history:
        return f"unable to find specified revision {to_revision} in history"
    if len(history) < 2 and not to_revision:
        return f'no rollout history found for deployment "{name}"'
    target = to_revision or sorted(history)[-2]
    template = copy.deepcopy(history[target]["spec"]["template"])
    template["metadata"]["labels"].pop("pod-template-hash", None)
    current = copy.deepcopy(d["spec"]["template"])
    if template == current:
        return f"skipped rollback (current template already matches revision {target})"
    annotations = {k: v for k, v in (d["metadata"].get("annotations") or {}).items() if k in _SKIP_ANNOTATIONS}
    annotations |= {k: v for k, v in (history[target]["metadata"].get("annotations") or {}).items()
                    if k not in _SKIP_ANNOTATIONS}  # fmt: skip
    ops = [{"op": "replace", "path": "/spec/template", "value": template},
           {"op": "replace", "path": "/metadata/annotations", "value": annotations}]  # fmt: skip
    api.apps.patch_namespaced_deployment(name, api.ns, ops)
    return "rolled back"


def _ready(kube: Any, replicas: int = 2, **spec: Any) -> None:
    kube.apply(deployment(replicas=replicas, namespace=kube.namespace, **spec))
    kube.wait_rollout(kube.namespace, "web")


def _set_image(api: Api, image: str) -> None:
    body = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
    api.apps.patch_namespaced_deployment("web", api.ns, body)


def _image(api: Api) -> str:
    return str(api.deployment()["spec"]["template"]["spec"]["containers"][0]["image"])


# 1 apply (create, then a changed manifest, then no change)
def test_apply(kube: Any, api: Api) -> None:
    manifest = deployment(replicas=2, namespace=api.ns)
    assert api.apps.create_namespaced_deployment(api.ns, manifest).metadata.generation == 1
    with pytest.raises(client.ApiException) as again:
        api.apps.create_namespaced_deployment(api.ns, manifest)
    assert again.value.status == 409
    changed = {"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}}
    assert api.apps.patch_namespaced_deployment("web", api.ns, changed).metadata.generation == 2
    rv = api.deployment()["metadata"]["resourceVersion"]
    same = api.apps.patch_namespaced_deployment("web", api.ns, changed)
    assert same.metadata.generation == 2
    kube.wait_rollout(api.ns, "web")
    assert int(api.deployment()["metadata"]["resourceVersion"]) >= int(rv)


# 2 get
def test_get(kube: Any, api: Api) -> None:
    _ready(kube)
    d = api.apps.read_namespaced_deployment("web", api.ns)
    assert d.status.available_replicas == 2 and d.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    with pytest.raises(client.ApiException) as missing:
        api.apps.read_namespaced_deployment("nope", api.ns)
    assert missing.value.status == 404 and "NotFound" in missing.value.body


# 3 set image
def test_set_image(kube: Any, api: Api) -> None:
    _ready(kube)
    _set_image(api, "nginx:1.27")
    assert _image(api) == "nginx:1.27"
    kube.wait_rollout(api.ns, "web")
    live = [r for r in api.apps.list_namespaced_replica_set(api.ns).items if r.spec.replicas]
    assert [r.spec.template.spec.containers[0].image for r in live] == ["nginx:1.27"]


# 4 rollout status: success, through the watch
def test_rollout_status_succeeds(kube: Any, api: Api) -> None:
    _ready(kube, replicas=3)
    _set_image(api, "nginx:1.26")
    verdict, types = rollout_status(api)
    assert verdict == 'deployment "web" successfully rolled out'
    assert types[:2] == ["ADDED", "BOOKMARK"] and "MODIFIED" in types  # the state, the end of it, then changes


# 5 rollout status: the progress deadline, through the watch
def test_rollout_status_fails_on_the_progress_deadline(kube: Any, api: Api) -> None:
    _ready(kube, progressDeadlineSeconds=2)
    _set_image(api, "nginx:nopull")  # never Ready on both backends
    start = time.monotonic()
    with pytest.raises(DeadlineExceeded, match='deployment "web" exceeded its progress deadline'):
        rollout_status(api, timeout=45)
    assert time.monotonic() - start < 30


# 6 rollout history
def test_rollout_history(kube: Any, api: Api) -> None:
    _ready(kube)
    _set_image(api, "nginx:1.26")
    kube.wait_rollout(api.ns, "web")
    history = revisions(api)
    assert sorted(history) == [1, 2]
    assert history[1]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"


# 7 rollout undo
def test_rollout_undo(kube: Any, api: Api) -> None:
    _ready(kube)
    assert undo(api) == 'no rollout history found for deployment "web"'
    for image in ("nginx:1.26", "nginx:1.27"):
        _set_image(api, image)
        kube.wait_rollout(api.ns, "web")
    assert undo(api) == "rolled back"
    kube.wait_rollout(api.ns, "web")
    assert _image(api) == "nginx:1.26" and sorted(revisions(api)) == [1, 3, 4]


# 8 rollout undo --to-revision
def test_rollout_undo_to_revision(kube: Any, api: Api) -> None:
    _ready(kube)
    for image in ("nginx:1.26", "nginx:1.27"):
        _set_image(api, image)
        kube.wait_rollout(api.ns, "web")
    assert undo(api, to_revision=1) == "rolled back"
    kube.wait_rollout(api.ns, "web")
    assert _image(api) == "nginx:1.25" and sorted(revisions(api)) == [2, 3, 4]
    assert undo(api, to_revision=1) == "unable to find specified revision 1 in history"
    assert undo(api, to_revision=4) == "skipped rollback (current template already matches revision 4)"


# 9 rollout pause
def test_rollout_pause(kube: Any, api: Api) -> None:
    _ready(kube)
    api.apps.patch_namespaced_deployment("web", api.ns, {"spec": {"paused": True}})
    _set_image(api, "nginx:1.27")
    kube.wait_for(
        lambda: api.deployment()["status"].get("observedGeneration") == api.deployment()["metadata"]["generation"]
    )
    time.sleep(0.5)
    assert len(api.apps.list_namespaced_replica_set(api.ns).items) == 1
    assert undo(api) == "you cannot rollback a paused deployment"
    with pytest.raises(TimeoutError):
        rollout_status(api, timeout=2)


# 10 rollout resume
def test_rollout_resume(kube: Any, api: Api) -> None:
    _ready(kube)
    api.apps.patch_namespaced_deployment("web", api.ns, {"spec": {"paused": True}})
    _set_image(api, "nginx:1.27")
    api.apps.patch_namespaced_deployment("web", api.ns, {"spec": {"paused": None}})
    assert rollout_status(api)[0] == 'deployment "web" successfully rolled out'
    assert "paused" not in api.deployment()["spec"] and len(api.apps.list_namespaced_replica_set(api.ns).items) == 2


# 11 scale
def test_scale(kube: Any, api: Api) -> None:
    _ready(kube)
    scale = api.apps.patch_namespaced_deployment_scale("web", api.ns, {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4
    kube.wait_for(lambda: len(api.core.list_namespaced_pod(api.ns).items) == 4, timeout=10)
    kube.wait_rollout(api.ns, "web")  # the controller has stopped writing: the resourceVersion read will hold
    current = api.apps.read_namespaced_deployment_scale("web", api.ns)
    assert current.status.selector == "app=web"
    current.spec.replicas = 1
    assert api.apps.replace_namespaced_deployment_scale("web", api.ns, current).spec.replicas == 1
    with pytest.raises(client.ApiException) as stale:
        api.apps.replace_namespaced_deployment_scale("web", api.ns, current)  # its resourceVersion is old now
    assert stale.value.status == 409
    assert rollout_status(api)[0] == 'deployment "web" successfully rolled out'
    kube.wait_for(lambda: len(api.core.list_namespaced_pod(api.ns).items) == 1, timeout=10)


# 12 patch service: JSON patch (a list body), merge patch, strategic merge (a dict body)
def test_patch_service(kube: Any, api: Api) -> None:
    kube.apply(service(namespace=api.ns))
    ops = [{"op": "replace", "path": "/spec/ports/0/port", "value": 81}]
    assert api.core.patch_namespaced_service("web", api.ns, ops).spec.ports[0].port == 81
    merge = {"metadata": {"labels": {"color": "blue"}}}
    api.core.patch_namespaced_service("web", api.ns, merge, _content_type="application/merge-patch+json")
    strategic = {"spec": {"selector": {"color": "green"}, "ports": [{"port": 81, "name": "http"}]}}
    svc = api.core.patch_namespaced_service("web", api.ns, strategic)
    assert svc.metadata.labels == {"color": "blue"} and svc.spec.selector == {"app": "web", "color": "green"}
    assert [(p.name, p.port, p.target_port) for p in svc.spec.ports] == [("http", 81, 8080)]


# 13 get all (every type of the "all" category)
def test_get_all(kube: Any, api: Api) -> None:
    kube.apply(service(namespace=api.ns))
    _ready(kube)
    kinds = [
        *(["Pod"] * len(api.core.list_namespaced_pod(api.ns).items)),
        *(["Service"] * len(api.core.list_namespaced_service(api.ns).items)),
        *(["Deployment"] * len(api.apps.list_namespaced_deployment(api.ns).items)),
        *(["ReplicaSet"] * len(api.apps.list_namespaced_replica_set(api.ns).items)),
    ]
    assert kinds == ["Pod", "Pod", "Service", "Deployment", "ReplicaSet"]


# 14 get pods by label
def test_get_pods_by_label(kube: Any, api: Api) -> None:
    _ready(kube)
    kube.apply(deployment(name="api", replicas=1, namespace=api.ns))
    kube.wait_rollout(api.ns, "api")
    pods = api.core.list_namespaced_pod(api.ns, label_selector="app=web").items
    assert len(pods) == 2 and all(p.status.phase == "Running" for p in pods)
    (only,) = api.core.list_namespaced_pod(api.ns, label_selector="app in (api),app!=web").items
    assert only.metadata.name.startswith("api-")
    assert api.core.list_namespaced_pod(api.ns, label_selector="app=nothing").items == []
