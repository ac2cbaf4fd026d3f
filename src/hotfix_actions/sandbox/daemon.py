"""Run the sandbox as a detached background process: start, find, check and stop it through its state directory."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hotfix_actions.errors import InfraError

__all__ = ["ServerInfo", "health", "read_info", "start_detached", "stop"]


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    url: str
    port: int
    kubeconfig: str
    state_dir: Path


def read_info(state_dir: Path) -> ServerInfo | None:
    """The running server recorded in ``state_dir``, or None (a stale record of a dead process is removed)."""
    path = state_dir / "server.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        info = ServerInfo(int(data["pid"]), str(data["url"]), int(data["port"]), str(data["kubeconfig"]), state_dir)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _is_sandbox(info.pid):
        path.unlink(missing_ok=True)
        return None
    return info


def _is_sandbox(pid: int) -> bool:
    """Is ``pid`` alive and a sandbox server (guards against a recycled pid)?"""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid
    return b"hotfix_actions.sandbox" in cmdline


def health(url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """``GET /_sandbox/healthz``; None when it does not answer."""
    if not url.startswith("http://127.0.0.1:"):
        return None
    try:
        with urllib.request.urlopen(f"{url}/_sandbox/healthz", timeout=timeout) as resp:  # noqa: S310 - local http
            data: dict[str, Any] = json.loads(resp.read())
            return data
    except (OSError, ValueError):
        return None


def start_detached(
    state_dir: Path,
    *,
    port: int = 0,
    ready_delay: float = 1.0,
    crash_images: str = r"(:bad|:crash)",
    manifests: Sequence[Path] = (),
    timeout: float = 20.0,
    python: str = sys.executable,
) -> ServerInfo:
    """Start ``python -m hotfix_actions.sandbox`` in its own session and wait until it answers healthz."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / "server.json").unlink(missing_ok=True)
    argv = [python, "-m", "hotfix_actions.sandbox", "--state-dir", str(state_dir), "--port", str(port),
            "--ready-delay", str(ready_delay), "--crash-images", crash_images]  # fmt: skip
    for manifest in manifests:
        argv += ["--manifest", str(manifest)]
    log_path = state_dir / "server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise InfraError(f"the sandbox exited with status {proc.returncode}: {_tail(log_path)}",
                             fix=f"read {log_path}")  # fmt: skip
        info = read_info(state_dir)
        if info is not None and info.pid == proc.pid and health(info.url) is not None:
            return info
        time.sleep(0.05)
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    raise InfraError(f"the sandbox did not answer within {timeout:.0f}s: {_tail(log_path)}", fix=f"read {log_path}")


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(state_dir: Path, timeout: float = 10.0) -> ServerInfo | None:
    """Stop the recorded server (SIGTERM: it saves its snapshot), SIGKILL after ``timeout``; None if none ran."""
    info = read_info(state_dir)
    if info is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(info.pid):
            break
        time.sleep(0.05)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGKILL)
    (state_dir / "server.json").unlink(missing_ok=True)
    return info


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)  # our own child (tests): reap it
        if done:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"
