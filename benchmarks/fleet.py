"""The fleet against what it replaces, as an operator runs them (separate `hotfix` processes, three sandboxes, each
with its own fake Prometheus; pods Ready after --ready-delay):

1. Promote: `hotfix fleet promote` over three waves ([a], [b], [c]) and over two waves ([a], [b, c]: the second
   wave in parallel) against the sum of the single-cluster commands it replaces, per target and in order:
   `hotfix canary` (the gate), `hotfix promote`, `hotfix monitor --duration <bake>`. Same settings for both.
2. Restore: a regression that shows only in wave 2 (b's primary fails once promoted; the bake catches it): the time
   from the end of b's failed bake (the FAIL) until every promoted target (a and b) is back on its last-known-good,
   read from the run's own step times, against a single `hotfix rollback --to previous-lkg` of one target
   (median over the targets). Target: fleet restore <= slowest single rollback + 5 s.

    .venv/bin/python benchmarks/fleet.py [--trials 3] [--ready-delay 1.0] [--bake 3s]

Prints Markdown tables with medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.fleet import rig as fleet_rig  # noqa: E402
from tests.fleet.rig import GOOD, NEW, VERSION, Member, Rig, sandbox_member, seed  # noqa: E402


def hotfix(rig: Rig, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "hotfix_actions", *args, "--json"],
        env=rig.env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=rig.folder,
    )
    return time.monotonic() - began, proc


def build(stack: ExitStack, folder: Path, ready_delay: float) -> Rig:
    original = fleet_rig.start_sandbox
    fleet_rig.start_sandbox = lambda **kw: original(ready_delay=ready_delay, **kw)  # type: ignore[assignment]
    try:
        members = {n: stack.enter_context(sandbox_member(n, folder)) for n in ("a", "b", "c")}
    finally:
        fleet_rig.start_sandbox = original
    for member in members.values():
        seed(member, folder)
    return Rig(folder, members)


def single(rig: Rig, member: Member, bake: float) -> float:
    """The single-cluster commands one target needs, as separate processes: gate, promote, watch."""
    where = ["--kubeconfig", str(member.kubeconfig), "-n", member.namespace]
    prom = ["--prometheus-url", member.prom.url]
    total = 0.0
    for args in (
        ["canary", "-d", "web", "--image", NEW, *prom, *where],
        ["promote", "-d", "web", "--image", NEW, "--version", VERSION, *where],
        ["monitor", "-d", "web", "--duration", f"{bake}s", "--interval", "1s", *prom, *where],
    ):
        took, proc = hotfix(rig, *args)
        if proc.returncode != 0:
            raise SystemExit(f"{args[0]} failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        total += took
    return total


def reset(rig: Rig) -> None:
    """Every target back on GOOD as its last-known-good, with no fleet record (a fresh start)."""
    for member in rig.members.values():
        dep = member.deployment()
        annotations = dep["metadata"].get("annotations") or {}
        annotations.pop("hotfix-actions.io/fleet-run", None)
        dep["metadata"]["annotations"] = annotations
        member.kube.apply(dep)
        _took, proc = hotfix(
            rig, "promote", "-d", "web", "--image", GOOD, "--kubeconfig", str(member.kubeconfig), "-n", member.namespace
        )
        if proc.returncode != 0:
            raise SystemExit(proc.stdout[-2000:])
        member.errors.clear()


def fleet_promote(rig: Rig) -> tuple[float, dict[str, Any]]:
    took, proc = hotfix(rig, "fleet", "promote", "--version", VERSION, "--image", NEW)
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    return took, doc


def restore_after_failure(rig: Rig) -> tuple[float, float]:
    """(seconds from b's failed bake to every promoted target verified back on its LKG, the slowest of them)."""
    rig.members["b"].errors[("web", NEW)] = 0.3
    _took, doc = fleet_promote(rig)
    if doc["exit_code"] != 1:
        raise SystemExit(f"the wave-2 regression did not fail the run: {doc}")
    results = {r["target"]: r for r in json.loads(doc["outputs"]["results"])}
    bake = results["b"]["steps"]["bake"]
    failed_at = bake["started"] + bake["seconds"]
    backs = [r["steps"]["rollback"] for r in results.values() if "rollback" in r["steps"]]
    back_at = max(s["started"] + s["seconds"] for s in backs)
    return back_at - failed_at, max(s["seconds"] for s in backs)


def single_rollback(rig: Rig, member: Member) -> float:
    took, proc = hotfix(
        rig,
        "rollback",
        "-d",
        "web",
        "--to",
        "previous-lkg",
        "--kubeconfig",
        str(member.kubeconfig),
        "-n",
        member.namespace,
    )
    if proc.returncode != 0 or member.image() != GOOD:
        raise SystemExit(f"rollback failed: {proc.stdout[-2000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--ready-delay", type=float, default=1.0)
    parser.add_argument("--bake", type=float, default=3.0)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {k: [] for k in ("single", "fleet3", "fleet2", "restore", "rollback", "one")}
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        rig = build(stack, Path(tmp), args.ready_delay)
        for trial in range(args.trials):
            print(f"trial {trial + 1}/{args.trials}", file=sys.stderr)
            bake = f"{args.bake}s"
            rig.write_config(bake=bake)
            reset(rig)
            rows["single"].append(sum(single(rig, m, args.bake) for m in rig.members.values()))
            reset(rig)
            took, doc = fleet_promote(rig)
            assert doc["exit_code"] == 0, doc
            rows["fleet3"].append(took)
            rig.write_config(waves=(("a",), ("b", "c")), bake=bake)
            reset(rig)
            took, doc = fleet_promote(rig)
            assert doc["exit_code"] == 0, doc
            rows["fleet2"].append(took)
            rig.write_config(bake=bake)
            reset(rig)
            restore, slowest_inside = restore_after_failure(rig)
            rows["restore"].append(restore)
            rows["rollback"].append(slowest_inside)
            # single rollbacks of the same shape: promote NEW on a target, then `hotfix rollback --to previous-lkg`
            reset(rig)
            singles = []
            for member in rig.members.values():
                hotfix(rig, "promote", "-d", "web", "--image", NEW, "--kubeconfig", str(member.kubeconfig),
                       "-n", member.namespace)  # fmt: skip
                singles.append(single_rollback(rig, member))
            rows["one"].append(max(singles))
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"\n### Fleet promote vs the single-cluster commands (median of {args.trials}, pods Ready after "
          f"{args.ready_delay:g}s, gate up to 6s, bake {args.bake:g}s)\n")  # fmt: skip
    print("| run | wall time | ratio to the sum of single commands |\n|---|---|---|")
    print(f"| canary + promote + monitor per target, 3 targets in turn | {med['single']:.1f} s | 1.00 |")
    print(
        f"| `hotfix fleet promote`, waves [a] [b] [c] | {med['fleet3']:.1f} s | {med['fleet3'] / med['single']:.2f} |"
    )
    print(f"| `hotfix fleet promote`, waves [a] [b, c] | {med['fleet2']:.1f} s | {med['fleet2'] / med['single']:.2f} |")
    print("\n### From a FAIL in wave 2 to every promoted target back on its LKG\n")
    print("| measure | seconds |\n|---|---|")
    print(f"| fleet: end of b's failed bake -> a and b verified back (parallel rollbacks) | {med['restore']:.2f} |")
    print(f"| the slowest of those rollbacks alone, inside the fleet run | {med['rollback']:.2f} |")
    print(f"| slowest single `hotfix rollback --to previous-lkg` (separate process, one target) | {med['one']:.2f} |")
    target = med["one"] + 5
    print(
        f"| target: <= slowest single rollback + 5 s | {target:.2f} ({'met' if med['restore'] <= target else 'MISSED'}) |"
    )


if __name__ == "__main__":
    main()
