"""Strategic merge patch: merge keys, directives and null deletes, with the bodies kubectl really sends."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hotfix_actions.sandbox.patch import PatchError
from hotfix_actions.sandbox.strategic import strategic_merge


def _deploy(*containers: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}},
                                                 "spec": {"containers": list(containers)}}}}  # fmt: skip


WEB = {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80, "protocol": "TCP"}],
       "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}  # fmt: skip
SIDECAR = {"name": "sidecar", "image": "busybox:1.36"}


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def test_set_image_body_from_kubectl_merges_by_name() -> None:
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                                            "containers": [{"image": "nginx:1.27", "name": "web"}]}}}}  # fmt: skip
    out = strategic_merge(_deploy(WEB, SIDECAR), patch, "Deployment")
    web, sidecar = _containers(out)
    assert web == dict(WEB, image="nginx:1.27")
    assert sidecar == SIDECAR


def test_apply_three_way_patch_deletes_items_and_nulls_fields() -> None:
    patch = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
             "spec": {"replicas": 3, "template": {"spec": {
                 "$setElementOrder/containers": [{"name": "web"}],
                 "containers": [{"image": "nginx:1.26", "name": "web", "ports": None},
                                {"$patch": "delete", "name": "sidecar"}]}}}}  # fmt: skip
    out = strategic_merge(_deploy(WEB, SIDECAR), patch, "Deployment")
    assert out["spec"]["replicas"] == 3
    assert out["metadata"]["annotations"] == {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    assert _containers(out) == [{"name": "web", "image": "nginx:1.26", "env": WEB["env"]}]


def test_set_element_order_reorders_and_keeps_server_only_items() -> None:
    extra = {"name": "extra", "image": "x:1"}
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}]}}}}
    out = strategic_merge(_deploy(WEB, SIDECAR, extra), patch, "Deployment")
    assert [c["name"] for c in _containers(out)] == ["sidecar", "web", "extra"]


def test_new_item_is_appended_and_nested_lists_merge_by_their_keys() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "web", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
         "ports": [{"containerPort": 8080}]},
        {"name": "new", "image": "x:2"}]}}}}  # fmt: skip
    out = strategic_merge(_deploy(WEB), patch, "Deployment")
    web, new = _containers(out)
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
    assert web["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 8080}]
    assert new == {"name": "new", "image": "x:2"}


def test_env_item_deleted_with_patch_directive() -> None:
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [{"$patch": "delete", "name": "A"}]}]}}}
    }
    out = strategic_merge(_deploy(WEB), patch, "Deployment")
    assert _containers(out)[0]["env"] == [{"name": "B", "value": "2"}]


def test_list_replace_directive_and_map_replace_directive() -> None:
    replace_list = {
        "spec": {"template": {"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o:1"}]}}}
    }
    assert _containers(strategic_merge(_deploy(WEB, SIDECAR), replace_list, "Deployment")) == [
        {"name": "only", "image": "o:1"}
    ]
    replace_map = {"metadata": {"labels": {"$patch": "replace", "tier": "fe"}}}
    assert strategic_merge(_deploy(WEB), replace_map, "Deployment")["metadata"]["labels"] == {"tier": "fe"}
    delete_map = {"metadata": {"labels": {"$patch": "delete"}}}
    assert "labels" not in strategic_merge(_deploy(WEB), delete_map, "Deployment")["metadata"]


def test_pause_and_resume_bodies() -> None:
    paused = strategic_merge(_deploy(WEB), {"spec": {"paused": True}}, "Deployment")
    assert paused["spec"]["paused"] is True
    assert "paused" not in strategic_merge(paused, {"spec": {"paused": None}}, "Deployment")["spec"]


def test_retain_keys_clears_the_other_strategy_fields() -> None:
    obj = _deploy(WEB)
    obj["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge(obj, patch, "Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_service_ports_merge_by_port_and_other_lists_are_replaced() -> None:
    svc = {"kind": "Service", "metadata": {"name": "web"},
           "spec": {"selector": {"app": "web", "color": "blue"}, "externalIPs": ["1.1.1.1"],
                    "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}, {"port": 443, "protocol": "TCP"}]}}  # fmt: skip
    patch = {"spec": {"selector": {"color": "green"}, "externalIPs": ["2.2.2.2"],
                      "ports": [{"port": 80, "targetPort": 9090}]}}  # fmt: skip
    out = strategic_merge(svc, patch, "Service")
    assert out["spec"]["selector"] == {"app": "web", "color": "green"}
    assert out["spec"]["externalIPs"] == ["2.2.2.2"]
    assert out["spec"]["ports"] == [
        {"port": 80, "targetPort": 9090, "protocol": "TCP"},
        {"port": 443, "protocol": "TCP"},
    ]


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    obj = {"kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a", "b"]}}
    assert strategic_merge(obj, {"metadata": {"finalizers": ["b", "c"]}}, "ConfigMap")["metadata"]["finalizers"] == [
        "a",
        "b",
        "c",
    ]
    gone = strategic_merge(obj, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}, "ConfigMap")
    assert gone["metadata"]["finalizers"] == ["b"]


def test_directives_inside_new_subtrees_are_applied_not_stored() -> None:
    patch = {"spec": {"template": {"spec": {"volumes": [{"name": "v", "emptyDir": {}}],
                                            "$setElementOrder/volumes": [{"name": "v"}]}}}}  # fmt: skip
    out = strategic_merge(_deploy(WEB), patch, "Deployment")
    assert out["spec"]["template"]["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]
    assert not any(k.startswith("$") for k in out["spec"]["template"]["spec"])


def test_unknown_kinds_merge_maps_and_replace_lists() -> None:
    cm = {"kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    out = strategic_merge(cm, {"data": {"a": None, "c": "3"}}, "ConfigMap")
    assert out["data"] == {"b": "2", "c": "3"}


def test_inputs_are_not_mutated_and_bad_patches_fail() -> None:
    original = _deploy(WEB, SIDECAR)
    frozen = copy.deepcopy(original)
    strategic_merge(
        original, {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "z"}]}}}}, "Deployment"
    )
    assert original == frozen
    with pytest.raises(PatchError):
        strategic_merge(original, ["not", "a", "map"], "Deployment")
    with pytest.raises(PatchError):
        strategic_merge(
            original, {"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}}, "Deployment"
        )
