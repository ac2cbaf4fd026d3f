"""Emergency rollback: `hotfix rollback` against plain kubectl, on the sandbox or the real control plane, with pods
that take 2 s to become Ready; and the import time of each cluster command.

    .venv/bin/python benchmarks/rollback_vs_kubectl.py [--cluster sandbox|real] [--trials 5] [--ready-delay 2.0]
                                                       [--replicas 2]

Two comparisons, each run as separate processes exactly as an operator or a workflow would:

1. undo:       hotfix rollback -d web --strategy undo --wait
               vs  kubectl rollout undo deployment/web  +  kubectl rollout status deployment/web
2. blue-green: hotfix rollback -d shop --strategy blue-green --keep-failed   (checks the pods, switches the Service)
               vs  kubectl patch service shop -p '{"spec":{"selector":{"color":"green"}}}'

Each trial starts from the same state (the bad release rolled out everywhere). A monitor thread watches the cluster
(the sandbox's store every 5 ms; the real API server every 20 ms) and records when the Deployment's template changed
and when its rollout completed, so "pods" is the time spent waiting on pods whatever the tool, and "overhead" = wall
time - pods. Medians are printed as a Markdown table. The tool runs hotfix's own safety steps (Lease lock, existence
checks, a snapshot, the pods' restart counts, the LKG record in the same write, release) that kubectl does not; the
table shows what they cost. On the real control plane the tool runs with the least-privilege Role of
examples/k8s/rbac.yaml, kubectl as the harness's admin.

Both programs run as installed: the tool with its bytecode compiled (pip compiles it when the action installs the
package), so PYTHONDONTWRITEBYTECODE is dropped for the tool's processes and a warm-up run writes the caches.

The sandbox sets TCP_NODELAY on its connections, as kube-apiserver does (earlier versions did not, and this
benchmark set it from the outside).

Import time per command: each command runs once more under ``python -X importtime`` (rollback, promote and status
against the cluster, and ``--help``); the table gives the sum of the modules' own import times (median of 3 runs) and
the heaviest top-level packages.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.clusters import KubeUnderTest, RealCluster, SandboxCluster  # noqa: E402

from hotfix_actions.kube import ConnectOptions, connect  # noqa: E402
from hotfix_actions.sandbox import Sandbox  # noqa: E402
from hotfix_actions.testing import kubectl as kubectl_bin  # noqa: E402

GOOD = "registry.example/web:1.0"
BAD = "registry.example/web:2.0"  # healthy pods, a bad release: the business reason for the rollback
HOTFIX = [str(ROOT / ".venv" / "bin" / "hotfix")]
KUBECTL = str(kubectl_bin.path())  # the pinned kubectl from PyPI (.venv/bin/kubectl), never the machine's


def manifest(ns: str, name: str, image: str, replicas: int, labels: dict[str, str], ready: float) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                # both clusters honour it: the pods of this template turn Ready this long after they start
                "metadata": {"labels": labels, "annotations": {"hotfix.test/ready-delay": f"{int(ready * 1000)}ms"}},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


@dataclass
class Trial:
    wall: float
    pods: float
    before: float = 0.0  # process start -> the template changed in the API server
    after: float = 0.0  # rollout complete in the API server -> the process exited

    @property
    def overhead(self) -> float:
        return self.wall - self.pods


class Monitor:
    """Polls the cluster: when did the template change to ``image``, when did the rollout complete."""

    def __init__(self, kube: KubeUnderTest, name: str, image: str) -> None:
        self.kube, self.name, self.image = kube, name, image
        self.period = 0.005 if kube.kind == "sandbox" else 0.02
        self.changed: float | None = None
        self.done: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            dep = self.kube.get("apps/v1", "deployments", self.kube.namespace, self.name)
            now = time.perf_counter()
            if dep and self.changed is None and dep["spec"]["template"]["spec"]["containers"][0]["image"] == self.image:
                self.changed = now
            if self.changed is not None and self.done is None and self.kube.rollout_complete(self.kube.namespace,
                                                                                             self.name):  # fmt: skip
                self.done = now
            time.sleep(self.period)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def pods(self) -> float:
        return (self.done - self.changed) if self.changed is not None and self.done is not None else 0.0


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def set_image(kube: KubeUnderTest, image: str) -> None:
    """Another deploy (a pipeline, kubectl set image): through the tool's client, which works on both clusters."""
    with connect(ConnectOptions(kubeconfig=str(kube.kubeconfig_path), namespace=kube.namespace)) as kc:
        kc.set_images(kube.namespace, "web", {"web": image}, f"deploy {image}")
    kube.wait_for(lambda: kube.rollout_complete(kube.namespace, "web") and _image(kube) == image, timeout=120)


