"""The real Kubernetes control plane on 127.0.0.1: etcd, kube-apiserver (TLS, static tokens, RBAC + Node
authorisation, service-account keys), kube-controller-manager, kube-scheduler and kwok playing the kubelet of fake
nodes, all in one temporary folder, each process started in its own session and stopped by pid.

    with ControlPlane.start() as cp:          # about 10-20 s on 2 cores once the binaries are built
        cp.admin_kubeconfig                   # system:masters, for the tests' own setup
        cp.rest                               # tests.realk8s.rest.Rest with the admin token
        cp.kubeconfig_for_token(token, path)  # a kubeconfig for another identity (e.g. the tool's)
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from hotfix_actions.sandbox.prometheus_runner import free_port
from tests.realk8s import binaries
from tests.realk8s.pki import make_pki
from tests.realk8s.rest import ApiError, Rest

__all__ = ["ControlPlane", "StartError"]

STAGES = Path(__file__).with_name("stages.yaml")
NODE_ANNOTATION = "kwok.x-k8s.io/node"


class StartError(RuntimeError):
    """The control plane did not come up; the message names the process and the tail of its log."""


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the process that started it dies (a killed test run leaves no
    control plane behind; the normal path still stops each process by pid)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM to the process group, SIGKILL after ``grace`` seconds; reaped either way."""
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)


def kubeconfig(
    path: Path, server: str, ca_file: Path, token: str, namespace: str = "default", name: str = "real"
) -> Path:
    ca_data = base64.b64encode(ca_file.read_bytes()).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        # the CA inline, so the kubeconfig works wherever it is copied (a secret, a runner's temp folder)
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": ca_data}}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    return path


