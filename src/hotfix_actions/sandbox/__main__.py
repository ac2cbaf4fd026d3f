"""``python -m hotfix_actions.sandbox --state-dir DIR [--port N] ...``: run one sandbox in the foreground.

``hotfix sandbox up`` starts this as a detached process. It writes ``DIR/kubeconfig`` and, once serving,
``DIR/server.json`` (pid, url, port, kubeconfig); SIGTERM or SIGINT stops it, saves ``DIR/snapshot.json`` and removes
``server.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from hotfix_actions.sandbox.cluster import Sandbox


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m hotfix_actions.sandbox", description=__doc__)
    p.add_argument("--state-dir", required=True, type=Path, help="kubeconfig, snapshot.json, server.json live here")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    p.add_argument("--ready-delay", type=float, default=1.0, help="seconds until a new pod is Ready")
    p.add_argument("--crash-images", default=r"(:bad|:crash)", help="regex: images that crash-loop ('' for none)")
    p.add_argument("--pull-fail-images", default="", help="regex: images that fail to pull ('' for none)")
    p.add_argument("--tick", type=float, default=0.05, help="controller period in seconds")
    p.add_argument("--progress-deadline-default", type=int, default=600)
    p.add_argument("--manifest", action="append", default=[], type=Path, help="YAML file of objects to load")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    state: Path = args.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    info_path = state / "server.json"
    try:
        for pattern in (args.crash_images, args.pull_fail_images):
            re.compile(pattern)
        sb = Sandbox.start(ready_delay=args.ready_delay, crash_images=args.crash_images or None,
                           pull_fail_images=args.pull_fail_images or None, tick=args.tick,
                           snapshot=state / "snapshot.json", port=args.port, kubeconfig_path=state / "kubeconfig",
                           progress_deadline_default=args.progress_deadline_default)  # fmt: skip
    except (OSError, re.error, ValueError) as exc:
        print(f"sandbox: cannot start: {exc}", file=sys.stderr)
        return 2
    try:
        for manifest in args.manifest:
            applied = sb.apply(manifest.read_text(encoding="utf-8"))
            print(f"sandbox: loaded {len(applied)} object(s) from {manifest}", flush=True)
    except Exception as exc:  # a bad manifest stops the server before it is announced
        print(f"sandbox: cannot load manifest: {exc}", file=sys.stderr)
        sb.stop()
        return 2
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    info = {"pid": os.getpid(), "url": sb.url, "port": sb.port, "kubeconfig": str(sb.kubeconfig_path),
            "snapshot": str(state / "snapshot.json"), "started": time.time()}  # fmt: skip
    tmp = info_path.with_name("server.json.tmp")
    tmp.write_text(json.dumps(info, indent=1), encoding="utf-8")
    tmp.replace(info_path)
    print(f"sandbox: serving {sb.url} (pid {os.getpid()}), kubeconfig {sb.kubeconfig_path}", flush=True)
    while not done.wait(0.5):
        pass
    sb.stop()
    info_path.unlink(missing_ok=True)
    print("sandbox: stopped, snapshot saved", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
