"""Run the emulator as a process.

    python -m hotfix_actions.testing.github_emulator --repo acme/shop=/path/origin.git

Prints one JSON line (url, api_url, graphql_url, git urls) when ready, then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from hotfix_actions.testing.github_emulator import GitHubEmulator, load_spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hotfix_actions.testing.github_emulator")
    parser.add_argument("--repo", action="append", default=[], help="owner/name[=path of a bare git repository]")
    parser.add_argument("--token-file", type=Path, help="file whose first line is the accepted token")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--spec", type=Path, help="api.github.com.json (default: the nearest node_modules copy)")
    parser.add_argument("--no-validate", action="store_true", help="serve without the OpenAPI checks")
    parser.add_argument("--ready-file", type=Path, help="also write the JSON line here")
    args = parser.parse_args(argv)
    token = args.token_file.read_text(encoding="utf-8").splitlines()[0].strip() if args.token_file else "test-token"
    spec = None if args.no_validate else load_spec(args.spec)
    emulator = GitHubEmulator(tokens={token}, spec=spec, validate=not args.no_validate, host=args.host, port=args.port)
    emulator.start()
    git = {}
    for item in args.repo:
        name, _, git_dir = item.partition("=")
        emulator.add_repo(name, git_dir=git_dir or None)
        git[name] = emulator.git_url(name)
    ready = json.dumps(
        {"url": emulator.url, "api_url": emulator.api_url, "graphql_url": emulator.graphql_url, "git": git}
    )
    print(ready, flush=True)
    if args.ready_file:
        args.ready_file.write_text(ready + "\n", encoding="utf-8")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    emulator.stop()
    violations = emulator.violations
    for line in violations:
        print(f"violation: {line}", file=sys.stderr)
    return 1 if violations else 0


if __name__ == "__main__":
    raise SystemExit(main())
