"""One suite, two clusters (house rule 13): the ``kube`` fixture runs a test on the sandbox and on the real
control plane (kube-apiserver, kube-controller-manager, kube-scheduler, etcd and kwok built from their Go modules,
see tests/realk8s), through the same object:

    def test_something(kube: KubeUnderTest) -> None:
        kube.apply(deployment(namespace=kube.namespace))          # the harness's own (admin) access
        kube.wait_rollout(kube.namespace, "web")
        hotfix(..., kubeconfig=kube.kubeconfig_path)                # the tool: on the real cluster it holds only
                                                                    # the least-privilege Role of examples/k8s/rbac.yaml

Image conventions on both: ``...:bad`` / ``...:crash`` become Ready and then crash and restart (CrashLoopBackOff,
restartCount climbing), ``...:nopull`` waits in ImagePullBackOff, anything else is Ready after a short delay.

The real control plane starts once per test session (about 6-15 s) and every test gets its own namespace, with a
service account bound to the tool's Role; the namespace is deleted afterwards. ``real_control_plane`` is the
session fixture; the binaries come from ``scripts/install-kubernetes`` (a missing part fails the test, never skips).
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml

from hotfix_actions.sandbox import Sandbox, load_manifests
from tests.realk8s.controlplane import ControlPlane
from tests.realk8s.rest import ApiError, plural_of

__all__ = ["KubeUnderTest", "RealCluster", "SandboxCluster", "kube", "real_control_plane", "rollout_complete"]

RBAC = Path(__file__).resolve().parents[1] / "examples" / "k8s" / "rbac.yaml"
TOOL_ACCOUNT = "hotfix-actions"


def rollout_complete(d: Mapping[str, Any] | None) -> bool:
    """kubectl's ``rollout status`` success rule on a Deployment as read."""
    if not d:
        return False
    st, spec = d.get("status") or {}, d.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    progressing = next((c for c in st.get("conditions") or [] if c.get("type") == "Progressing"), {})
    return (
        int(d["metadata"].get("generation") or 0) <= int(st.get("observedGeneration") or 0)
        and progressing.get("reason") != "ProgressDeadlineExceeded"
        and int(st.get("updatedReplicas") or 0) >= replicas
        and int(st.get("replicas") or 0) <= int(st.get("updatedReplicas") or 0)
        and int(st.get("availableReplicas") or 0) >= int(st.get("updatedReplicas") or 0)
    )