def _image(kube: KubeUnderTest) -> str:
    dep = kube.get("apps/v1", "deployments", kube.namespace, "web")
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"]) if dep else ""


def undo_trials(
    kube: KubeUnderTest, tool_env: dict[str, str], admin: list[str], env: dict[str, str], trials: int
) -> tuple[list[Trial], list[Trial], list[float]]:
    tool: list[Trial] = []
    plain: list[Trial] = []
    inside: list[float] = []
    for i in range(trials):
        for which in ("hotfix", "kubectl") if i % 2 == 0 else ("kubectl", "hotfix"):
            set_image(kube, BAD)
            with Monitor(kube, "web", GOOD) as mon:
                start = time.perf_counter()
                if which == "hotfix":
                    out = run([*HOTFIX, "rollback", "-d", "web", "--strategy", "undo", "--wait", "--json"], tool_env)
                    wall = time.perf_counter() - start
                    doc = json.loads(out.stdout)
                    assert doc["outputs"]["to-image"] == GOOD, doc
                    inside.append(float(doc["outputs"].get("rollout-seconds", "0")))
                else:
                    run([KUBECTL, *admin, "rollout", "undo", "deployment/web"], env)
                    run([KUBECTL, *admin, "rollout", "status", "deployment/web", "--timeout=120s"], env)
                    wall = time.perf_counter() - start
                end = start + wall
                kube.wait_for(lambda m=mon: m.done is not None, timeout=30)  # type: ignore[misc]
            assert _image(kube) == GOOD and mon.changed is not None and mon.done is not None
            trial = Trial(wall, mon.pods, before=mon.changed - start, after=end - mon.done)
            (tool if which == "hotfix" else plain).append(trial)
    return tool, plain, inside


def switch_trials(
    kube: KubeUnderTest, tool_env: dict[str, str], admin: list[str], env: dict[str, str], trials: int
) -> tuple[list[float], list[float]]:
    tool: list[float] = []
    plain: list[float] = []
    for i in range(trials):
        for which in ("hotfix", "kubectl") if i % 2 == 0 else ("kubectl", "hotfix"):
            blue = '{"metadata":{"annotations":{"hotfix-actions.io/blue-green-rollback":null}},' \
                   '"spec":{"selector":{"app":"shop","color":"blue"}}}'  # fmt: skip
            run([KUBECTL, *admin, "patch", "service", "shop", "--type=merge", "-p", blue], env)
            start = time.perf_counter()
            if which == "hotfix":
                run([*HOTFIX, "rollback", "-d", "shop", "--strategy", "blue-green", "--keep-failed", "--json"],
                    tool_env)  # fmt: skip
            else:
                run([KUBECTL, *admin, "patch", "service", "shop", "-p",
                     '{"spec":{"selector":{"app":"shop","color":"green"}}}'], env)  # fmt: skip
            (tool if which == "hotfix" else plain).append(time.perf_counter() - start)
            svc = kube.get("v1", "services", kube.namespace, "shop")
            assert svc is not None and svc["spec"]["selector"]["color"] == "green"
    return tool, plain


