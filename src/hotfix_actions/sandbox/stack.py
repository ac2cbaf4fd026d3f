"""A whole local production in one process: a cluster, one sample app per track, Prometheus, and a bridge.

Used by `hotfix demo`, `hotfix drill` (sandbox mode) and the end-to-end tests. The cluster is a sandbox it starts,
or one the caller passes in (``LocalStack.start(workdir, settings, cluster=...)``: anything with ``apply``, ``get``,
``wait_rollout`` and ``kubeconfig_path``, e.g. a namespace of the real control plane the tests run). Pods are
simulated either way (the sandbox's kubelet or kwok), so the *bridge* plays the part of the container runtime: it
watches which image each Deployment runs and sets the sample app of that track to behave like that image (error
rate, latency), as configured in ``behaviours``. A Deployment with no ready pod gets no traffic; a new version, or
pods Ready again after none, are new containers whose counters start from zero. Prometheus scrapes
both apps with the labels the canary gate's default queries select on (``namespace``, ``deployment``, ``track``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.sandbox.prometheus_runner import PrometheusRunner, Target, find_binary
from hotfix_actions.sandbox.sample_app import Knobs, SampleApp

__all__ = ["Behaviour", "Cluster", "LocalStack", "StackSettings", "deployment_manifest"]


class Cluster(Protocol):
    """What the stack needs of a cluster: the sandbox has it, and so has the tests' real control plane."""

    kubeconfig_path: Path

    def apply(self, source: Any) -> list[dict[str, Any]]: ...

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def wait_rollout(self, namespace: str, name: str, timeout: float = 10.0) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Behaviour:
    """How the app behaves when it runs an image whose reference matches ``pattern`` (a regular expression)."""

    pattern: str
    error_rate: float = 0.001
    latency_median: float = 0.03


@dataclass(frozen=True)
class StackSettings:
    namespace: str = "shop"
    deployment: str = "shop"
    container: str = "shop"
    image: str = "ghcr.io/acme/shop:1.4.2"
    replicas: int = 3
    ready_delay: float = 0.4
    crash_images: str = r":(crash|broken)"
    stable_rps: float = 60.0
    canary_rps: float = 30.0
    behaviours: Sequence[Behaviour] = field(
        default_factory=lambda: (
            Behaviour(r"-rc\d*$|:bad", error_rate=0.15),
            Behaviour(r"-slow$", latency_median=0.9),
            Behaviour(r".*", error_rate=0.001),
        )
    )
    prometheus: bool | None = None  # None: when the binary is installed
    port: int = 0


def deployment_manifest(s: StackSettings, *, name: str | None = None, track: str = "stable") -> dict[str, Any]:
    """A Deployment like examples/k8s/deployment.yaml, small enough for the sandbox."""
    name = name or s.deployment
    labels = {"app": s.deployment, "track": track}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": s.namespace, "labels": dict(labels)},
        "spec": {
            "replicas": s.replicas,
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 30,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [
                        {
                            "name": s.container,
                            "image": s.image,
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
                        }
                    ]
                },
            },
        },
    }


