"""The HTTP surface: discovery and content negotiation, tables, OpenAPI, errors, preconditions, watches, faults."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.testing import kubectl as kubectl_bin
from tests.sandbox.helpers import deployment, service

AGGREGATED = ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
              "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")  # fmt: skip
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
)
DEPLOY = "/apis/apps/v1/namespaces/default/deployments"


@pytest.fixture
def http(sandbox: Sandbox) -> Any:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def test_version_reports_the_minor_of_the_pinned_kubectl(http: httpx.Client) -> None:
    major, minor = kubectl_bin.PINNED.split(".")[:2]
    for path in ("/version", "/version/", "/version?timeout=5s"):
        body = http.get(path).json()
        assert (body["major"], body["minor"]) == (major, minor)
        assert body["gitVersion"].startswith(f"v{major}.{minor}.")
        assert (body["emulationMajor"], body["emulationMinor"]) == (major, minor)


def test_aggregated_discovery_has_the_exact_content_type(http: httpx.Client) -> None:
    resp = http.get("/apis", headers={"Accept": AGGREGATED})
    assert resp.headers["content-type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    body = resp.json()
    assert body["kind"] == "APIGroupDiscoveryList" and body["apiVersion"] == "apidiscovery.k8s.io/v2"
    apps = next(i for i in body["items"] if i["metadata"].get("name") == "apps")
    version = apps["versions"][0]
    assert version["freshness"] == "Current"
    deploy = next(r for r in version["resources"] if r["resource"] == "deployments")
    assert deploy["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert deploy["categories"] == ["all"] and deploy["shortNames"] == ["deploy"]
    assert {s["subresource"] for s in deploy["subresources"]} == {"scale", "status"}
    core = http.get("/api", headers={"Accept": AGGREGATED}).json()
    (item,) = core["items"]
    assert "name" not in item["metadata"] and item["versions"][0]["version"] == "v1"
    beta = http.get(
        "/api", headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"}
    )
    assert beta.headers["content-type"].endswith("v=v2beta1;as=APIGroupDiscoveryList")


def test_legacy_discovery_when_not_asked_for_aggregated(http: httpx.Client) -> None:
    assert http.get("/api").json()["kind"] == "APIVersions"
    groups = http.get("/apis").json()
    assert groups["kind"] == "APIGroupList"
    assert {g["name"] for g in groups["groups"]} == {"apps", "coordination.k8s.io"}
    resources = http.get("/apis/apps/v1").json()["resources"]
    names = {r["name"] for r in resources}
    assert {"deployments", "deployments/scale", "deployments/status", "replicasets"} <= names
    scale = next(r for r in resources if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    pods = next(r for r in http.get("/api/v1").json()["resources"] if r["name"] == "pods")
    assert pods["categories"] == ["all"] and pods["namespaced"] is True
    assert http.get("/apis/apps").json()["preferredVersion"]["groupVersion"] == "apps/v1"


def test_minimal_openapi_v3(http: httpx.Client) -> None:
    index = http.get("/openapi/v3").json()["paths"]
    url = index["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=")
    doc = http.get(url).json()
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert {"name": "fieldValidation", "in": "query"}.items() <= op["parameters"][0].items()
    v2 = http.get("/openapi/v2", headers={"Accept": "application/json"})
    assert v2.json()["swagger"] == "2.0" and v2.json()["definitions"] == {}
    proto = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
    pb = http.get("/openapi/v2", headers={"Accept": proto})
    assert pb.headers["content-type"] == proto and pb.content.startswith(b"\x0a\x032.0\x12")


def test_table_for_human_get_and_plain_list_otherwise(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.apply(deployment(replicas=2))
    sandbox.wait_rollout("default", "web")
    resp = http.get(f"{DEPLOY}?limit=500", headers={"Accept": TABLE})
    assert resp.headers["content-type"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
    t = resp.json()
    assert [c["name"] for c in t["columnDefinitions"]][:5] == ["Name", "Ready", "Up-to-date", "Available", "Age"]
    (row,) = t["rows"]
    assert row["cells"][:4] == ["web", "2/2", 2, 2]
    assert row["object"]["kind"] == "PartialObjectMetadata" and row["object"]["metadata"]["name"] == "web"
    pods = http.get("/api/v1/namespaces/default/pods", headers={"Accept": TABLE}).json()
    assert {r["cells"][2] for r in pods["rows"]} == {"Running"}
    plain = http.get(f"{DEPLOY}?limit=500").json()
    assert plain["kind"] == "DeploymentList" and int(plain["metadata"]["resourceVersion"]) > 0


def test_errors_are_status_objects(http: httpx.Client) -> None:
    resp = http.get(f"{DEPLOY}/nope")
    assert resp.status_code == 404
    assert resp.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": 'deployments.apps "nope" not found', "reason": "NotFound", "code": 404,
                           "details": {"name": "nope", "group": "apps", "kind": "deployments"}}  # fmt: skip
    assert http.get("/api/v1/namespaces/default/pods/x").json()["details"] == {"name": "x", "kind": "pods"}
    assert http.get("/apis/apps/v1/namespaces/default/widgets").status_code == 404
    missing_ns = http.post("/api/v1/namespaces/ghost/configmaps", json={"metadata": {"name": "c"}})
    assert missing_ns.status_code == 404 and missing_ns.json()["message"] == 'namespaces "ghost" not found'
    proto = http.post(
        "/api/v1/namespaces", content=b"\x00k8s", headers={"Content-Type": "application/vnd.kubernetes.protobuf"}
    )
    assert proto.status_code == 415
    invalid = http.post(DEPLOY, json=deployment(name="Bad_Name"))
    assert invalid.status_code == 422 and invalid.json()["reason"] == "Invalid"
    mismatch = deployment()
    mismatch["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    assert http.post(DEPLOY, json=mismatch).status_code == 422


def test_create_conflicts_and_resource_version_preconditions(sandbox: Sandbox, http: httpx.Client) -> None:
    created = http.post(DEPLOY, json=deployment())
    assert created.status_code == 201
    body = created.json()
    assert body["metadata"]["generation"] == 1 and body["spec"]["revisionHistoryLimit"] == 10
    assert body["spec"]["strategy"] == {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    }
    assert body["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    again = http.post(DEPLOY, json=deployment())
    assert again.status_code == 409 and again.json()["reason"] == "AlreadyExists"
    stale = dict(body)
    stale["metadata"] = dict(body["metadata"], resourceVersion="1")
    put = http.put(f"{DEPLOY}/web", json=stale)
    assert put.status_code == 409 and put.json()["reason"] == "Conflict"
    assert "the object has been modified" in put.json()["message"]
    patch = http.patch(f"{DEPLOY}/web", json={"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 5}},
                       headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    assert patch.status_code == 409
    sandbox.wait_rollout("default", "web")  # the controller writes no more: the resourceVersion read holds
    current = http.get(f"{DEPLOY}/web").json()
    ok = http.patch(f"{DEPLOY}/web", json={"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                                           "spec": {"replicas": 5}},
                    headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    assert ok.status_code == 200 and ok.json()["metadata"]["generation"] == 2


def test_a_write_that_changes_nothing_keeps_the_resource_version(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.apply(service())
    before = http.get("/api/v1/namespaces/default/services/web").json()
    same = http.patch("/api/v1/namespaces/default/services/web", json={"spec": {"selector": {"app": "web"}}},
                      headers={"Content-Type": "application/strategic-merge-patch+json"}).json()  # fmt: skip
    assert same["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert before["spec"]["clusterIP"].startswith("10.96.") and before["spec"]["ports"][0]["protocol"] == "TCP"


def test_status_writes_are_ignored_on_the_main_resource(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.apply(deployment(replicas=1))
    sandbox.wait_rollout("default", "web")
    current = http.get(f"{DEPLOY}/web").json()
    current["status"]["replicas"] = 99
    current["spec"]["template"]["metadata"]["annotations"] = {"a": "b"}
    stored = http.put(f"{DEPLOY}/web", json=current).json()
    assert stored["status"]["replicas"] == 1 and stored["metadata"]["generation"] == 2


def test_scale_subresource_put_without_content_type(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.apply(deployment(replicas=2))
    sandbox.wait_rollout("default", "web")  # the controller writes no more: the scale's resourceVersion holds
    scale = http.get(f"{DEPLOY}/web/scale").json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 2} and scale["status"]["selector"] == "app=web"
    scale["spec"]["replicas"] = 4
    resp = http.put(f"{DEPLOY}/web/scale", content=json.dumps(scale).encode(), headers={"Content-Type": ""})
    assert resp.status_code == 200 and resp.json()["spec"]["replicas"] == 4
    assert sandbox.get("apps/v1", "deployments", "default", "web")["spec"]["replicas"] == 4
    stale = http.put(f"{DEPLOY}/web/scale", json=scale)
    assert stale.status_code == 409


def test_leases_for_the_rollback_lock(http: httpx.Client) -> None:
    url = "/apis/coordination.k8s.io/v1/namespaces/default/leases"
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "deploy-web"},
             "spec": {"holderIdentity": "run-1", "leaseDurationSeconds": 60}}  # fmt: skip
    first = http.post(url, json=lease)
    assert first.status_code == 201
    second = http.post(url, json=dict(lease, spec={"holderIdentity": "run-2"}))
    assert second.status_code == 409 and second.json()["reason"] == "AlreadyExists"
    held = first.json()
    held["spec"]["holderIdentity"] = "run-2"
    assert http.put(f"{url}/deploy-web", json=held).status_code == 200
    assert http.put(f"{url}/deploy-web", json=held).status_code == 409  # the same RV again is stale now
    gone = http.request("DELETE", f"{url}/deploy-web", json={"preconditions": {"resourceVersion": "1"}})
    assert gone.status_code == 409
    assert http.delete(f"{url}/deploy-web").json()["status"] == "Success"
    assert http.get(f"{url}/deploy-web").status_code == 404


def _watch_lines(client: httpx.Client, url: str, out: list[dict[str, Any]], stop_after: int) -> None:
    with client.stream("GET", url) as resp:
        for line in resp.iter_lines():
            if line:
                out.append(json.loads(line))
                if len(out) >= stop_after:
                    return


def test_watch_from_a_resource_version_streams_changes_with_the_selector(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.apply(deployment(name="api", replicas=1))
    listing = http.get(f"{DEPLOY}?fieldSelector=metadata.name%3Dweb&limit=500&resourceVersion=0").json()
    assert listing["items"] == []
    rv = listing["metadata"]["resourceVersion"]
    events: list[dict[str, Any]] = []
    url = f"{DEPLOY}?allowWatchBookmarks=true&fieldSelector=metadata.name%3Dweb&resourceVersion={rv}&timeoutSeconds=5&watch=true"
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        reader = threading.Thread(target=_watch_lines, args=(client, url, events, 3))
        reader.start()
        time.sleep(0.1)
        sandbox.apply(deployment(replicas=1))
        reader.join(timeout=10)
    assert [e["type"] for e in events[:2]] == ["ADDED", "MODIFIED"]
    assert {e["object"]["metadata"]["name"] for e in events} == {"web"}


def test_watch_without_resource_version_starts_with_synthetic_added(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.apply([deployment(name="a", replicas=0), deployment(name="b", replicas=0)])
    start = time.monotonic()
    lines = [json.loads(x) for x in http.get(f"{DEPLOY}?watch=True&timeoutSeconds=1").text.splitlines() if x]
    assert time.monotonic() - start >= 0.9  # held open until timeoutSeconds
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines[:2]] == [("ADDED", "a"), ("ADDED", "b")]


def test_fault_knobs_over_http(sandbox: Sandbox, http: httpx.Client) -> None:
    state = http.post("/_sandbox/faults", json={"fail_next": 2, "status": 500}).json()
    assert state["fail_next"][0]["remaining"] == 2
    first = http.get(f"{DEPLOY}")
    assert first.status_code == 500 and first.json()["reason"] == "InternalError"
    assert http.get("/version").status_code == 500
    assert http.get("/version").status_code == 200
    http.post("/_sandbox/faults", json={"fail_next": 1, "status": 503, "methods": ["PATCH"]})
    assert http.get(f"{DEPLOY}").status_code == 200
    sandbox.apply(service())
    patched = http.patch("/api/v1/namespaces/default/services/web", json={"metadata": {"labels": {"a": "b"}}},
                         headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    assert patched.status_code == 503 and patched.json()["reason"] == "ServiceUnavailable"
    http.post("/_sandbox/faults", json={"conflict_next_write": 1})
    conflicted = http.patch("/api/v1/namespaces/default/services/web", json={"metadata": {"labels": {"a": "b"}}},
                            headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    assert conflicted.status_code == 409 and conflicted.json()["reason"] == "Conflict"
    assert "a" not in (sandbox.get("v1", "services", "default", "web") or {})["metadata"].get("labels", {})
    http.post("/_sandbox/faults", json={"delay": 0.3, "delay_count": 1})
    start = time.monotonic()
    http.get("/version")
    assert time.monotonic() - start >= 0.3
    assert http.post("/_sandbox/faults", json={"clear": True}).json()["delay"] == 0.0
    assert http.get("/_sandbox/healthz").json()["ok"] is True


def test_drop_watches_cuts_open_streams(sandbox: Sandbox) -> None:
    events: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            with httpx.Client(base_url=sandbox.url, timeout=10) as client:
                _watch_lines(client, f"{DEPLOY}?watch=true&timeoutSeconds=30", events, 100)
        except httpx.HTTPError as exc:
            errors.append(exc)

    reader = threading.Thread(target=watch)
    start = time.monotonic()
    reader.start()
    time.sleep(0.2)
    sandbox.faults.drop_watches()
    reader.join(timeout=5)
    assert not reader.is_alive() and time.monotonic() - start < 5
    assert errors, "the stream should end abruptly, not with a clean final chunk"


def test_settings_and_snapshot_endpoints(sandbox: Sandbox, http: httpx.Client, tmp_path: Any) -> None:
    assert (
        http.post("/_sandbox/settings", json={"ready_delay": 0.5, "crash_images": ":boom"}).json()["ready_delay"] == 0.5
    )
    assert sandbox.settings.crashes("app:boom")
    http.post("/_sandbox/apply", json={"objects": [service("db")]})
    target = tmp_path / "snap.json"
    saved = http.post("/_sandbox/snapshot", json={"path": str(target)}).json()["saved"]
    data = json.loads(target.read_text())
    assert saved == str(target) and any(o["metadata"]["name"] == "db" for o in data["objects"])


def test_watch_from_a_resource_version_older_than_the_log_is_410_expired(tmp_path: Any) -> None:
    snap = tmp_path / "snap.json"
    with Sandbox.start(snapshot=snap, tick=0.02) as sb:
        sb.apply(deployment(replicas=0))
    with Sandbox.start(snapshot=snap, tick=0.02) as sb, httpx.Client(base_url=sb.url, timeout=10) as client:
        lines = client.get(f"{DEPLOY}?watch=true&resourceVersion=1&timeoutSeconds=2").text.splitlines()
        event = json.loads(lines[0])
        assert event["type"] == "ERROR" and event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


def test_server_dry_run_changes_nothing(sandbox: Sandbox, http: httpx.Client) -> None:
    created = http.post(f"{DEPLOY}?dryRun=All", json=deployment())
    assert created.status_code == 201 and created.json()["metadata"]["name"] == "web"
    assert sandbox.get("apps/v1", "deployments", "default", "web") is None
    sandbox.apply(service())
    before = sandbox.get("v1", "services", "default", "web")
    patched = http.patch("/api/v1/namespaces/default/services/web?dryRun=All", json={"spec": {"selector": {"x": "y"}}},
                         headers={"Content-Type": "application/merge-patch+json"})  # fmt: skip
    assert patched.status_code == 200 and patched.json()["spec"]["selector"] == {"app": "web", "x": "y"}
    assert sandbox.get("v1", "services", "default", "web") == before
    assert http.delete("/api/v1/namespaces/default/services/web?dryRun=All").status_code == 200
    assert sandbox.get("v1", "services", "default", "web") == before


def test_sandbox_apply_refuses_what_it_cannot_store(sandbox: Sandbox) -> None:
    from hotfix_actions.sandbox.status import ApiError

    for bad in ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, {"apiVersion": "x/v1", "kind": "Widget"}):
        with pytest.raises(ApiError) as caught:
            sandbox.apply(bad)
        assert caught.value.code == 400
    stored = sandbox.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: team-a}\ndata: {k: v}\n")
    assert stored[0]["metadata"]["namespace"] == "team-a"  # the namespace was created for it
    assert sandbox.get("v1", "namespaces", None, "team-a") is not None


def test_kept_alive_connections_send_without_waiting_for_acks(sandbox: Sandbox, http: httpx.Client) -> None:
    """TCP_NODELAY on every accepted connection, as Go's net/http sets it: without it each response's body waited
    for the client's delayed ACK (44 ms per request measured, 0.17 ms with it)."""
    import socket

    for _ in range(3):
        assert http.get("/version").status_code == 200
    conns = list(sandbox._server.connections)
    assert conns, "the kept-alive connection is open on the server"
    for conn in conns:
        assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_every_local_http_server_derives_from_the_nodelay_handler() -> None:
    """The sample apps and the GitHub emulator serve kept-alive connections too; one handler base sets TCP_NODELAY
    for all of them (a new server that subclasses BaseHTTPRequestHandler directly is found here)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "src" / "hotfix_actions"
    direct = [
        f"{path.relative_to(root)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in root.rglob("*.py")
        if path.name != "http11.py"
        for text in [path.read_text(encoding="utf-8")]
        for m in re.finditer(r"class \w+\((?:http\.server\.)?BaseHTTPRequestHandler\)", text)
    ]
    assert direct == []
    handlers = sum("(KeepAliveHandler)" in p.read_text(encoding="utf-8") for p in root.rglob("*.py"))
    assert handlers >= 3  # the sandbox API server, the sample app, the GitHub emulator
