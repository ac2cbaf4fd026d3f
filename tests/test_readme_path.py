"""README.md's "Five minutes to a real repository", replayed as written: every `sh` block of that section runs in
bash, in order, in a clone of a project whose running release is tagged v1.4.2, against the sandbox cluster (as
production, `kubectl` and `hotfix` both pointed at it) and a local bare origin. The only thing the test does by
hand is what the README leaves to the reader: fixing the bug before the commit block.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotfix_actions.decide.lkg import LKG_ANNOTATION
from hotfix_actions.sandbox import Sandbox
from tests.gitrepos import Repo, make_project
from tests.kube.kubefix import deployment, start_sandbox

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Five minutes to a real repository"
LIVE_IMAGE = "ghcr.io/acme/shop:1.4.2"


def readme_blocks(text: str) -> list[str]:
    """The `sh` blocks of the section, dedented, in order."""
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end != -1 else len(text)]
    blocks = re.findall(r"^( *)```sh\n(.*?)^\1```$", section, flags=re.MULTILINE | re.DOTALL)
    return [textwrap.dedent(body) for _, body in blocks]


def test_the_section_has_the_blocks_a_newcomer_runs() -> None:
    blocks = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    joined = "\n".join(blocks)
    for needed in ("hotfix config show", "hotfix promote -d shop", "hotfix start login-crash", "--push", "git push"):
        assert needed in joined, needed
    assert '--trailer "Severity: critical" --trailer "Fixes: INC-1234"' in joined
    assert len(blocks) >= 4


@pytest.fixture
def production() -> Iterator[Sandbox]:
    with start_sandbox() as sb:
        sb.apply(deployment("shop", LIVE_IMAGE, replicas=2, namespace="shop"))
        sb.wait_rollout("shop", "shop")
        yield sb


def test_the_readme_path_runs_as_written(tmp_path: Path, production: Sandbox) -> None:
    origin, work = make_project(tmp_path, version="1.4.2")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "KUBECONFIG": str(production.kubeconfig_path),
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / "state"),
    }
    for name in [n for n in env if n.startswith(("HOTFIX_", "GITHUB_"))]:
        del env[name]
    fixed = False
    for number, block in enumerate(readme_blocks((ROOT / "README.md").read_text(encoding="utf-8")), 1):
        if "git commit -am" in block:  # the reader fixes the bug first
            (work.path / "src" / "app.py").write_text("def handler(password=''):\n    return bool(password)\n")
            fixed = True
        proc = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", block],
            cwd=work.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, (
            f"README block {number} failed ({proc.returncode}):\n{block}\n{proc.stdout}{proc.stderr}"
        )
    assert fixed, "no block commits the fix"

    branch = "hotfix/v1.4.3-login-crash"
    remote = Repo(origin)
    assert remote.git("rev-parse", f"refs/heads/{branch}") == work.head()  # `git push` reached the origin
    assert work.git("rev-parse", "--abbrev-ref", "@{upstream}") == f"origin/{branch}"
    trailers = work.git("log", "-1", "--format=%(trailers:only,unfold)")
    assert "Severity: critical" in trailers and "Fixes: INC-1234" in trailers
    assert '"version": "1.4.3"' in work.git("show", f"{branch}:package.json")
    assert remote.git("show", "main:.hotfix.yml").startswith("version: 1")  # the config is on production
    shop = production.get("apps/v1", "deployments", "shop", "shop")
    assert shop is not None
    lkg = json.loads(shop["metadata"]["annotations"][LKG_ANNOTATION])
    assert LIVE_IMAGE in json.dumps(lkg)  # step 5 recorded what runs as the last-known-good

    # The table's claim: rollback snapshots first, by default into a folder of the user's own, and says where.
    snapshots = home / "state" / "hotfix-actions" / "snapshots"
    before = set(snapshots.glob("shop-shop-*.yaml"))  # promote snapshots there too
    assert before
    proc = subprocess.run(
        ["hotfix", "rollback", "-d", "shop", "-n", "shop"],
        cwd=work.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (made,) = set(snapshots.glob("shop-shop-*.yaml")) - before
    assert str(made) in proc.stdout + proc.stderr
    assert "kind: Deployment" in made.read_text()
