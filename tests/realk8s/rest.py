"""A small JSON client for the real API server (standard library only): what the test harness needs to create,
read, list, patch and delete objects with a bearer token over TLS. The tool itself never uses this; it talks
through its own adapter (``hotfix_actions.kube``)."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any
from urllib.parse import urlencode

__all__ = ["ApiError", "Rest", "path_of", "plural_of"]

# kind -> (plural, namespaced). Enough for what the tests create.
_KINDS: dict[str, tuple[str, bool]] = {
    "Namespace": ("namespaces", False),
    "Node": ("nodes", False),
    "ClusterRole": ("clusterroles", False),
    "ClusterRoleBinding": ("clusterrolebindings", False),
    "ValidatingAdmissionPolicy": ("validatingadmissionpolicies", False),
    "ValidatingAdmissionPolicyBinding": ("validatingadmissionpolicybindings", False),
    "Deployment": ("deployments", True),
    "ReplicaSet": ("replicasets", True),
    "Pod": ("pods", True),
    "Service": ("services", True),
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "ServiceAccount": ("serviceaccounts", True),
    "Role": ("roles", True),
    "RoleBinding": ("rolebindings", True),
    "ResourceQuota": ("resourcequotas", True),
    "LimitRange": ("limitranges", True),
    "Lease": ("leases", True),
    "Event": ("events", True),
}
_CLUSTER_SCOPED = {plural for plural, namespaced in _KINDS.values() if not namespaced}


class ApiError(Exception):
    def __init__(self, code: int, body: Any) -> None:
        self.code = code
        self.body = body
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"HTTP {code}: {message}")


def plural_of(kind: str) -> str:
    try:
        return _KINDS[kind][0]
    except KeyError:
        raise ValueError(f"the test client does not know the kind {kind!r}; add it to tests/realk8s/rest.py") from None


def path_of(api_version: str, plural: str, namespace: str | None, name: str | None = None) -> str:
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = prefix
    if namespace and plural not in _CLUSTER_SCOPED:
        path += f"/namespaces/{namespace}"
    path += f"/{plural}"
    if name:
        path += f"/{name}"
    return path


class Rest:
    """One persistent HTTPS connection per call (the harness is not performance-critical)."""

    def __init__(self, host: str, port: int, token: str, ca_file: str, timeout: float = 15.0) -> None:
        self.host, self.port, self.token, self.timeout = host, port, token, timeout
        self.context = ssl.create_default_context(cafile=ca_file)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        conn = http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=self.timeout)
        try:
            data = None
            if body is not None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            if data is not None:
                headers["Content-Type"] = content_type
            conn.request(method, path + ("?" + urlencode(query) if query else ""), body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        if resp.status >= 400:
            raise ApiError(resp.status, parsed)
        return parsed

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.request("GET", path_of(api_version, plural, namespace, name))
        except ApiError as exc:
            if exc.code == 404:
                return None
            raise
        return found

    def list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        query = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        items: list[dict[str, Any]] = self.request("GET", path_of(api_version, plural, namespace), query=query)["items"]
        return items

    def apply(self, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Server-side apply (create or update), forced, as the field manager ``hotfix-tests``."""
        meta = obj.setdefault("metadata", {})
        plural = plural_of(obj["kind"])
        ns = meta.get("namespace") or namespace
        if ns and plural not in _CLUSTER_SCOPED:
            meta["namespace"] = ns
        result: dict[str, Any] = self.request(
            "PATCH",
            path_of(obj["apiVersion"], plural, ns, meta["name"]),
            obj,
            query={"fieldManager": "hotfix-tests", "force": "true"},
            content_type="application/apply-patch+yaml",
        )
        return result

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str, **query: str) -> bool:
        try:
            self.request("DELETE", path_of(api_version, plural, namespace, name), query=query or None)
        except ApiError as exc:
            if exc.code == 404:
                return False
            raise
        return True
