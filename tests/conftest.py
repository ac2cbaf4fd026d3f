from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# One runner tool cache for every act run of the session: the first action installs the package, later ones only
# put it on PATH (as on a real runner). Removed when the session ends.
_TOOL_CACHE = tempfile.mkdtemp(prefix="hotfix-runner-tool-cache-")
os.environ["HOTFIX_TEST_TOOL_CACHE"] = _TOOL_CACHE


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(_TOOL_CACHE, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def _git_identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test gets a predictable git: an identity, no user or system config, main as the default branch."""
    home = tmp_path_factory.mktemp("gitconfig")
    config = home / "gitconfig"
    config.write_text(
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n[advice]\n\tdetachedHead = false\n'
    )
    saved = dict(os.environ)
    os.environ.update(
        {
            "GIT_AUTHOR_NAME": "Hotfix Tester",
            "GIT_AUTHOR_EMAIL": "tester@example.com",
            "GIT_COMMITTER_NAME": "Hotfix Tester",
            "GIT_COMMITTER_EMAIL": "tester@example.com",
            "GIT_CONFIG_GLOBAL": str(config),
            "GIT_CONFIG_NOSYSTEM": "1",
            # rollback and promote snapshot by default under $XDG_STATE_HOME: keep that out of the real home
            "XDG_STATE_HOME": str(home / "state"),
        }
    )
    for name in (
        "GITHUB_ACTIONS",
        "GITHUB_OUTPUT",
        "GITHUB_STEP_SUMMARY",
        "GITHUB_HEAD_REF",
        "GITHUB_REF_NAME",
        "HOTFIX_CONFIG",
        "HOTFIX_BRANCH",
    ):
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def gha(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Pretend to be a GitHub Actions step: output and summary files to read back."""
    out = tmp_path / "github_output"
    summary = tmp_path / "step_summary"
    out.touch()
    summary.touch()
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    return {"output": out, "summary": summary}


def read_outputs(path: Path) -> dict[str, str]:
    """Parse a GITHUB_OUTPUT file written with name<<DELIMITER blocks."""
    result: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line:
            name, delim = line.split("<<", 1)
            j = lines.index(delim, i + 1)
            result[name] = "\n".join(lines[i + 1 : j])
            i = j + 1
        else:
            if "=" in line:
                name, value = line.split("=", 1)
                result[name] = value
            i += 1
    return result


# One suite, two clusters: `kube` runs a test on the sandbox and on the real control plane (tests/clusters.py).
from tests.clusters import kube, real_control_plane  # noqa: E402

__all__ = ["kube", "read_outputs", "real_control_plane"]
