"""`hotfix config fetch`: the `.hotfix.yml` of the trusted ref (the default branch), never the hotfix branch's own.

The branch under test must not choose the rules it is checked by, where the Prometheus token goes or which
``pg_bindir`` runs with the database password. The production jobs therefore read the configuration from a ref the
branch cannot change: by default the remote's default branch (``git ls-remote --symref <remote> HEAD``), or a ref
the caller names (its workflow's ref or SHA). The file is fetched with git (one commit, depth 1, into a private ref),
validated, and written to a file of its own for the later steps. A ref without the file means the defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hotfix_actions.config import load
from hotfix_actions.decide.names import branch_name_problem
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import GitError, UsageError
from hotfix_actions.report import Outcome, Reporter

__all__ = ["TRUSTED_REF", "FetchRequest", "GitForConfig", "path_problem", "run"]

TRUSTED_REF = "refs/hotfix-actions/trusted-config"
_SHA = re.compile(r"^[0-9a-f]{40}$")


class GitForConfig(Protocol):
    def run(self, *args: str, check: bool = True) -> object: ...

    def fetch(self, remote: str, refspecs: list[str], *, depth: int | None = None) -> None: ...

    def resolve(self, ref: str) -> str | None: ...

    def show_file(self, rev: str, path: str) -> str | None: ...


@dataclass(frozen=True)
class FetchRequest:
    ref: str | None  # None or "": the remote's default branch
    path: str  # the file inside the repository
    output: Path
    remote: str = "origin"


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot name a file inside the repository, or None."""
    if not path or len(path) > 200:
        return "is empty or longer than 200 characters"
    if path.startswith(("/", "-")) or "\\" in path or ":" in path:
        return "must be a relative path inside the repository (no leading '/' or '-', no ':' or '\\')"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "must not hold empty, '.' or '..' parts"
    if not path.isprintable():
        return "holds unprintable characters"
    return None


def _default_branch(git: GitForConfig, remote: str) -> str:
    proc = git.run("ls-remote", "--symref", "--end-of-options", remote, "HEAD")
    for line in str(getattr(proc, "stdout", "")).splitlines():
        if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
            return line[len("ref: refs/heads/") : -len("\tHEAD")]
    raise UsageError(
        f"the remote {remote} names no default branch",
        input_name="config-ref",
        fix="pass the ref whose .hotfix.yml to use (config-ref), e.g. main",
    )


def _refspec(ref: str) -> str:
    if _SHA.match(ref):
        return f"+{ref}:{TRUSTED_REF}"
    if problem := branch_name_problem(ref, hotfix=False):
        raise UsageError(f"{ref[:100]!r} {problem}", input_name="config-ref", fix="name a branch, a tag or a SHA")
    return f"+{ref}:{TRUSTED_REF}"


def run(req: FetchRequest, git: GitForConfig, reporter: Reporter) -> Outcome:
    if problem := path_problem(req.path):
        raise UsageError(f"{req.path[:100]!r} {problem}", input_name="--path", fix="e.g. .hotfix.yml")
    ref = req.ref or _default_branch(git, req.remote)
    refspec = _refspec(ref)
    reporter.step(f"configuration from the trusted ref: {req.path} at {ref}")
    try:
        git.fetch(req.remote, [refspec], depth=1)
    except GitError as exc:
        raise GitError(
            f"cannot fetch {ref} from {req.remote}: {exc.message}",
            fix="check config-ref and that the job's token can read the repository (contents: read)",
        ) from exc
    sha = git.resolve(TRUSTED_REF)
    if sha is None:
        raise GitError(f"{ref} was fetched but does not name a commit")
    text = git.show_file(sha, req.path)
    req.output.parent.mkdir(parents=True, exist_ok=True)
    req.output.write_text(text or "", encoding="utf-8")
    req.output.chmod(0o644)
    load(req.output, required=True)  # a broken trusted configuration stops here (exit 2), with file and line
    if text is None:
        reason = f"{req.path} does not exist at {ref} ({sha[:10]}): the defaults apply"
    else:
        reason = f"{req.path} at {ref} ({sha[:10]}), validated"
    reporter.info(reason)
    return Outcome(
        command="config fetch",
        verdict=Verdict.PASS,
        reasons=[reason],
        outputs={"config": str(req.output), "config-ref": ref, "config-sha": sha},
        title="configuration from the trusted ref",
    )
