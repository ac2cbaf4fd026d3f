"""Emergency rollback: `hotfix rollback` against plain kubectl, on one sandbox whose pods take 2 s to become Ready.

    .venv/bin/python benchmarks/rollback_vs_kubectl.py [--trials 5] [--ready-delay 2.0] [--replicas 2] [--as-is]

Two comparisons, each run as separate processes exactly as an operator or a workflow would:

1. undo:       hotfix rollback -d web --strategy undo --wait
               vs  kubectl rollout undo deployment/web  +  kubectl rollout status deployment/web
2. blue-green: hotfix rollback -d web --strategy blue-green --keep-failed   (checks the pods, switches the Service)
               vs  kubectl patch service web -p '{"spec":{"selector":{"color":"green"}}}'

Each trial starts from the same state (the bad release rolled out everywhere). A monitor thread watches the
sandbox's store every 5 ms and records when the Deployment's template changed and when its rollout completed, so
"pods" is the time spent waiting on pods whatever the tool, and "overhead" = wall time - pods. Medians are printed
as a Markdown table. The tool runs hotfix's own safety steps (Lease lock, existence checks, LKG record in the same
write, release) that kubectl does not; the table shows what they cost.

The sandbox's HTTP server does not set TCP_NODELAY, so each request after the first on a kept-alive connection
stalls ~40 ms on a delayed ACK (kube-apiserver does not). By default the benchmark sets TCP_NODELAY on the
sandbox's sockets from the outside; ``--as-is`` measures the stall too. The tool makes more requests than kubectl
(lock, existence checks, pod reasons while waiting), so the stall penalises it more.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from hotfix_actions.sandbox import Sandbox  # noqa: E402
from hotfix_actions.testing import kubectl as kubectl_bin  # noqa: E402

NS = "default"
GOOD = "registry.example/web:1.0"
BAD = "registry.example/web:2.0"  # healthy pods, a bad release: the business reason for the rollback
HOTFIX = [str(ROOT / ".venv" / "bin" / "hotfix")]
KUBECTL = str(kubectl_bin.path())  # the pinned kubectl from PyPI (.venv/bin/kubectl), never the machine's


def manifest(name: str, image: str, replicas: int, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "web", "image": image}]}},
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
    """Polls the sandbox store: when did the template change to ``image``, when did the rollout complete."""

    def __init__(self, sb: Sandbox, name: str, image: str) -> None:
        self.sb, self.name, self.image = sb, name, image
        self.changed: float | None = None
        self.done: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            dep = self.sb.get("apps/v1", "deployments", NS, self.name)
            now = time.perf_counter()
            if dep and self.changed is None and dep["spec"]["template"]["spec"]["containers"][0]["image"] == self.image:
                self.changed = now
            if self.changed is not None and self.done is None and self.sb.rollout_complete(NS, self.name):
                self.done = now
            time.sleep(0.005)

    def __enter__(self) -> Monitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def pods(self) -> float:
        return (self.done - self.changed) if self.changed is not None and self.done is not None else 0.0


def nodelay_sandbox() -> None:
    """Work around a sandbox limitation (reported): its HTTP server does not set TCP_NODELAY, so every request after
    the first on a kept-alive connection waits ~40 ms for a delayed ACK. kube-apiserver (Go) sets it by default."""
    import socket

    from hotfix_actions.sandbox import server

    original = server._Handler.setup

    def setup(self: Any) -> None:
        original(self)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    server._Handler.setup = setup  # type: ignore[method-assign]


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def set_image(sb: Sandbox, image: str) -> None:
    dep = sb.get("apps/v1", "deployments", NS, "web")
    assert dep is not None
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = image
    dep["metadata"]["annotations"]["kubernetes.io/change-cause"] = f"deploy {image}"
    sb.apply(dep)
    sb.wait_for(lambda: sb.rollout_complete(NS, "web") and _image(sb) == image, timeout=60)


def _image(sb: Sandbox) -> str:
    dep = sb.get("apps/v1", "deployments", NS, "web")
    return str(dep["spec"]["template"]["spec"]["containers"][0]["image"]) if dep else ""


def undo_trials(sb: Sandbox, env: dict[str, str], trials: int) -> tuple[list[Trial], list[Trial], list[float]]:
    kube = ["--kubeconfig", str(sb.kubeconfig_path), "-n", NS]
    tool: list[Trial] = []
    plain: list[Trial] = []
    inside: list[float] = []
    for i in range(trials):
        for which in ("hotfix", "kubectl") if i % 2 == 0 else ("kubectl", "hotfix"):
            set_image(sb, BAD)
            with Monitor(sb, "web", GOOD) as mon:
                start = time.perf_counter()
                if which == "hotfix":
                    out = run([*HOTFIX, "rollback", "-d", "web", "--strategy", "undo", "--wait", "--json"], env)
                    wall = time.perf_counter() - start
                    doc = json.loads(out.stdout)
                    assert doc["outputs"]["to-image"] == GOOD, doc
                    inside.append(float(doc["outputs"].get("rollout-seconds", "0")))
                else:
                    run([KUBECTL, *kube, "rollout", "undo", "deployment/web"], env)
                    run([KUBECTL, *kube, "rollout", "status", "deployment/web", "--timeout=120s"], env)
                    wall = time.perf_counter() - start
                end = start + wall
                sb.wait_for(lambda m=mon: m.done is not None, timeout=10)  # type: ignore[misc]
            assert _image(sb) == GOOD and mon.changed is not None and mon.done is not None
            trial = Trial(wall, mon.pods, before=mon.changed - start, after=end - mon.done)
            (tool if which == "hotfix" else plain).append(trial)
    return tool, plain, inside


def switch_trials(sb: Sandbox, env: dict[str, str], trials: int) -> tuple[list[float], list[float]]:
    kube = ["--kubeconfig", str(sb.kubeconfig_path), "-n", NS]
    tool: list[float] = []
    plain: list[float] = []
    for i in range(trials):
        for which in ("hotfix", "kubectl") if i % 2 == 0 else ("kubectl", "hotfix"):
            svc = sb.get("v1", "services", NS, "shop")
            assert svc is not None
            svc["spec"]["selector"] = {"app": "shop", "color": "blue"}
            svc["metadata"].get("annotations", {}).pop("hotfix-actions.io/blue-green-rollback", None)
            sb.apply(svc)
            start = time.perf_counter()
            if which == "hotfix":
                run([*HOTFIX, "rollback", "-d", "shop", "--strategy", "blue-green", "--keep-failed", "--json"], env)
            else:
                patch = '{"spec":{"selector":{"app":"shop","color":"green"}}}'
                run([KUBECTL, *kube, "patch", "service", "shop", "-p", patch], env)
            (tool if which == "hotfix" else plain).append(time.perf_counter() - start)
            svc = sb.get("v1", "services", NS, "shop")
            assert svc is not None and svc["spec"]["selector"]["color"] == "green"
    return tool, plain


def breakdown(sb: Sandbox, env: dict[str, str]) -> dict[str, float]:
    """Where hotfix's overhead goes: interpreter + imports, API requests per run, one request's latency here."""
    from hotfix_actions.config.rollback import RollbackConfig
    from hotfix_actions.kube import ConnectOptions, connect
    from hotfix_actions.kube.probe import HttpProbe
    from hotfix_actions.report import Reporter
    from hotfix_actions.services.rollback import Context, RollbackRequest
    from hotfix_actions.services.rollback import run as rollback

    imports = []
    for _ in range(3):
        start = time.perf_counter()
        run([sys.executable, "-c", "import hotfix_actions.cli, hotfix_actions.commands.rollback, "
             "hotfix_actions.services.rollback, hotfix_actions.kube.cluster, kubernetes.config"], env)  # fmt: skip
        imports.append(time.perf_counter() - start)
    set_image(sb, BAD)
    sink = open(os.devnull, "w")  # noqa: SIM115
    with connect(ConnectOptions(kubeconfig=str(sb.kubeconfig_path))) as kc:
        latencies = []
        for _ in range(20):
            start = time.perf_counter()
            kc.get("deployments", NS, "web")
            latencies.append(time.perf_counter() - start)
        before = kc.transport.requests
        ctx = Context(cluster=kc, reporter=Reporter(out=sink, err=sink), probe=HttpProbe())
        rollback(
            RollbackRequest(namespace=NS, deployment="web", strategy="undo", run_id="bench"), RollbackConfig(), ctx
        )
        undo_requests = kc.transport.requests - before
        svc = sb.get("v1", "services", NS, "shop")
        assert svc is not None
        svc["spec"]["selector"]["color"] = "blue"
        svc["metadata"].get("annotations", {}).pop("hotfix-actions.io/blue-green-rollback", None)
        sb.apply(svc)
        before = kc.transport.requests
        ctx = Context(cluster=kc, reporter=Reporter(out=sink, err=sink), probe=HttpProbe())
        rollback(RollbackRequest(namespace=NS, deployment="shop", strategy="blue-green", keep_failed=True,
                                 run_id="bench"), RollbackConfig(), ctx)  # fmt: skip
        switch_requests = kc.transport.requests - before
    sink.close()
    return {
        "imports": statistics.median(imports),
        "latency": statistics.median(latencies),
        "undo_requests": undo_requests,
        "switch_requests": switch_requests,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--ready-delay", type=float, default=2.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument(
        "--as-is", action="store_true", help="Keep the sandbox's ~40 ms delayed-ACK stall on kept-alive connections."
    )
    args = parser.parse_args()
    if not args.as_is:
        nodelay_sandbox()
    work = Path(tempfile.mkdtemp(prefix="hotfix-bench-"))
    env = {
        **os.environ,
        "KUBECACHEDIR": str(work / "kubecache"),
        "HOME": str(work),
        "HOTFIX_CONFIG": str(work / ".hotfix.yml"),
    }
    (work / ".hotfix.yml").write_text("version: 1\nrollback: {lock: {timeout_seconds: 5}}\n")
    with Sandbox.start(ready_delay=args.ready_delay, tick=0.02) as sb:
        env["HOTFIX_KUBECONFIG"] = str(sb.kubeconfig_path)
        sb.apply(manifest("web", GOOD, args.replicas, {"app": "web"}))
        sb.wait_rollout(NS, "web", timeout=60)
        run([*HOTFIX, "promote", "-d", "web", "--image", GOOD], env)  # records the last-known-good
        for color in ("blue", "green"):
            sb.apply(manifest(f"shop-{color}", GOOD, args.replicas, {"app": "shop", "color": color}))
        sb.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "shop", "namespace": NS},
                  "spec": {"selector": {"app": "shop", "color": "blue"}, "ports": [{"port": 80}]}})  # fmt: skip
        sb.wait_rollout(NS, "shop-blue", timeout=60)
        sb.wait_rollout(NS, "shop-green", timeout=60)
        # warm-up, untimed: kubectl's discovery cache, the OS page cache for both programs
        run([KUBECTL, "--kubeconfig", str(sb.kubeconfig_path), "get", "deployments"], env)
        run([*HOTFIX, "status", "-d", "web"], env)
        tool, plain, inside = undo_trials(sb, env, args.trials)
        bg_tool, bg_plain = switch_trials(sb, env, args.trials)
        parts = breakdown(sb, env)

    med = statistics.median
    rows = [
        ("undo + wait: wall (s)", med(t.wall for t in tool), med(t.wall for t in plain)),
        ("undo + wait: waiting on pods (s)", med(t.pods for t in tool), med(t.pods for t in plain)),
        ("undo + wait: own overhead (s)", med(t.overhead for t in tool), med(t.overhead for t in plain)),
        ("  of which: start -> template written (s)", med(t.before for t in tool), med(t.before for t in plain)),
        ("  of which: rolled out -> exit (s)", med(t.after for t in tool), med(t.after for t in plain)),
        ("blue-green switch: wall (s)", med(bg_tool), med(bg_plain)),
    ]
    stall = "as is (delayed-ACK stall)" if args.as_is else "with TCP_NODELAY, like kube-apiserver"
    print(
        f"\n{args.trials} trials each, ready delay {args.ready_delay}s, {args.replicas} replicas, sandbox {stall}; medians\n"
    )
    print("| measure | hotfix | kubectl | ratio |")
    print("|---|---:|---:|---:|")
    for name, a, b in rows:
        print(f"| {name} | {a:.3f} | {b:.3f} | {a / b:.2f}x |" if b else f"| {name} | {a:.3f} | {b:.3f} | - |")
    print(f"\nhotfix's own wait (rollout-seconds in its JSON): median {med(inside):.3f}s")
    print("undo walls, hotfix:  " + ", ".join(f"{t.wall:.2f}" for t in tool))
    print("undo walls, kubectl: " + ", ".join(f"{t.wall:.2f}" for t in plain))
    print(
        f"\nwhere hotfix's overhead goes: interpreter + imports {parts['imports']:.3f}s; "
        f"{parts['undo_requests']:.0f} API requests per undo (watches included), {parts['switch_requests']:.0f} per "
        f"blue-green switch; one GET on a kept-alive connection to this sandbox takes {parts['latency'] * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
