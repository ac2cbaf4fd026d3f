"""The official ``kubernetes`` Python client against the sandbox: what the cluster adapter relies on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch

from hotfix_actions.sandbox import Sandbox
from tests.sandbox.helpers import deployment, service


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
    yield api_client
    api_client.close()


def test_version_and_read(sandbox: Sandbox, api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().git_version.startswith("v1.37.")
    sandbox.apply(deployment(replicas=2))
    sandbox.wait_rollout("default", "web")
    d = client.AppsV1Api(api).read_namespaced_deployment("web", "default")
    assert d.spec.replicas == 2 and d.status.available_replicas == 2
    assert d.metadata.annotations["deployment.kubernetes.io/revision"] == "1"
    assert d.spec.template.spec.containers[0].image == "nginx:1.25"


def test_missing_object_is_api_exception_404(api: client.ApiClient) -> None:
    with pytest.raises(client.ApiException) as caught:
        client.AppsV1Api(api).read_namespaced_deployment("nope", "default")
    assert caught.value.status == 404


def test_list_with_label_selector(sandbox: Sandbox, api: client.ApiClient) -> None:
    sandbox.apply([deployment(replicas=1), deployment(name="api", replicas=1)])
    sandbox.wait_rollout("default", "web")
    apps = client.AppsV1Api(api)
    rs = apps.list_namespaced_replica_set("default", label_selector="app=web").items
    assert len(rs) == 1 and rs[0].metadata.owner_references[0].kind == "Deployment"
    pods = client.CoreV1Api(api).list_namespaced_pod("default", label_selector="app in (api)").items
    assert [p.metadata.labels["app"] for p in pods] == ["api"]
    running = client.CoreV1Api(api).list_namespaced_pod("default", field_selector="status.phase=Running").items
    assert len(running) == 2


def test_patch_with_a_dict_is_strategic_merge(sandbox: Sandbox, api: client.ApiClient) -> None:
    sandbox.apply(deployment(replicas=1))
    apps = client.AppsV1Api(api)
    body = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}}
    patched = apps.patch_namespaced_deployment("web", "default", body)
    (container,) = patched.spec.template.spec.containers
    assert container.image == "nginx:1.27" and container.image_pull_policy == "IfNotPresent"
    assert patched.metadata.generation == 2
    sandbox.apply(service())
    svc = client.CoreV1Api(api).patch_namespaced_service("web", "default", {"spec": {"selector": {"color": "green"}}})
    assert svc.spec.selector == {"app": "web", "color": "green"}
    ops = [{"op": "replace", "path": "/spec/selector", "value": {"app": "web"}}]
    assert client.CoreV1Api(api).patch_namespaced_service("web", "default", ops).spec.selector == {"app": "web"}
    scale = apps.patch_namespaced_deployment_scale("web", "default", {"spec": {"replicas": 3}})
    assert scale.spec.replicas == 3


def test_replace_with_a_stale_resource_version_is_409(sandbox: Sandbox, api: client.ApiClient) -> None:
    sandbox.apply(deployment(replicas=1))
    apps = client.AppsV1Api(api)
    read = apps.read_namespaced_deployment("web", "default")
    apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 2}})  # someone else writes first
    read.spec.replicas = 5
    with pytest.raises(client.ApiException) as caught:
        apps.replace_namespaced_deployment("web", "default", read)
    assert caught.value.status == 409
    sandbox.wait_rollout("default", "web")  # the controller writes no more: the resourceVersion read holds
    fresh = apps.read_namespaced_deployment("web", "default")
    fresh.spec.replicas = 5
    assert apps.replace_namespaced_deployment("web", "default", fresh).spec.replicas == 5
    stale_model = fresh  # a model body carries its resourceVersion: a precondition for patch too
    with pytest.raises(client.ApiException) as patch_caught:
        apps.patch_namespaced_deployment("web", "default", stale_model)
    assert patch_caught.value.status == 409


def test_watch_stream_sees_the_rollout(sandbox: Sandbox, api: client.ApiClient) -> None:
    sandbox.apply(deployment(replicas=1))
    apps = client.AppsV1Api(api)
    seen: list[tuple[str, Any]] = []
    w = watch.Watch()
    for event in w.stream(apps.list_namespaced_deployment, "default", field_selector="metadata.name=web",
                          timeout_seconds=3):  # fmt: skip
        seen.append((event["type"], event["object"].status.available_replicas))
        if event["object"].status.available_replicas == 1:
            w.stop()
    assert seen[0][0] == "ADDED"
    assert seen[-1] == ("MODIFIED", 1)


def test_fault_503_becomes_api_exception_and_then_recovers(sandbox: Sandbox, api: client.ApiClient) -> None:
    sandbox.apply(deployment(replicas=1))
    apps = client.AppsV1Api(api)
    sandbox.faults.fail_next(1, status=503)
    with pytest.raises(client.ApiException) as caught:
        apps.read_namespaced_deployment("web", "default")
    assert caught.value.status == 503
    assert apps.read_namespaced_deployment("web", "default").metadata.name == "web"
    sandbox.faults.conflict_next_write()
    with pytest.raises(client.ApiException) as conflict:
        apps.patch_namespaced_deployment("web", "default", {"spec": {"replicas": 2}})
    assert conflict.value.status == 409


def test_leases_create_conflict_and_update(api: client.ApiClient) -> None:
    coord = client.CoordinationV1Api(api)
    lease = client.V1Lease(metadata=client.V1ObjectMeta(name="lock"),
                           spec=client.V1LeaseSpec(holder_identity="run-1", lease_duration_seconds=30))  # fmt: skip
    created = coord.create_namespaced_lease("default", lease)
    with pytest.raises(client.ApiException) as dup:
        coord.create_namespaced_lease("default", lease)
    assert dup.value.status == 409 and "AlreadyExists" in dup.value.body
    created.spec.holder_identity = "run-2"
    updated = coord.replace_namespaced_lease("lock", "default", created)
    assert updated.spec.holder_identity == "run-2"
    with pytest.raises(client.ApiException) as stale:
        coord.replace_namespaced_lease("lock", "default", created)  # created still has the old resourceVersion
    assert stale.value.status == 409
