"""``Sandbox``: the simulated cluster as one object (server thread + controllers + store + faults + kubeconfig)."""

from __future__ import annotations

import copy
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from hotfix_actions.sandbox.api import Api, Obj
from hotfix_actions.sandbox.controllers import Controllers
from hotfix_actions.sandbox.faults import Faults
from hotfix_actions.sandbox.resources import Resource, by_plural
from hotfix_actions.sandbox.server import SandboxServer
from hotfix_actions.sandbox.settings import Settings
from hotfix_actions.sandbox.status import ApiError
from hotfix_actions.sandbox.store import Store

__all__ = ["Sandbox", "load_manifests", "write_kubeconfig"]


def write_kubeconfig(path: Path, url: str, namespace: str = "default") -> Path:
    """A kubeconfig for ``url``: plain http, no credentials, context ``sandbox``; written owner-only."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "sandbox", "cluster": {"server": url}}],
        "users": [{"name": "sandbox", "user": {}}],
        "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox", "namespace": namespace}}],
        "current-context": "sandbox",
        "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    tmp.replace(path)
    return path


def load_manifests(source: Mapping[str, Any] | str | Sequence[Mapping[str, Any]]) -> list[Obj]:
    """Objects from a dict, a list of dicts, or YAML/JSON text (multi-document; ``kind: List`` is expanded)."""
    if isinstance(source, str):
        docs: list[Any] = [d for d in yaml.safe_load_all(source) if d]
    elif isinstance(source, Mapping):
        docs = [dict(source)]
    else:
        docs = [dict(d) for d in source]
    out: list[Obj] = []
    for doc in docs:
        if not isinstance(doc, dict):
            raise ValueError(f"a manifest must be a mapping, got {type(doc).__name__}")
        if doc.get("kind") == "List" or (str(doc.get("kind", "")).endswith("List") and "items" in doc):
            out.extend(copy.deepcopy(doc.get("items") or []))
        else:
            out.append(copy.deepcopy(doc))
    return out


def _resource(api_version: str, plural: str) -> Resource:
    group, _, version = api_version.rpartition("/")
    res = by_plural(group, version, plural)
    if res is None:
        raise ValueError(f"the sandbox does not serve {plural} in {api_version}")
    return res


class Sandbox:
    """A running simulated cluster. Use ``Sandbox.start(...)`` as a context manager; ``stop()`` is idempotent."""

    def __init__(
        self, settings: Settings, *, port: int = 0, snapshot: Path | None = None, kubeconfig_path: Path | None = None
    ) -> None:
        self.settings = settings
        self.snapshot_path = snapshot
        self.store = Store()
        self.api = Api(self.store, settings)
        self.faults = Faults()
        if snapshot is not None and snapshot.is_file():
            import json

            self.store.load(json.loads(snapshot.read_text(encoding="utf-8")))
        self.api.bootstrap()
        self.controllers = Controllers(self.api, settings)
        self._server = SandboxServer(port, self.api, self.faults, self._control)
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._own_dir: str | None = None
        if kubeconfig_path is None:
            self._own_dir = tempfile.mkdtemp(prefix="hotfix-sandbox-")
            kubeconfig_path = Path(self._own_dir) / "kubeconfig"
        self.kubeconfig_path = write_kubeconfig(Path(kubeconfig_path), self.url)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-http-{self.port}",
            daemon=True,
        )
        self._stopped = False
        self.started_at = time.time()

    @classmethod
    def start(
        cls,
        *,
        ready_delay: float = 0.3,
        crash_images: str | re.Pattern[str] | None = None,
        tick: float = 0.05,
        snapshot: str | Path | None = None,
        port: int = 0,
        kubeconfig_path: str | Path | None = None,
        progress_deadline_default: int = 600,
        pull_fail_images: str | re.Pattern[str] | None = None,
        crash_period: float = 1.0,
        crash_after: float = 1.0,
        terminate_delay: float = 0.3,
        deny_images: str | re.Pattern[str] | None = None,
    ) -> Sandbox:
        """Start the API server on 127.0.0.1 (``port=0``: a free port) and the controllers."""
        settings = Settings(
            ready_delay=ready_delay,
            crash_images=Settings.pattern(crash_images),
            pull_fail_images=Settings.pattern(pull_fail_images),
            tick=tick,
            progress_deadline_default=progress_deadline_default,
            crash_period=crash_period,
            crash_after=crash_after,
            terminate_delay=terminate_delay,
            deny_images=Settings.pattern(deny_images),
        )
        sb = cls(
            settings,
            port=port,
            snapshot=Path(snapshot) if snapshot else None,
            kubeconfig_path=Path(kubeconfig_path) if kubeconfig_path else None,
        )
        sb._thread.start()
        sb.controllers.start()
        return sb

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving, end every watch, save the snapshot (if one was named), remove a kubeconfig it created."""
        if self._stopped:
            return
        self._stopped = True
        self.controllers.stop()
        self._server.close_connections()
        self.store.close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if self.snapshot_path is not None:
            self.store.save(self.snapshot_path)
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    # -- direct access for tests and tools ----------------------------------------------------------------------
    def apply(self, source: Mapping[str, Any] | str | Sequence[Mapping[str, Any]]) -> list[Obj]:
        """Create or update objects (dict, list of dicts, or YAML text); returns them as stored."""
        return [self.api.apply(obj) for obj in load_manifests(source)]

    def get(self, api_version: str, plural: str, namespace: str | None, name: str) -> Obj | None:
        """One object as stored, or None: ``sb.get("apps/v1", "deployments", "default", "web")``."""
        return self.store.get(_resource(api_version, plural), namespace or "", name)

    def list(
        self,
        api_version: str,
        plural: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        return self.api.list(_resource(api_version, plural), namespace, label_selector, field_selector)[0]

    def delete(self, api_version: str, plural: str, namespace: str | None, name: str) -> bool:
        try:
            self.api.delete(_resource(api_version, plural), namespace or "", name)
        except ApiError as exc:
            if exc.code == 404:
                return False
            raise
        return True

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
        """Poll ``predicate`` until it returns something truthy; TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)

    def rollout_complete(self, namespace: str, name: str) -> bool:
        """kubectl's ``rollout status`` success rule, evaluated on the stored Deployment."""
        d = self.get("apps/v1", "deployments", namespace, name)
        if d is None:
            return False
        st, spec = d.get("status") or {}, d.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        return (
            int(d["metadata"].get("generation") or 0) <= int(st.get("observedGeneration") or 0)
            and int(st.get("updatedReplicas") or 0) >= replicas
            and int(st.get("replicas") or 0) <= int(st.get("updatedReplicas") or 0)
            and int(st.get("availableReplicas") or 0) >= int(st.get("updatedReplicas") or 0)
        )

    def wait_rollout(self, namespace: str, name: str, timeout: float = 10.0) -> Obj:
        """Wait until the Deployment has rolled out (kubectl's rule); returns it."""
        self.wait_for(lambda: self.rollout_complete(namespace, name), timeout)
        found = self.get("apps/v1", "deployments", namespace, name)
        assert found is not None
        return found

    def unserved(self) -> Sequence[Obj]:
        """Requests the server did not fully serve: unknown query parameters or paths, refused methods, bodies or
        Accept headers (``sandbox.unserved``); tests fail on them."""
        return self._server.unserved.entries()

    def save_snapshot(self, path: str | Path | None = None) -> Path:
        target = Path(path) if path else self.snapshot_path
        if target is None:
            raise ValueError("no snapshot path: pass one or start the sandbox with snapshot=")
        self.store.save(target)
        return target

    def health(self) -> dict[str, Any]:
        return {
            "ok": True,
            "url": self.url,
            "pid": os.getpid(),
            "resourceVersion": self.store.resource_version,
            "objects": self.store.count(),
            "kubeconfig": str(self.kubeconfig_path),
            "uptime": round(time.time() - self.started_at, 3),
        }

    # -- /_sandbox/* --------------------------------------------------------------------------------------------
    def _control(self, method: str, name: str, body: Any) -> Any:
        if name == "healthz":
            return self.health()
        if name == "faults":
            if method == "POST":
                self.faults.configure(body or {})
            return self.faults.state()
        if name == "snapshot":
            if method == "POST":
                return {"saved": str(self.save_snapshot((body or {}).get("path")))}
            return self.store.dump()
        if name == "settings":
            if method == "POST":
                for key in ("ready_delay", "crash_period", "crash_after", "terminate_delay", "tick"):
                    if key in body:
                        setattr(self.settings, key, float(body[key]))
                if "deny_message" in body:
                    self.settings.deny_message = str(body["deny_message"])
                for key in ("crash_images", "pull_fail_images", "deny_images"):
                    if key in body:
                        setattr(self.settings, key, Settings.pattern(body[key]))
            s = self.settings
            return {
                "ready_delay": s.ready_delay,
                "crash_period": s.crash_period,
                "crash_after": s.crash_after,
                "terminate_delay": s.terminate_delay,
                "deny_images": s.deny_images.pattern if s.deny_images else None,
                "tick": s.tick,
                "crash_images": s.crash_images.pattern if s.crash_images else None,
                "pull_fail_images": s.pull_fail_images.pattern if s.pull_fail_images else None,
            }
        if name == "apply" and method == "POST":
            objects = body.get("objects") if isinstance(body, dict) and "objects" in body else body
            if not isinstance(objects, dict | list | str):
                raise ValueError("POST /_sandbox/apply wants objects: a list of objects, one object or YAML text")
            return {"applied": [f"{o['kind']}/{o['metadata']['name']}" for o in self.apply(objects)]}
        raise ApiError(404, f"no sandbox control endpoint {name!r}")
