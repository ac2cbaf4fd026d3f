"""Real git repositories for tests: a bare origin, a work clone that releases v1.0.0, hotfix branches, clones."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


def git(cwd: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def contains(repo: Path, ancestor: str, ref: str) -> bool:
    """Whether ``ref`` contains ``ancestor`` (git merge-base --is-ancestor: 0 yes, 1 no, else an error)."""
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", ancestor, ref], cwd=repo, capture_output=True, text=True, check=False
    )
    if proc.returncode not in (0, 1):
        raise AssertionError(f"git merge-base failed: {proc.stderr}")
    return proc.returncode == 0


@dataclass
class Repo:
    path: Path

    def git(self, *args: str, check: bool = True) -> str:
        return git(self.path, *args, check=check)

    def write(self, files: dict[str, str]) -> None:
        for rel, text in files.items():
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def commit(self, files: dict[str, str], message: str) -> str:
        self.write(files)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")


def make_project(tmp_path: Path, *, version: str = "1.0.0", tag: bool = True) -> tuple[Path, Repo]:
    """A bare origin and a work clone whose main holds release ``version`` (tagged v<version> when ``tag``)."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    work = Repo(tmp_path / "work")
    git(tmp_path, "clone", "-q", str(origin), str(work.path))
    work.commit(
        {
            "package.json": '{\n  "name": "shop",\n  "version": "%s"\n}\n' % version,
            "src/app.py": "def handler():\n    return 'ok'\n",
            "README.md": "# shop\n",
        },
        "feat: first release",
    )
    if tag:
        work.git("tag", "-a", f"v{version}", "-m", f"release v{version}")
    work.git("push", "-q", "origin", "main", "--tags")
    return origin, work


def hotfix_branch(
    work: Repo,
    *,
    version: str = "1.0.1",
    slug: str = "fix-login",
    files: dict[str, str] | None = None,
    subject: str = "fix: login crash on empty password",
    trailers: str = "Severity: high\nFixes: INC-42",
    bump: bool = True,
    push: bool = True,
) -> str:
    branch = f"hotfix/v{version}-{slug}"
    work.git("switch", "-q", "-c", branch, "main")
    changes = dict(files or {"src/app.py": "def handler():\n    return 'fixed'\n"})
    if bump:
        changes["package.json"] = '{\n  "name": "shop",\n  "version": "%s"\n}\n' % version
    work.commit(changes, f"{subject}\n\n{trailers}\n" if trailers else subject)
    if push:
        work.git("push", "-q", "origin", branch)
    return branch


def clone(origin: Path, dest: Path, *, branch: str, depth: int | None = None) -> Repo:
    args = ["clone", "-q", "--branch", branch]
    if depth is not None:
        args += ["--depth", str(depth), "--no-single-branch"]
        source = f"file://{origin}"
    else:
        source = str(origin)
    git(dest.parent, *args, source, str(dest))
    return Repo(dest)
