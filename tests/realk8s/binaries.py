"""Where ``scripts/install-kubernetes`` keeps the control-plane binaries, and the pinned versions.

The cache folder's name carries a digest of the files that decide the build, computed here exactly as the script
does (``cat versions.env go.mod go.sum cmd/etcd/main.go | sha256sum``), so a changed pin never reuses old binaries.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BUILD", "NAMES", "Binaries", "find", "versions"]

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "tests" / "realk8s" / "build"
NAMES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd", "kwok")
_DIGEST_FILES = ("versions.env", "go.mod", "go.sum", "cmd/etcd/main.go")


def versions() -> dict[str, str]:
    """KUBERNETES_VERSION, ETCD_VERSION, KWOK_VERSION from versions.env."""
    found: dict[str, str] = {}
    for line in (BUILD / "versions.env").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def cache_dir() -> Path:
    digest = hashlib.sha256(b"".join((BUILD / name).read_bytes() for name in _DIGEST_FILES)).hexdigest()[:16]
    root = os.environ.get("HOTFIX_K8S_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hotfix-actions" / "kubernetes"
    )
    return Path(root) / f"{versions()['KUBERNETES_VERSION']}-{digest}"


@dataclass(frozen=True)
class Binaries:
    folder: Path

    def __getitem__(self, name: str) -> str:
        return str(self.folder / name)


def find(*, build: bool = True) -> Binaries:
    """The cached binaries; with ``build`` the install script runs first (a few seconds when cached).

    Raises RuntimeError saying what to do when they cannot be had: the tests that need them fail, never skip.
    """
    folder = cache_dir() / "bin"
    if build:
        proc = subprocess.run(
            [str(ROOT / "scripts" / "install-kubernetes")], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(
                "the real Kubernetes control plane is not built and scripts/install-kubernetes failed:\n"
                + proc.stdout
                + proc.stderr
            )
    missing = [name for name in NAMES if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(
            f"control-plane binaries missing in {folder}: {', '.join(missing)}; run scripts/install-kubernetes"
        )
    return Binaries(folder)
