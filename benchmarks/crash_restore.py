"""Time to restore after a crash-looping promote, with the default settings, on the sandbox or the real control plane.

    .venv/bin/python benchmarks/crash_restore.py [--cluster sandbox|real] [--trials 5] [--ready-delay 1.0]
                                                 [--crash-after 1.0]

Each trial promotes an image whose pods turn Ready and then crash (``...:crash``, the same convention on both
clusters: the container runs ``--crash-after`` seconds, then exits and restarts, CrashLoopBackOff) with
`hotfix promote -d web --image ...:crash` and nothing else: the default settle window, fail-fast and wait. A monitor
thread watches the Deployment and records when the crashing template was written, when the rollback to the
last-known-good was written, and when that rollout completed. Medians are printed as a Markdown table.

"restored" is promote start -> the last-known-good rolled out again (kubectl's rule); the target is at most 20 s
(the promote waited for the 90 s fail-fast before: about 95 s). The pods' own timings (Ready after --ready-delay,
crash after --crash-after) are part of it, as they would be on a real cluster.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.clusters import KubeUnderTest, RealCluster, SandboxCluster  # noqa: E402

from hotfix_actions.sandbox import Sandbox  # noqa: E402

GOOD = "registry.example/web:1.0"
CRASH = "registry.example/web:crash"
HOTFIX = [str(ROOT / ".venv" / "bin" / "hotfix")]


class Watch:
    """When the Deployment got the crashing template, when it got the good one back, when that rolled out."""

    def __init__(self, kube: KubeUnderTest) -> None:
        self.kube = kube
        self.period = 0.005 if kube.kind == "sandbox" else 0.02
        self.crash_written: float | None = None
        self.back_written: float | None = None
        self.restored: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            dep = self.kube.get("apps/v1", "deployments", self.kube.namespace, "web")
            now = time.perf_counter()
            image = dep["spec"]["template"]["spec"]["containers"][0]["image"] if dep else ""
            if self.crash_written is None and image == CRASH:
                self.crash_written = now
            if self.crash_written is not None and self.back_written is None and image == GOOD:
                self.back_written = now
            if (
                self.back_written is not None
                and self.restored is None
                and self.kube.rollout_complete(self.kube.namespace, "web")
            ):
                self.restored = now
            time.sleep(self.period)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, check=False, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


@contextmanager
def cluster(kind: str, work: Path) -> Iterator[KubeUnderTest]:
    if kind == "sandbox":
        with Sandbox.start(ready_delay=0.05, tick=0.02, crash_images=r":(bad|crash)") as sb:
            yield SandboxCluster(sb)
        return
    from tests.realk8s.controlplane import ControlPlane

    cp = ControlPlane.start(work / "realk8s")
    try:
        yield RealCluster(cp, "bench", work)
    finally:
        cp.stop()


def manifest(ns: str, replicas: int, ready: float, crash_after: float) -> dict[str, Any]:
    annotations = {
        "hotfix.test/ready-delay": f"{int(ready * 1000)}ms",
        "hotfix.test/crash-after": f"{int(crash_after * 1000)}ms",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "annotations": annotations},
                "spec": {"containers": [{"name": "web", "image": GOOD}]},
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cluster", choices=["sandbox", "real"], default="sandbox")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--ready-delay", type=float, default=1.0)
    parser.add_argument("--crash-after", type=float, default=1.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hotfix-crash-bench-"))
    (work / ".hotfix.yml").write_text("version: 1\n")  # every setting at its default
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as installed: bytecode cached
    rows: list[dict[str, float]] = []
    with cluster(args.cluster, work) as kube:
        env.update(HOTFIX_CONFIG=str(work / ".hotfix.yml"), HOTFIX_KUBECONFIG=str(kube.kubeconfig_path),
                   HOTFIX_NAMESPACE=kube.namespace, XDG_STATE_HOME=str(work / "state"))  # fmt: skip
        kube.apply(manifest(kube.namespace, args.replicas, args.ready_delay, args.crash_after))
        kube.wait_rollout(kube.namespace, "web", timeout=120)
        run([*HOTFIX, "promote", "-d", "web", "--image", GOOD, "--settle", "0"], env)  # the last-known-good
        for _ in range(args.trials):
            with Watch(kube) as watch:
                start = time.perf_counter()
                done = run([*HOTFIX, "promote", "-d", "web", "--image", CRASH, "--json"], env, ok=(1,))
                exited = time.perf_counter()
                kube.wait_for(lambda w=watch: w.restored is not None, timeout=60)  # type: ignore[misc]
            doc = json.loads(done.stdout)
            assert doc["outputs"]["rolled-back"] == "true", doc
            assert watch.crash_written and watch.back_written and watch.restored
            rows.append(
                {
                    "written": watch.crash_written - start,
                    "detected": watch.back_written - start,
                    "restored": watch.restored - start,
                    "exited": exited - start,
                }
            )
            print(f"trial: restored after {rows[-1]['restored']:.1f}s ({doc['outputs'].get('blocking-reason')})",
                  flush=True)  # fmt: skip
    med = statistics.median
    print(f"\n{args.trials} crash-looping promotes, {args.replicas} replicas, pods Ready after {args.ready_delay}s and "
          f"crashing {args.crash_after}s later, {args.cluster}; default settings; medians (s) from promote start\n")  # fmt: skip
    print("| step | median | min | max |")
    print("|---|---:|---:|---:|")
    for key, label in (
        ("written", "crashing template written"),
        ("detected", "crash detected: rollback to the LKG written"),
        ("restored", "LKG rolled out again (restored)"),
        ("exited", "promote exited (1, rolled back)"),
    ):
        values = [r[key] for r in rows]
        print(f"| {label} | {med(values):.2f} | {min(values):.2f} | {max(values):.2f} |")


if __name__ == "__main__":
    main()