def import_times(tool_env: dict[str, str], runs: int = 3) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """Per command: the median sum of the modules' own import times (ms) and the five heaviest top-level packages."""
    python = str(ROOT / ".venv" / "bin" / "python")
    commands = [
        ("rollback (undo, nothing to do)", ["rollback", "-d", "web", "--strategy", "undo"]),
        ("promote (the live image, no settle)", ["promote", "-d", "web", "--image", GOOD, "--settle", "0"]),
        ("status", ["status", "-d", "web"]),
        ("--help", ["--help"]),
    ]
    table = []
    for label, args in commands:
        totals = []
        per_package: Counter[str] = Counter()
        for _ in range(runs):
            proc = subprocess.run([python, "-X", "importtime", "-m", "hotfix_actions", *args], env=tool_env,
                                  capture_output=True, text=True, timeout=180, check=False)  # fmt: skip
            total = 0
            for line in proc.stderr.splitlines():
                if not line.startswith("import time:"):
                    continue
                parts = line.split("|")
                try:
                    own = int(parts[0].split(":")[1])
                except ValueError:
                    continue
                total += own
                name = parts[2].strip()
                top = ".".join(name.split(".")[:2]) if name.startswith("hotfix_actions") else name.split(".")[0]
                per_package[top] += own
            totals.append(total / 1000)
        heaviest = [(name, us / 1000 / runs) for name, us in per_package.most_common(5)]
        table.append((label, statistics.median(totals), heaviest))
    return table


def breakdown(kube: KubeUnderTest, tool_env: dict[str, str]) -> dict[str, float]:
    """Where hotfix's overhead goes: interpreter + imports, API requests per run, one request's latency here."""
    from hotfix_actions.config.rollback import RollbackConfig
    from hotfix_actions.kube.probe import HttpProbe
    from hotfix_actions.report import Reporter
    from hotfix_actions.services.rollback import Context, RollbackRequest
    from hotfix_actions.services.rollback import run as rollback

    python = str(ROOT / ".venv" / "bin" / "python")
    imports = []
    for _ in range(3):
        start = time.perf_counter()
        run([python, "-c", "import hotfix_actions.cli, hotfix_actions.commands.rollback, "
             "hotfix_actions.services.rollback, hotfix_actions.kube.cluster, hotfix_actions.kube._connect"],
            tool_env)  # fmt: skip
        imports.append(time.perf_counter() - start)
    set_image(kube, BAD)
    sink = open(os.devnull, "w")  # noqa: SIM115
    with connect(ConnectOptions(kubeconfig=str(kube.kubeconfig_path), namespace=kube.namespace)) as kc:
        latencies = []
        for _ in range(20):
            start = time.perf_counter()
            kc.get("deployments", kube.namespace, "web")
            latencies.append(time.perf_counter() - start)
        before = kc.transport.requests
        ctx = Context(cluster=kc, reporter=Reporter(out=sink, err=sink), probe=HttpProbe())
        rollback(RollbackRequest(namespace=kube.namespace, deployment="web", strategy="undo", run_id="bench"),
                 RollbackConfig(), ctx)  # fmt: skip
        undo_requests = kc.transport.requests - before
    sink.close()
    return {
        "imports": statistics.median(imports),
        "latency": statistics.median(latencies),
        "undo_requests": undo_requests,
    }