class KubeUnderTest(Protocol):
    kind: str  # "sandbox" or "real"
    namespace: str
    kubeconfig_path: Path

    def apply(self, source: Mapping[str, Any] | str | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def list(
        self, api_version: str, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]: ...

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> bool: ...

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any: ...

    def rollout_complete(self, namespace: str, name: str) -> bool: ...

    def wait_rollout(self, namespace: str, name: str, timeout: float = 10.0) -> dict[str, Any]: ...


def _wait_for(predicate: Callable[[], Any], timeout: float, interval: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


class SandboxCluster:
    """The sandbox behind the common interface (the Sandbox object itself stays reachable as ``.sandbox``)."""

    kind = "sandbox"

    def __init__(self, sandbox: Sandbox, namespace: str = "default") -> None:
        self.sandbox = sandbox
        self.namespace = namespace
        self.kubeconfig_path = sandbox.kubeconfig_path

    def apply(self, source: Mapping[str, Any] | str | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return self.sandbox.apply(source)

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.sandbox.get(api_version, plural, namespace, name)

    def list(
        self, api_version: str, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        return self.sandbox.list(api_version, plural, namespace, label_selector)

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> bool:
        return self.sandbox.delete(api_version, plural, namespace, name)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
        return _wait_for(predicate, timeout, interval)

    def rollout_complete(self, namespace: str, name: str) -> bool:
        return rollout_complete(self.get("apps/v1", "deployments", namespace, name))

    def wait_rollout(self, namespace: str, name: str, timeout: float = 10.0) -> dict[str, Any]:
        self.wait_for(lambda: self.rollout_complete(namespace, name), timeout)
        found = self.get("apps/v1", "deployments", namespace, name)
        assert found is not None
        return found


class RealCluster:
    """One namespace of the real control plane. The harness acts as admin; ``kubeconfig_path`` holds the token of
    the namespace's ``hotfix-actions`` service account, bound to the Role in examples/k8s/rbac.yaml."""

    kind = "real"

    def __init__(self, cp: ControlPlane, namespace: str, folder: Path, *, tool_rbac: bool = True) -> None:
        self.cp = cp
        self.rest = cp.rest
        self.namespace = namespace
        self.folder = folder
        self.rest.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        if tool_rbac:
            for obj in load_manifests(RBAC.read_text(encoding="utf-8")):
                self.rest.apply(obj, namespace)
            token = self.token_for(TOOL_ACCOUNT)
        else:
            token = cp.admin_token
        self.kubeconfig_path = cp.kubeconfig_for_token(token, folder / f"kubeconfig-{namespace}", namespace)

    def token_for(self, account: str, seconds: int = 3600) -> str:
        """A bound token of a service account in this namespace (the TokenRequest API, as `kubectl create token`)."""
        if self.rest.get("v1", "serviceaccounts", self.namespace, account) is None:
            self.rest.apply(
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account}}, self.namespace
            )
        answer = self.rest.request(
            "POST",
            f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": seconds}},
        )
        return str(answer["status"]["token"])

    def apply(self, source: Mapping[str, Any] | str | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [self.rest.apply(obj, self.namespace) for obj in load_manifests(source)]

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.rest.get(api_version, plural, namespace, name)

    def list(
        self, api_version: str, plural: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        return self.rest.list(api_version, plural, namespace, label_selector)

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> bool:
        return self.rest.delete(api_version, plural, namespace, name)

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
        return _wait_for(predicate, timeout, interval)

    def rollout_complete(self, namespace: str, name: str) -> bool:
        return rollout_complete(self.get("apps/v1", "deployments", namespace, name))

    def wait_rollout(self, namespace: str, name: str, timeout: float = 20.0) -> dict[str, Any]:
        self.wait_for(lambda: self.rollout_complete(namespace, name), timeout)
        found = self.get("apps/v1", "deployments", namespace, name)
        assert found is not None
        return found

    def cleanup(self, *, wait: float = 0.0) -> None:
        """Delete the namespace; its contents go in the background, or within ``wait`` seconds when asked (for a
        namespace name the next test reuses)."""
        with contextlib.suppress(ApiError):
            self.rest.delete("v1", "namespaces", None, self.namespace)
        if wait:
            self.wait_for(lambda: self.rest.get("v1", "namespaces", None, self.namespace) is None, wait, 0.2)


def make_objects_namespaced(objs: Sequence[Mapping[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """Copies of ``objs`` placed in ``namespace`` (for manifests written for "default")."""
    out = []
    for obj in objs:
        copy = yaml.safe_load(yaml.safe_dump(dict(obj)))
        if plural_of(copy["kind"]) not in {"namespaces", "nodes", "clusterroles", "clusterrolebindings"}:
            copy.setdefault("metadata", {})["namespace"] = namespace
        out.append(copy)
    return out


@pytest.fixture(scope="session")
def real_control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """The real control plane, once per session, stopped by pid at the end."""
    cp = ControlPlane.start(tmp_path_factory.mktemp("realk8s"))
    try:
        yield cp
    finally:
        cp.stop()


def _sandbox() -> Sandbox:
    from tests.kube.kubefix import start_sandbox

    return start_sandbox()


@pytest.fixture(params=["sandbox", "real"])
def kube(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[KubeUnderTest]:
    """A cluster to test on: the sandbox, then the real control plane (a fresh namespace each time)."""
    if request.param == "sandbox":
        with _sandbox() as sb:
            yield SandboxCluster(sb)
        return
    cp: ControlPlane = request.getfixturevalue("real_control_plane")
    cluster = RealCluster(cp, f"t-{secrets.token_hex(4)}", tmp_path)
    try:
        yield cluster
    finally:
        cluster.cleanup()