@dataclass
class ControlPlane:
    folder: Path
    port: int
    ca_file: Path
    admin_token: str
    admin_kubeconfig: Path
    procs: list[Proc] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)
    started_in: float = 0.0
    _own_folder: bool = False

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def rest(self) -> Rest:
        return Rest("127.0.0.1", self.port, self.admin_token, str(self.ca_file))

    def kubeconfig_for_token(self, token: str, path: Path, namespace: str = "default") -> Path:
        return kubeconfig(path, self.server, self.ca_file, token, namespace)

    def pids(self) -> dict[str, int]:
        return {p.name: p.popen.pid for p in self.procs}

    # -- start -------------------------------------------------------------------------------------------------
    @classmethod
    def start(cls, folder: Path | None = None, *, nodes: int = 1, timeout: float = 90.0) -> ControlPlane:
        """Start everything and wait until a fake node is Ready and the default service account exists.

        A port is chosen free and bound a moment later by etcd or the apiserver; when another process took it in
        between ("address already in use", seen with four test workers), the start begins again from an empty
        folder with new ports, up to three times."""
        for attempt in range(3):
            try:
                return cls._start_once(folder, nodes=nodes, timeout=timeout)
            except StartError as exc:
                if "address already in use" not in str(exc) or attempt == 2:
                    raise
                if folder is not None:
                    for child in folder.iterdir():
                        if child.is_dir() and not child.is_symlink():
                            shutil.rmtree(child)
                        else:
                            child.unlink()
        raise AssertionError("unreachable")

    @classmethod
    def _start_once(cls, folder: Path | None, *, nodes: int, timeout: float) -> ControlPlane:
        began = time.monotonic()
        bins = binaries.find()
        own = folder is None
        if folder is None:
            import tempfile

            folder = Path(tempfile.mkdtemp(prefix="hotfix-realk8s-"))
        folder.mkdir(parents=True, exist_ok=True)
        if any(folder.iterdir()):
            raise StartError(f"{folder} is not empty: a control plane starts from an empty folder")
        pki = make_pki(folder / "pki")
        tokens = {name: secrets.token_hex(16) for name in ("admin", "kcm", "scheduler", "kwok")}
        # token,user,uid,"groups": the control-plane components are system:masters (test infrastructure); the
        # tool under test gets its own least-privilege service-account token (tests/realk8s/rbac).
        (folder / "tokens.csv").write_text(
            f'{tokens["admin"]},admin,admin,"system:masters"\n'
            f'{tokens["kcm"]},system:kube-controller-manager,kcm,"system:masters"\n'
            f'{tokens["scheduler"]},system:kube-scheduler,scheduler,"system:masters"\n'
            f'{tokens["kwok"]},kwok,kwok,"system:masters"\n',
            encoding="utf-8",
        )
        (folder / "tokens.csv").chmod(0o600)
        port = free_port()
        server = f"https://127.0.0.1:{port}"
        configs = {
            name: kubeconfig(folder / f"{name}.kubeconfig", server, pki["ca.crt"], tok) for name, tok in tokens.items()
        }
        cp = cls(folder, port, pki["ca.crt"], tokens["admin"], configs["admin"], _own_folder=own)
        try:
            etcd_client, etcd_peer = free_port(), free_port()
            cp._spawn(
                "etcd",
                [
                    bins["etcd"], "--name=default", f"--data-dir={folder / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
                    f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
                    f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
                    f"--initial-cluster=default=http://127.0.0.1:{etcd_peer}",
                    "--unsafe-no-fsync", "--log-level=warn", "--quota-backend-bytes=1073741824",
                ],
            )  # fmt: skip
            cp._spawn(
                "kube-apiserver",
                [
                    bins["kube-apiserver"], f"--etcd-servers=http://127.0.0.1:{etcd_client}",
                    "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={port}",
                    f"--tls-cert-file={pki['apiserver.crt']}", f"--tls-private-key-file={pki['apiserver.key']}",
                    f"--client-ca-file={pki['ca.crt']}", f"--token-auth-file={folder / 'tokens.csv'}",
                    "--authorization-mode=RBAC,Node",
                    f"--service-account-key-file={pki['sa.pub']}",
                    f"--service-account-signing-key-file={pki['sa.key']}",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true", "--profiling=false",
                    "--event-ttl=10m", "--endpoint-reconciler-type=none", "--v=0",
                ],
            )  # fmt: skip
            cp._wait(cp.answers, "kube-apiserver /readyz", began + timeout)
            cp._spawn(
                "kube-controller-manager",
                [
                    bins["kube-controller-manager"], f"--kubeconfig={configs['kcm']}", "--leader-elect=false",
                    "--controllers=*,-node-ipam-controller,-node-lifecycle-controller",
                    f"--service-account-private-key-file={pki['sa.key']}", f"--root-ca-file={pki['ca.crt']}",
                    "--use-service-account-credentials=false", "--bind-address=127.0.0.1", "--secure-port=0",
                    "--profiling=false", "--v=0",
                ],
            )  # fmt: skip
            cp._spawn(
                "kube-scheduler",
                [
                    bins["kube-scheduler"], f"--kubeconfig={configs['scheduler']}", "--leader-elect=false",
                    "--bind-address=127.0.0.1", "--secure-port=0", "--profiling=false", "--v=0",
                ],
            )  # fmt: skip
            cp._spawn(
                "kwok",
                [
                    bins["kwok"], f"--kubeconfig={configs['kwok']}", "--manage-all-nodes=false",
                    f"--manage-nodes-with-annotation-selector={NODE_ANNOTATION}=fake", f"--config={STAGES}",
                    "--node-ip=127.0.0.1", "--cidr=10.244.0.0/16",
                ],
            )  # fmt: skip
            for i in range(nodes):
                cp.add_node(f"kwok-node-{i}")
            cp._wait(cp._nodes_ready, "a Ready kwok node", began + timeout)
            cp._untaint_nodes()
            cp._wait(
                lambda: cp.rest.get("v1", "serviceaccounts", "default", "default") is not None,
                "the default service account (kube-controller-manager)",
                began + timeout,
            )
        except BaseException:
            cp.stop()
            raise
        cp.started_in = time.monotonic() - began
        return cp

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = self.folder / f"{name}.log"
        with open(log, "wb") as out:
            popen = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                cwd=self.folder, preexec_fn=_die_with_parent,  # noqa: PLW1509 (only prctl runs there)
            )  # fmt: skip
        self.procs.append(Proc(name, popen, log))

    def _check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                raise StartError(f"{proc.name} exited with status {proc.popen.returncode}:\n{proc.tail()}")

    def _wait(self, ready: Any, what: str, deadline: float) -> None:
        while True:
            self._check_alive()
            try:
                if ready():
                    return
            except (OSError, ApiError):
                pass
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {p.name}\n{p.tail(10)}" for p in self.procs)
                raise StartError(f"the control plane did not get {what} in time\n{logs}")
            time.sleep(0.1)

    def answers(self) -> bool:
        """The API server answers /readyz with 200 (False while it is down, stopped or not ready)."""
        try:
            self.rest.request("GET", "/readyz")
        except (ApiError, OSError):
            return False
        return True

    def add_node(self, name: str) -> None:
        self.rest.apply(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
                    "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
                },
                "status": {
                    "allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                    "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"},
                },
            }
        )
        self.nodes.append(name)

    def _untaint_nodes(self) -> None:
        """The API server's TaintNodesByCondition admission gives a new node ``not-ready:NoSchedule``; the
        node-lifecycle controller that lifts it is off here (it would also evict pods when a fake node's heartbeat
        is late on a loaded machine), so lift it once the node is Ready."""
        for name in self.nodes:
            self.rest.request(
                "PATCH",
                f"/api/v1/nodes/{name}",
                {"spec": {"taints": None}},
                content_type="application/merge-patch+json",
            )

    def _nodes_ready(self) -> bool:
        for name in self.nodes:
            node = self.rest.get("v1", "nodes", None, name) or {}
            conditions = (node.get("status") or {}).get("conditions") or []
            if not any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
                return False
        return True

    # -- stop --------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop every process by pid (reverse start order), then remove the folder if it was ours."""
        for proc in reversed(self.procs):
            proc.stop()
        if self._own_folder:
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def logs(self) -> Iterator[tuple[str, str]]:
        for proc in self.procs:
            yield proc.name, proc.tail(200)