class LocalStack:
    """Start with :meth:`start`; stop with :meth:`stop` (or use it as a context manager)."""

    def __init__(self, settings: StackSettings, workdir: Path, cluster: Cluster | None = None) -> None:
        self.settings = settings
        self.workdir = workdir
        self.sandbox: Sandbox | None = None  # the sandbox this stack started, if it started one
        self.cluster: Cluster | None = cluster
        self.apps: dict[str, SampleApp] = {}
        self.prometheus: PrometheusRunner | None = None
        self._stop = threading.Event()
        self._bridge: threading.Thread | None = None
        self.images: dict[str, str | None] = {}

    # -- life cycle ----------------------------------------------------------------------------------
    @classmethod
    def start(cls, workdir: Path, settings: StackSettings | None = None, cluster: Cluster | None = None) -> LocalStack:
        stack = cls(settings or StackSettings(), workdir, cluster)
        try:
            stack._start()
        except BaseException:
            stack.stop()
            raise
        return stack

    def _start(self) -> None:
        s = self.settings
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.cluster is None:
            self.sandbox = Sandbox.start(
                ready_delay=s.ready_delay,
                crash_images=s.crash_images,
                port=s.port,
                kubeconfig_path=str(self.workdir / "kubeconfig"),
            )
            self.cluster = self.sandbox
            self.cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.namespace}})
        cluster = self.cluster
        cluster.apply(deployment_manifest(s))
        cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": s.deployment, "namespace": s.namespace},
                "spec": {
                    "selector": {"app": s.deployment},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                },
            }
        )
        cluster.wait_rollout(s.namespace, s.deployment, timeout=30)
        for track in ("stable", "canary"):
            self.apps[track] = SampleApp.start(Knobs(load_rps=0.0))
        if self._want_prometheus():
            self.prometheus = PrometheusRunner.start(self.workdir / "prometheus", self._targets())
            self.prometheus.wait_for_targets(count=2)
        self._sync()
        self._bridge = threading.Thread(target=self._run_bridge, name="stack-bridge", daemon=True)
        self._bridge.start()

    def _want_prometheus(self) -> bool:
        if self.settings.prometheus is not None:
            return self.settings.prometheus
        try:
            find_binary()
        except FileNotFoundError:
            return False
        return True

    def _targets(self) -> list[Target]:
        s = self.settings
        return [
            Target(
                self.apps["stable"].address, {"namespace": s.namespace, "deployment": s.deployment, "track": "stable"}
            ),
            Target(
                self.apps["canary"].address,
                {"namespace": s.namespace, "deployment": self.canary_name, "track": "canary"},
            ),
        ]

    def stop(self) -> None:
        self._stop.set()
        if self._bridge is not None:
            self._bridge.join(timeout=5)
        if self.prometheus is not None:
            self.prometheus.stop()
            self.prometheus = None
        for app in self.apps.values():
            app.stop()
        self.apps.clear()
        if self.sandbox is not None:
            self.sandbox.stop()
            self.sandbox = None

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what callers need ---------------------------------------------------------------------------
    @property
    def canary_name(self) -> str:
        return f"{self.settings.deployment}-canary"

    @property
    def kubeconfig_path(self) -> str:
        assert self.cluster is not None
        return str(self.cluster.kubeconfig_path)

    @property
    def prometheus_url(self) -> str | None:
        return self.prometheus.url if self.prometheus is not None else None

    def env(self) -> dict[str, str]:
        """Environment for `hotfix` commands aimed at this stack."""
        env = {"KUBECONFIG": self.kubeconfig_path, "HOTFIX_NAMESPACE": self.settings.namespace}
        if self.prometheus_url:
            env["HOTFIX_PROMETHEUS_URL"] = self.prometheus_url
            env["HOTFIX_SCRAPE_INTERVAL"] = "1s"  # the local Prometheus scrapes every second (canary --scrape-interval)
        return env

    def image_of(self, deployment: str) -> str | None:
        assert self.cluster is not None
        obj = self.cluster.get("apps/v1", "deployments", self.settings.namespace, deployment)
        if not obj:
            return None
        containers = obj["spec"]["template"]["spec"].get("containers") or []
        return str(containers[0]["image"]) if containers else None

    def ready_replicas_of(self, deployment: str) -> int:
        """Ready pods: a crash-looping image serves nothing."""
        assert self.cluster is not None
        obj = self.cluster.get("apps/v1", "deployments", self.settings.namespace, deployment)
        return int((obj.get("status") or {}).get("readyReplicas") or 0) if obj else 0

    def behaviour(self, image: str) -> Behaviour:
        for b in self.settings.behaviours:
            if re.search(b.pattern, image):
                return b
        return Behaviour(".*")

    # -- the bridge: images -> app behaviour ----------------------------------------------------------
    def _sync(self) -> None:
        s = self.settings
        for track, name, rps in (("stable", s.deployment, s.stable_rps), ("canary", self.canary_name, s.canary_rps)):
            image = self.image_of(name)
            running = image is not None and self.ready_replicas_of(name) > 0
            key = f"{image}|{running}"
            previous = self.images.get(track)
            if previous == key:
                continue
            self.images[track] = key
            app = self.apps[track]
            if not running or image is None:
                app.set(load_rps=0.0)
                continue
            if previous is not None:
                # new pods (another version, or running again after none was Ready) are new containers: their
                # counters start from zero, so what ran before (and Prometheus had not scraped yet) is not
                # reported as theirs
                app.restart_counters()
            b = self.behaviour(image)
            app.set(error_rate=b.error_rate, latency_median=b.latency_median, load_rps=rps)

    def _run_bridge(self) -> None:
        while not self._stop.wait(0.2):
            try:
                self._sync()
            except Exception:  # noqa: S112 - the bridge must outlive a transient sandbox fault
                continue
