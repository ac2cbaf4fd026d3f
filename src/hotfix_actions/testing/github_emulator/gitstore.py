"""A bare git repository behind the emulator: refs, branches, tags and compare come from real git state."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BareGit", "CommitInfo"]


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author: str
    email: str
    date: str
    message: str


class BareGit:
    """Reads (and, for the refs API, writes) one bare repository with plain git commands."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.timeout = timeout

    def _git(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
            env={"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin"},
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
        return proc

    def refs(self, prefix: str = "refs/") -> dict[str, str]:
        """Full ref name -> the object it points at (tags: the tag object)."""
        out = self._git("for-each-ref", "--format=%(refname) %(objectname)", prefix).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if line)

    def branches(self) -> dict[str, str]:
        return {k.removeprefix("refs/heads/"): v for k, v in self.refs("refs/heads/").items()}

    def resolve(self, rev: str) -> str | None:
        if rev.startswith("-"):
            return None
        proc = self._git("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}", check=False)
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    def object_type(self, sha: str) -> str:
        return self._git("cat-file", "-t", sha).stdout.strip()

    def is_empty(self) -> bool:
        return not self.refs("refs/heads/")

    def commit(self, sha: str) -> CommitInfo:
        fmt = "%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%B"
        out = self._git("log", "-1", f"--format={fmt}", "--end-of-options", sha, "--").stdout
        sha_, parents, author, email, date, message = out.split("\x1f", 5)
        return CommitInfo(sha_, tuple(parents.split()), author, email, date, message.rstrip("\n"))

    def merge_base(self, a: str, b: str) -> str | None:
        proc = self._git("merge-base", a, b, check=False)
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    def commits_between(self, base: str, head: str) -> list[str]:
        """Commits in head and not in base, oldest first (as GitHub's compare lists them)."""
        out = self._git("rev-list", "--reverse", f"{base}..{head}", "--").stdout
        return out.split()

    def changed_files(self, base: str, head: str) -> list[tuple[str, str]]:
        out = self._git("diff", "--name-status", "--no-renames", f"{base}...{head}", "--").stdout
        result = []
        for line in out.splitlines():
            status, _, name = line.partition("\t")
            result.append((name, {"A": "added", "D": "removed"}.get(status[:1], "modified")))
        return result

    def update_ref(self, ref: str, sha: str, old: str | None = None) -> None:
        args = ["update-ref", ref, sha]
        if old is not None:
            args.append(old)
        self._git(*args)

    def delete_ref(self, ref: str) -> None:
        self._git("update-ref", "-d", ref)
