"""The record of requests the sandbox does not serve: what a new client sends that the sandbox would otherwise answer
plausibly and wrongly (an unknown parameter is ignored by a real server too) becomes a test failure."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.sandbox.unserved import KNOWN_PARAMS
from tests.clusters import SandboxCluster
from tests.sandbox.conftest import assert_all_served, unserved
from tests.sandbox.helpers import deployment

DEPLOY = "/apis/apps/v1/namespaces/default/deployments"


@pytest.fixture
def http(sandbox: Sandbox) -> Any:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def _what(sandbox: Sandbox) -> list[tuple[str, str, str]]:
    return [(e["method"], e["path"], e["what"]) for e in sandbox.unserved()]


def test_what_current_clients_send_is_known(sandbox: Sandbox, http: httpx.Client) -> None:
    sandbox.apply(deployment())
    for query in (
        "?limit=500&resourceVersion=0&labelSelector=app%3Dweb&fieldSelector=metadata.name%3Dweb&timeout=32s",
        "?allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&timeoutSeconds=1&watch=true",
        "?pretty=true&continue=",
    ):
        assert http.get(f"{DEPLOY}{query}").status_code == 200
    assert http.get(f"{DEPLOY}/web?resourceVersion=0&includeObject=Object").status_code == 200
    patch = {"Content-Type": "application/merge-patch+json"}
    url = f"{DEPLOY}/web?fieldManager=kubectl-client-side-apply&fieldValidation=Strict&dryRun=All&force=false"
    assert http.patch(url, json={"metadata": {"labels": {"a": "b"}}}, headers=patch).status_code == 200
    assert http.delete(f"{DEPLOY}/web?propagationPolicy=Background&gracePeriodSeconds=0").status_code == 200
    assert http.get("/version?timeout=5s").status_code == 200 and http.get("/livez?verbose").status_code == 200
    assert sandbox.unserved() == []


def test_an_unknown_parameter_is_served_as_upstream_ignores_it_but_recorded(
    sandbox: Sandbox, http: httpx.Client
) -> None:
    sandbox.apply(deployment())
    assert http.get(f"{DEPLOY}?shardSelector=x&limit=1").status_code == 200
    assert http.get(f"{DEPLOY}/web?watch=true").status_code == 200  # a get: watch is no parameter of it
    entries = sandbox.unserved()
    assert [(e["what"], e["detail"]) for e in entries] == [
        ("query parameter", "shardSelector=x is not a list parameter the sandbox serves"),
        ("query parameter", "watch=true is not a get parameter the sandbox serves"),
    ]
    assert entries[0]["userAgent"].startswith("python-httpx/")


def test_paths_methods_bodies_and_accept_headers_it_cannot_serve(sandbox: Sandbox, http: httpx.Client) -> None:
    assert http.get("/apis/batch/v1/namespaces/default/jobs").status_code == 404
    assert http.get("/metrics").status_code == 404
    assert http.put(DEPLOY, json={}).status_code == 405
    protobuf = {"Content-Type": "application/vnd.kubernetes.protobuf"}
    assert http.post(DEPLOY, content=b"\x6b\x38\x73\x00", headers=protobuf).status_code == 415
    assert http.get(DEPLOY, headers={"Accept": "application/vnd.kubernetes.protobuf"}).status_code == 200
    assert _what(sandbox) == [
        ("GET", "/apis/batch/v1/namespaces/default/jobs", "HTTP 404"),
        ("GET", "/metrics", "HTTP 404"),
        ("PUT", DEPLOY, "HTTP 405"),
        ("POST", DEPLOY, "HTTP 415"),
        ("GET", DEPLOY, "Accept"),
    ]


def test_a_missing_object_is_an_answer_not_an_unserved_request(sandbox: Sandbox, http: httpx.Client) -> None:
    assert http.get(f"{DEPLOY}/nope").status_code == 404
    assert http.get("/apis/apps/v1/namespaces/nowhere/deployments/nope").status_code == 404
    assert sandbox.unserved() == []


def test_the_record_over_http_and_the_test_failure(sandbox: Sandbox, http: httpx.Client) -> None:
    http.get(f"{DEPLOY}?frobnicate=1")
    kube = SandboxCluster(sandbox)
    with pytest.raises(AssertionError, match=r"GET /apis/apps/v1/namespaces/default/deployments: query parameter"):
        assert_all_served(kube)
    assert [e["detail"] for e in unserved(sandbox.kubeconfig_path, clear=True)] == [
        "frobnicate=1 is not a list parameter the sandbox serves"
    ]
    assert unserved(sandbox.kubeconfig_path) == [] and json.loads(http.get("/_sandbox/unserved").text) == {
        "unserved": []
    }
    assert_all_served(kube)


def test_pretty_output_is_indented(sandbox: Sandbox, http: httpx.Client) -> None:
    text = http.get("/version?pretty=true").text
    assert text.startswith('{\n  "major"') and json.loads(text)["major"] == "1"


@pytest.mark.parametrize("kind", sorted(KNOWN_PARAMS))
def test_every_kind_knows_the_global_parameters(kind: str) -> None:
    assert {"pretty", "timeout"} <= KNOWN_PARAMS[kind]
