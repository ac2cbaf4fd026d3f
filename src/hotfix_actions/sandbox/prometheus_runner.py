"""Run the real Prometheus server on 127.0.0.1 for tests and the demo: temporary config and storage, 1 s scrapes.

    with PrometheusRunner.start(tmp_path, [Target(app.address, {"namespace": "default", "deployment": "web"})]) as prom:
        prom.wait_for_targets()
        ... query prom.url ...

Targets live in a file_sd file, so ``set_targets`` changes them while the server runs. ``stop()`` terminates the
process (and kills it after a grace period); the caller owns the folder.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PrometheusRunner", "Target", "find_binary", "free_port"]


@dataclass(frozen=True)
class Target:
    address: str  # host:port
    labels: Mapping[str, str] = field(default_factory=dict)


def find_binary(name: str = "prometheus") -> str:
    found = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").is_file() else None)
    if not found:
        raise FileNotFoundError(f"{name} not found: install it (Debian: apt-get install prometheus)")
    return found


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A port on 127.0.0.1 that is free now, chosen below the kernel's ephemeral range when there is room: a port
    the kernel hands out for port 0 is also the kind it hands to every outgoing connection, so between this call
    and the server's bind another process's client socket can take it (seen with four test workers). The caller
    still binds later, so a server that must start retries on "address already in use"."""
    low = _ephemeral_low()
    if low > 12000:
        rng = random.SystemRandom()
        for _ in range(50):
            port = rng.randrange(10000, low)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (our own 127.0.0.1 server)
        return json.loads(response.read())


class PrometheusRunner:
    def __init__(self, workdir: Path, process: subprocess.Popen[bytes], port: int, targets_file: Path) -> None:
        self.workdir = workdir
        self.process = process
        self.port = port
        self.targets_file = targets_file

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @classmethod
    def start(
        cls,
        workdir: Path,
        targets: Sequence[Target] = (),
        *,
        scrape_interval: str = "1s",
        ready_timeout: float = 30.0,
        binary: str | None = None,
    ) -> PrometheusRunner:
        workdir.mkdir(parents=True, exist_ok=True)
        targets_file = workdir / "targets.json"
        _write_targets(targets_file, targets)
        config = workdir / "prometheus.yml"
        config.write_text(
            json.dumps(
                {
                    "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
                    "scrape_configs": [
                        {
                            "job_name": "sample",
                            "scrape_timeout": scrape_interval,
                            "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}],
                        }
                    ],
                }
            ),
            encoding="utf-8",
        )
        exe = binary or find_binary()
        last_error = ""
        for _ in range(3):
            port = free_port()
            log = (workdir / "prometheus.log").open("wb")
            process = subprocess.Popen(
                [
                    exe,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={workdir / 'data'}",
                    "--storage.tsdb.retention.time=2h",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            log.close()
            runner = cls(workdir, process, port, targets_file)
            try:
                runner._wait_ready(ready_timeout)
                return runner
            except RuntimeError as exc:
                last_error = str(exc)
                runner.stop()
        raise RuntimeError(f"prometheus did not start: {last_error}")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"exited with {self.process.returncode}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1.0) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"not ready after {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        path = self.workdir / "prometheus.log"
        text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
        return "\n".join(text.splitlines()[-lines:])

    def set_targets(self, targets: Sequence[Target]) -> None:
        _write_targets(self.targets_file, targets)

    def wait_for_targets(self, count: int | None = None, timeout: float = 20.0) -> None:
        """Until ``count`` targets (default: all in the file) are up and have been scraped."""
        want = count if count is not None else len(json.loads(self.targets_file.read_text(encoding="utf-8")))
        deadline = time.monotonic() + timeout
        up = 0
        while time.monotonic() < deadline:
            try:
                data = _get_json(f"{self.url}/api/v1/targets?state=active")
                up = sum(1 for t in data["data"]["activeTargets"] if t.get("health") == "up")
            except (urllib.error.URLError, OSError, KeyError, ValueError):
                up = 0
            if up >= want:
                return
            time.sleep(0.2)
        raise RuntimeError(f"{up} of {want} targets up after {timeout:.0f}s")

    def query(self, promql: str) -> list[dict[str, Any]]:
        """A convenience instant query for tests (the product uses metrics.PrometheusMetrics)."""
        from urllib.parse import urlencode

        data = _get_json(f"{self.url}/api/v1/query?{urlencode({'query': promql})}")
        result: list[dict[str, Any]] = data["data"]["result"]
        return result

    def stop(self, grace: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=grace)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def __enter__(self) -> PrometheusRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_targets(path: Path, targets: Sequence[Target]) -> None:
    groups = [{"targets": [t.address], "labels": dict(t.labels)} for t in targets]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups), encoding="utf-8")
    tmp.replace(path)
