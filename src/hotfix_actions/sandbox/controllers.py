"""Runs the simulated kubelet, ReplicaSet and Deployment controllers on one background thread.

The thread wakes every ``tick`` seconds and at once after every write, so a rollout with ``ready_delay=0.3`` completes
within a few ticks of its pods becoming Ready.
"""

from __future__ import annotations

import logging
import threading
import time

from hotfix_actions.sandbox.admission import sync_quotas
from hotfix_actions.sandbox.api import Api
from hotfix_actions.sandbox.deployments import DeploymentController
from hotfix_actions.sandbox.pods import Kubelet, ReplicaSetController
from hotfix_actions.sandbox.resources import resource
from hotfix_actions.sandbox.settings import Settings

__all__ = ["Controllers"]

_log = logging.getLogger(__name__)
NAMESPACES = resource("", "v1", "namespaces")


class Controllers:
    def __init__(self, api: Api, settings: Settings) -> None:
        self.api = api
        self.settings = settings
        self.kubelet = Kubelet(api, settings)
        self.replicasets = ReplicaSetController(api, self.kubelet)
        self.deployments = DeploymentController(api)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0
        self._terminating: dict[str, float] = {}  # namespace -> when the controllers first saw it Terminating
        api.store.on_change(self._wake.set)

    def run_once(self, now: float | None = None) -> None:
        """One reconciliation pass over every pod, ReplicaSet and Deployment (under the store lock)."""
        moment = time.time() if now is None else now
        with self.api.store.lock:
            self.kubelet.sync(moment)
            self.replicasets.sync(moment)
            self.deployments.sync(moment)
            sync_quotas(self.api.store, self.api.write_internal)
            self._namespaces(moment)
            self.passes += 1

    def _namespaces(self, now: float) -> None:
        """The namespace controller: a Terminating namespace loses its contents after ``namespace_grace``."""
        namespaces = self.api.store.list(NAMESPACES)[0]
        terminating = {n["metadata"]["name"] for n in namespaces if n["metadata"].get("deletionTimestamp")}
        for name in terminating:
            since = self._terminating.setdefault(name, now)
            if now - since >= self.settings.namespace_grace:
                self.api.finalize_namespace(name)
        self._terminating = {k: v for k, v in self._terminating.items() if k in terminating}

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.settings.tick)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.run_once()
            except Exception:  # a controller bug must not kill the sandbox; it is logged and retried next tick
                _log.exception("sandbox controller pass failed")
                time.sleep(self.settings.tick)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="sandbox-controllers", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
