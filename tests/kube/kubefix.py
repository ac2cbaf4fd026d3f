"""Shared fixtures and builders for the cluster-adapter and rollback tests: a real sandbox API server on 127.0.0.1,
the real client connected to it, manifests, a reporter that writes to strings, recording GitHub/notify doubles."""

from __future__ import annotations

import http.server
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest

from hotfix_actions.kube import ConnectOptions, RetryPolicy, connect
from hotfix_actions.kube.cluster import KubeCluster
from hotfix_actions.kube.probe import HttpProbe
from hotfix_actions.ports import Event
from hotfix_actions.report import Reporter
from hotfix_actions.sandbox import Sandbox
from hotfix_actions.services.rollback import Context

NS = "default"
GOOD = "registry.example/web:1.0"
GOOD2 = "registry.example/web:1.1"
BAD = "registry.example/web:bad"  # the sandbox crash-loops images matching :bad or :crash
FAST = RetryPolicy(
    connect_timeout=1.0, request_timeout=2.0, retries=5, backoff_initial=0.01, backoff_max=0.05, deadline=3.0
)


def deployment(
    name: str = "web",
    image: str = GOOD,
    replicas: int = 2,
    *,
    labels: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    namespace: str = NS,
    **spec: Any,
) -> dict[str, Any]:
    pod_labels = {"app": name, **(labels or {})}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": pod_labels},
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {"containers": containers or [{"name": "web", "image": image}]},
            },
            **spec,
        },
    }


def service(name: str, selector: dict[str, str], namespace: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]},
    }


def image_of(sb: Sandbox, name: str = "web", namespace: str = NS) -> str:
    dep = sb.get("apps/v1", "deployments", namespace, name)
    assert dep is not None
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"])


def rs_images(sb: Sandbox, name: str = "web") -> dict[int, str]:
    """revision -> image of the Deployment's ReplicaSets."""
    found = {}
    for rs in sb.list("apps/v1", "replicasets", NS):
        if rs["metadata"]["name"].startswith(f"{name}-"):
            rev = int(rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
            found[rev] = rs["spec"]["template"]["spec"]["containers"][0]["image"]
    return found


def start_sandbox(**kwargs: Any) -> Sandbox:
    settings = {
        "ready_delay": 0.05,
        "crash_images": r":(bad|crash)",
        "pull_fail_images": r":nopull",
        "tick": 0.02,
        "crash_period": 0.2,
    }
    settings.update(kwargs)
    return Sandbox.start(**settings)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox() as sb:
        yield sb


@pytest.fixture
def cluster(sandbox: Sandbox) -> Iterator[KubeCluster]:
    with connect(ConnectOptions(kubeconfig=str(sandbox.kubeconfig_path)), FAST, poll_interval=0.05) as kc:
        yield kc


def reporter() -> Reporter:
    return Reporter(out=io.StringIO(), err=io.StringIO())


def printed(rep: Reporter) -> str:
    out = rep.out.getvalue() if isinstance(rep.out, io.StringIO) else ""
    err = rep.err.getvalue() if isinstance(rep.err, io.StringIO) else ""
    return out + err


@dataclass
class RecordingDeployments:
    """ports.Deployments double: records calls; ``last`` is what last_successful returns."""

    last: dict[str, str] | None = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def start(self, environment: str, ref: str, payload: dict[str, str], description: str) -> int | None:
        self.calls.append(("start", environment, ref, dict(payload)))
        return len(self.calls)

    def finish(self, deployment_id: int | None, state: str, description: str, log_url: str = "") -> None:
        self.calls.append(("finish", deployment_id, state))

    def last_successful(self, environment: str) -> dict[str, str] | None:
        self.calls.append(("last_successful", environment))
        return self.last


@dataclass
class RecordingNotifier:
    fail: bool = False
    events: list[Event] = field(default_factory=list)

    def notify(self, event: Event) -> str | None:
        self.events.append(event)
        return "webhook answered HTTP 500" if self.fail else None


def context(cluster: KubeCluster, **kwargs: Any) -> Context:
    kwargs.setdefault("sleep", lambda _s: None)
    return Context(cluster=cluster, reporter=kwargs.pop("reporter", reporter()), probe=HttpProbe(), **kwargs)


class _Handler(http.server.BaseHTTPRequestHandler):
    statuses: ClassVar[list[int]] = []

    def do_GET(self) -> None:
        code = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def http_app() -> Iterator[tuple[str, list[int]]]:
    """A local HTTP server answering the statuses in the returned list (the last one repeats)."""
    statuses = [200]
    handler = type("H", (_Handler,), {"statuses": statuses})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/healthz", statuses
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
