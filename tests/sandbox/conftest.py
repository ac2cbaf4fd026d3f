"""Fixtures: a running sandbox (free port on 127.0.0.1, stopped after the test) and the real kubectl against it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotfix_actions.sandbox import Sandbox

KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox.start(ready_delay=0.2, crash_images=r"(:bad|:crash)", tick=0.02) as sb:
        yield sb


@dataclass
class Kubectl:
    """The real kubectl, pointed at one sandbox with a private discovery cache."""

    kubeconfig: Path
    cache: Path
    cwd: Path

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
        env = {**os.environ, "KUBECACHEDIR": str(self.cache), "HOME": str(self.cwd)}
        env.pop("KUBECONFIG", None)
        proc = subprocess.run(
            [KUBECTL, "--kubeconfig", str(self.kubeconfig), *args],
            capture_output=True, text=True, env=env, input=stdin, timeout=timeout, cwd=self.cwd, check=False,
        )  # fmt: skip
        if ok and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc


@pytest.fixture
def kubectl(sandbox: Sandbox, tmp_path: Path) -> Kubectl:
    cache = tmp_path / "kubecache"
    cache.mkdir()
    return Kubectl(sandbox.kubeconfig_path, cache, tmp_path)
