"""A project with main, develop and an open release branch, and a pushed hotfix branch; running merge-back."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from hotfix_actions.cli import cli
from tests.gitrepos import Repo, contains, git, hotfix_branch, make_project  # noqa: F401 (contains: for the tests)


def project(tmp_path: Path, *, develop_change: dict[str, str] | None = None) -> tuple[Path, Repo, str]:
    """origin.git with main (v1.0.0), develop (+1 commit, + ``develop_change``), release/1.1 and the hotfix branch."""
    origin, work = make_project(tmp_path)
    work.git("switch", "-q", "-c", "develop", "main")
    work.commit({"src/feature.py": "def feature():\n    return 1\n"}, "feat: next feature")
    work.git("push", "-q", "origin", "develop")
    work.git("switch", "-q", "-c", "release/1.1", "develop")
    work.git("push", "-q", "origin", "release/1.1")
    if develop_change:  # after release/1.1 was cut: only develop has it
        work.git("switch", "-q", "develop")
        work.commit(develop_change, "feat: develop changes the same lines")
        work.git("push", "-q", "origin", "develop")
    work.git("switch", "-q", "main")
    branch = hotfix_branch(work)
    return origin, work, branch


def merge_back(work: Repo, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, ["merge-back", "--repo", str(work.path), *args], env=env, catch_exceptions=False)


def protect(origin: Path, *branches: str) -> None:
    """A pre-receive hook that refuses pushes to these branches, as branch protection would."""
    refs = " ".join(f"refs/heads/{b}" for b in branches)
    hook = origin / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "while read old new ref; do\n"
        f"  for p in {refs}; do\n"
        '    if [ "$ref" = "$p" ]; then echo "GH006: Protected branch update failed for $ref." >&2; exit 1; fi\n'
        "  done\n"
        "done\n"
    )
    hook.chmod(0o755)


def unprotect(origin: Path) -> None:
    (origin / "hooks" / "pre-receive").unlink()


def parents(origin: Path, ref: str) -> list[str]:
    return git(origin, "rev-list", "--parents", "-n", "1", ref).split()[1:]
