"""Start the real control plane by hand: ``.venv/bin/python -m tests.realk8s up [--dir DIR] [--nodes N]``.

Builds (or reuses) the binaries, starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok on
127.0.0.1, prints the admin kubeconfig, and stops them all (by pid) on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
from pathlib import Path

from tests.realk8s.controlplane import ControlPlane


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.realk8s")
    parser.add_argument("verb", choices=["up"])
    parser.add_argument("--dir", type=Path, default=None, help="an empty folder for its files (default: a new one)")
    parser.add_argument("--nodes", type=int, default=1)
    args = parser.parse_args(argv)
    folder = args.dir or Path(tempfile.mkdtemp(prefix="hotfix-realk8s-"))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    cp = ControlPlane.start(folder, nodes=args.nodes)
    try:
        print(f"control plane up in {cp.started_in:.1f}s: {cp.server}", flush=True)
        print(f"export KUBECONFIG={cp.admin_kubeconfig}   # system:masters; Ctrl-C stops everything", flush=True)
        stop.wait()
    finally:
        cp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