@contextmanager
def cluster(kind: str, work: Path) -> Iterator[tuple[KubeUnderTest, Path]]:
    """The cluster, and the kubeconfig kubectl uses (the tool's own for the sandbox, the admin's for the real one)."""
    if kind == "sandbox":
        with Sandbox.start(ready_delay=0.05, tick=0.02) as sb:
            yield SandboxCluster(sb), sb.kubeconfig_path
        return
    from tests.realk8s.controlplane import ControlPlane

    cp = ControlPlane.start(work / "realk8s")
    try:
        real = RealCluster(cp, "bench", work)
        admin = cp.kubeconfig_for_token(cp.admin_token, work / "kubeconfig-admin", "bench")
        yield real, admin
    finally:
        cp.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cluster", choices=["sandbox", "real"], default="sandbox")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--ready-delay", type=float, default=2.0)
    parser.add_argument("--replicas", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hotfix-bench-"))
    env = {**os.environ, "KUBECACHEDIR": str(work / "kubecache"), "HOME": str(work)}
    # lock timeout short (nothing else holds it); the setup promote records the LKG without a settle window
    (work / ".hotfix.yml").write_text(
        "version: 1\nrollback: {lock: {timeout_seconds: 5}}\npromote: {settle_seconds: 0}\n"
    )
    with cluster(args.cluster, work) as (kube, admin_config):
        ns = kube.namespace
        tool_env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
        tool_env.update(HOTFIX_CONFIG=str(work / ".hotfix.yml"), HOTFIX_KUBECONFIG=str(kube.kubeconfig_path),
                        HOTFIX_NAMESPACE=ns, XDG_STATE_HOME=str(work / "state"))  # fmt: skip
        admin = ["--kubeconfig", str(admin_config), "-n", ns]
        kube.apply(manifest(ns, "web", GOOD, args.replicas, {"app": "web"}, args.ready_delay))
        kube.wait_rollout(ns, "web", timeout=120)
        run([*HOTFIX, "promote", "-d", "web", "--image", GOOD], tool_env)  # records the last-known-good
        for color in ("blue", "green"):
            labels = {"app": "shop", "color": color}
            kube.apply(manifest(ns, f"shop-{color}", GOOD, args.replicas, labels, args.ready_delay))
        kube.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "namespace": ns},
                    "spec": {"selector": {"app": "shop", "color": "blue"}, "ports": [{"port": 80}]}})  # fmt: skip
        kube.wait_rollout(ns, "shop-blue", timeout=120)
        kube.wait_rollout(ns, "shop-green", timeout=120)
        # warm-up, untimed: kubectl's discovery cache, the tool's bytecode caches, the OS page cache for both
        run([KUBECTL, *admin, "get", "deployments"], env)
        for _ in range(2):
            run([*HOTFIX, "status", "-d", "web"], tool_env)
        tool, plain, inside = undo_trials(kube, tool_env, admin, env, args.trials)
        bg_tool, bg_plain = switch_trials(kube, tool_env, admin, env, args.trials)
        parts = breakdown(kube, tool_env)
        imports = import_times(tool_env)

    med = statistics.median
    rows = [
        ("undo + wait: wall (s)", med(t.wall for t in tool), med(t.wall for t in plain)),
        ("undo + wait: waiting on pods (s)", med(t.pods for t in tool), med(t.pods for t in plain)),
        ("undo + wait: own overhead (s)", med(t.overhead for t in tool), med(t.overhead for t in plain)),
        ("  of which: start -> template written (s)", med(t.before for t in tool), med(t.before for t in plain)),
        ("  of which: rolled out -> exit (s)", med(t.after for t in tool), med(t.after for t in plain)),
        ("blue-green switch: wall (s)", med(bg_tool), med(bg_plain)),
    ]
    where = "the real control plane" if args.cluster == "real" else "the sandbox"
    print(f"\n{args.trials} trials each, ready delay {args.ready_delay}s, {args.replicas} replicas, {where}; medians\n")
    print("| measure | hotfix | kubectl | ratio |")
    print("|---|---:|---:|---:|")
    for name, a, b in rows:
        print(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.2f}x |" if b else f"| {name} | {a:.3f} | {b:.3f} | - |")
    print(f"\nhotfix's own wait (rollout-seconds in its JSON): median {med(inside):.3f}s")
    print("undo walls, hotfix:  " + ", ".join(f"{t.wall:.2f}" for t in tool))
    print("undo walls, kubectl: " + ", ".join(f"{t.wall:.2f}" for t in plain))
    print(
        f"\nwhere hotfix's overhead goes: interpreter + imports {parts['imports']:.3f}s; "
        f"{parts['undo_requests']:.0f} API requests per undo (watches included); one GET on a kept-alive connection "
        f"here takes {parts['latency'] * 1000:.1f} ms"
    )
    print("\n| import time (python -X importtime, sum of own times, median of 3) | ms | heaviest packages (ms) |")
    print("|---|---:|---|")
    for label, total, heaviest in imports:
        print(f"| {label} | {total:.0f} | " + ", ".join(f"{name} {ms:.0f}" for name, ms in heaviest) + " |")


if __name__ == "__main__":
    main()
