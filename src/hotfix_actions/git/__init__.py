"""The Git adapter: the real git binary, always with an argv list and `--end-of-options` before refs."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from hotfix_actions.errors import GitError
from hotfix_actions.ports import Commit, FileChange, PushResult, TagRef, TreeMerge

__all__ = ["GitCli"]

_SEP = "\x1f"
_REC = "\x1e"


class GitCli:
    """Runs git in one work tree. Refs reaching here were checked against an allowlist or are SHAs."""

    def __init__(self, cwd: str | Path, *, timeout: float = 300.0, env: Mapping[str, str] | None = None) -> None:
        self.cwd = Path(cwd)
        self.timeout = timeout
        base = dict(env) if env is not None else dict(os.environ)
        base.update({"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C", "GIT_OPTIONAL_LOCKS": "0"})
        self._env = base
        self.calls: list[list[str]] = []
        self._shallow: bool | None = None  # cached until the next fetch

    def run(self, *args: str, check: bool = True, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        argv = ["git", *args]
        self.calls.append(argv)
        try:
            proc = subprocess.run(
                argv,
                cwd=self.cwd,
                env=self._env,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                input=input_text,
                check=False,
            )
        except FileNotFoundError as exc:
            raise GitError("git is not installed", fix="install git and put it on PATH") from exc
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git {args[0]} timed out after {self.timeout:.0f}s") from exc
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise GitError(f"git {args[0]} failed: {detail[-1] if detail else f'exit {proc.returncode}'}")
        return proc

    # -- reading -------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str | None:
        proc = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    def current_branch(self) -> str | None:
        proc = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return proc.stdout.strip() or None if proc.returncode == 0 else None

    def is_shallow(self) -> bool:
        if self._shallow is None:
            self._shallow = self.run("rev-parse", "--is-shallow-repository").stdout.strip() == "true"
        return self._shallow

    def has_remote(self, remote: str) -> bool:
        return remote in self.run("remote").stdout.split()

    def fetch(
        self,
        remote: str,
        refspecs: Sequence[str],
        *,
        depth: int | None = None,
        deepen: int | None = None,
        unshallow: bool = False,
    ) -> None:
        args = ["fetch", "--quiet", "--no-tags", "--no-recurse-submodules"]
        if depth is not None:
            args.append(f"--depth={depth}")
        if deepen is not None:
            args.append(f"--deepen={deepen}")
        if unshallow:
            args.append("--unshallow")
        self._shallow = None
        self.run(*args, "--end-of-options", remote, *refspecs)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool | None:
        """True or False; None when either commit object is missing here (a shallow or partial clone)."""
        proc = self.run("merge-base", "--is-ancestor", ancestor, descendant, check=False)
        if proc.returncode in (0, 1):
            return proc.returncode == 0
        for sha in (ancestor, descendant):
            if self.run("cat-file", "-e", f"{sha}^{{commit}}", check=False).returncode != 0:
                return None
        raise GitError(f"git merge-base failed: {proc.stderr.strip()}")

    def count_commits(self, base: str, head: str) -> int:
        return int(self.run("rev-list", "--count", f"{base}..{head}", "--").stdout.strip() or 0)

    def tags(self, prefix: str, *, merged_into: str | None = None, namespace: str = "refs/tags") -> list[TagRef]:
        """Tags named ``<prefix>*`` under ``namespace`` (refs/tags, or a private copy of a remote's tags)."""
        strip = namespace.count("/") + 1
        fmt = f"--format=%(refname:strip={strip})" + _SEP + "%(*objectname)" + _SEP + "%(objectname)"
        args = ["for-each-ref", fmt]
        if merged_into:
            args.append(f"--merged={merged_into}")
        args.append(f"{namespace}/{prefix}*")
        out = self.run(*args).stdout
        result = []
        for line in out.splitlines():
            name, peeled, obj = line.split(_SEP)
            result.append(TagRef(name=name, sha=peeled or obj))
        return result

    def remote_tags(self, remote: str, prefix: str) -> list[TagRef]:
        out = self.run("ls-remote", "--tags", "--end-of-options", remote, f"refs/tags/{prefix}*").stdout
        plain: dict[str, str] = {}
        peeled: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            name = ref.removeprefix("refs/tags/")
            if name.endswith("^{}"):
                peeled[name[:-3]] = sha
            else:
                plain[name] = sha
        return [TagRef(name=n, sha=peeled.get(n, s)) for n, s in plain.items()]

    def diff_numstat(self, base: str, head: str) -> list[FileChange]:
        out = self.run("diff", "--numstat", "-z", "--no-renames", "--end-of-options", f"{base}...{head}", "--").stdout
        changes = []
        for record in out.split("\0"):
            if not record:
                continue
            added, deleted, path = record.split("\t", 2)
            binary = added == "-"
            changes.append(
                FileChange(
                    path=path, added=0 if binary else int(added), deleted=0 if binary else int(deleted), binary=binary
                )
            )
        return changes

    def commits(self, base: str, head: str, trailer_keys: Sequence[str]) -> list[Commit]:
        trailer_fmt = "".join(f"%(trailers:key={k},separator=%x1d)" + _SEP for k in trailer_keys)
        fmt = "%H" + _SEP + "%P" + _SEP + "%s" + _SEP + trailer_fmt + _REC
        out = self.run("log", f"--format={fmt}", "--end-of-options", f"{base}..{head}", "--").stdout
        result = []
        for record in out.split(_REC):
            record = record.strip("\n")
            if not record:
                continue
            parts = record.split(_SEP)
            sha, parents, subject = parts[0], parts[1], parts[2]
            trailers: list[tuple[str, str]] = []
            for raw in parts[3 : 3 + len(trailer_keys)]:
                for item in raw.split("\x1d"):
                    key, sep, value = item.partition(":")
                    if sep:
                        trailers.append((key.strip(), value.strip()))
            result.append(Commit(sha=sha, subject=subject, trailers=tuple(trailers), parents=len(parents.split())))
        return result

    def show_file(self, rev: str, path: str) -> str | None:
        return self.show_files(rev, [path]).get(path)

    def show_files(self, rev: str, paths: Sequence[str]) -> dict[str, str]:
        """The text of each file that exists at ``rev``, read with one `git cat-file --batch`."""
        if not paths:
            return {}
        request = "".join(f"{rev}:{p}\n" for p in paths)
        argv = ["git", "cat-file", "--batch"]
        self.calls.append(argv)
        try:
            proc = subprocess.run(
                argv,
                cwd=self.cwd,
                env=self._env,
                input=request.encode(),
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git cat-file timed out after {self.timeout:.0f}s") from exc
        if proc.returncode != 0:
            raise GitError(f"git cat-file failed: {proc.stderr.decode(errors='replace').strip()}")
        out = proc.stdout
        found: dict[str, str] = {}
        pos = 0
        for path in paths:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode(errors="replace").split()
            pos = end + 1
            if len(header) == 3 and header[1] == "blob":
                size = int(header[2])
                found[path] = out[pos : pos + size].decode("utf-8", errors="replace")
                pos += size + 1
            elif len(header) == 3:
                pos += int(header[2]) + 1
        return found

    def is_clean(self) -> bool:
        return self.run("status", "--porcelain", "--untracked-files=no").stdout.strip() == ""

    # -- writing -------------------------------------------------------------------------------------
    def create_branch(self, name: str, start: str) -> None:
        self.run("switch", "--quiet", "--no-track", "-c", name, start)

    def write_and_commit(self, files: dict[str, str], message: str) -> str:
        for rel, text in files.items():
            (self.cwd / rel).write_text(text, encoding="utf-8")
        if files:
            self.run("add", "--", *files)
        self.run("commit", "--quiet", "--allow-empty", "-F", "-", input_text=message)
        sha = self.resolve("HEAD")
        if sha is None:
            raise GitError("commit did not produce a HEAD")
        return sha

    def push(self, remote: str, refspec: str, *, set_upstream: bool = False) -> None:
        """Push one refspec; ``set_upstream`` makes the local branch track it (a plain `git push` works next)."""
        self.run("push", "--quiet", *(["--set-upstream"] if set_upstream else []), "--end-of-options", remote, refspec)

    def remote_heads(self, remote: str, prefix: str) -> dict[str, str]:
        """Branch name -> commit of the remote's branches whose name starts with ``prefix`` (asks the remote)."""
        out = self.run("ls-remote", "--heads", "--end-of-options", remote).stdout
        heads = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            name = ref.removeprefix("refs/heads/")
            if name.startswith(prefix):
                heads[name] = sha
        return heads

    # -- merge-back (merges without a work tree, annotated tags, pushes that are never forced) -------
    def ref_heads(self, prefix: str) -> dict[str, str]:
        """Full ref name -> commit for every ref under ``prefix`` (e.g. ``refs/remotes/origin/``)."""
        out = self.run("for-each-ref", "--format=%(refname)" + _SEP + "%(objectname)", "--", prefix).stdout
        return dict(line.split(_SEP, 1) for line in out.splitlines() if _SEP in line)

    def fetch_branches(self, remote: str, *, unshallow: bool = False) -> dict[str, str]:
        """Fetch every branch of ``remote`` (pruning deleted ones) and return branch name -> commit."""
        args = ["fetch", "--quiet", "--prune", "--no-tags", "--no-recurse-submodules"]
        if unshallow:
            args.append("--unshallow")
        prefix = f"refs/remotes/{remote}/"
        self.run(*args, "--end-of-options", remote, f"+refs/heads/*:{prefix}*")
        heads = self.ref_heads(prefix)
        return {ref[len(prefix) :]: sha for ref, sha in heads.items() if ref != f"{prefix}HEAD"}

    def merge_tree(self, ours: str, theirs: str) -> TreeMerge:
        """Merge two commits into a tree (git 2.38+ ``merge-tree --write-tree``); nothing is checked out."""
        proc = self.run(
            "merge-tree",
            "--write-tree",
            "--name-only",
            "-z",
            "--no-messages",
            "--end-of-options",
            ours,
            theirs,
            check=False,
        )
        if proc.returncode not in (0, 1) or not proc.stdout:
            detail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            raise GitError(f"git merge-tree failed: {detail}", fix="merge-back needs git 2.38 or newer")
        parts = [p for p in proc.stdout.split("\0") if p]
        if proc.returncode == 0:
            return TreeMerge(tree=parts[0])
        return TreeMerge(tree=None, conflicts=tuple(dict.fromkeys(parts[1:])))

    def _identity_args(self, identity: tuple[str, str] | None) -> list[str]:
        if identity is None or self.has_identity():
            return []
        return ["-c", f"user.name={identity[0]}", "-c", f"user.email={identity[1]}"]

    def has_identity(self) -> bool:
        if self._env.get("GIT_COMMITTER_EMAIL") and self._env.get("GIT_AUTHOR_EMAIL"):
            return True
        return self.run("config", "--get", "user.email", check=False).stdout.strip() != ""

    def commit_tree(
        self, tree: str, parents: Sequence[str], message: str, identity: tuple[str, str] | None = None
    ) -> str:
        args = [*self._identity_args(identity), "commit-tree", "--no-gpg-sign"]
        for parent in parents:
            args += ["-p", parent]
        sha = self.run(*args, "-F", "-", "--end-of-options", tree, input_text=message).stdout.strip()
        if not sha:
            raise GitError("git commit-tree produced no commit")
        return sha

    def create_tag(self, name: str, sha: str, message: str, identity: tuple[str, str] | None = None) -> None:
        self.run(
            *self._identity_args(identity),
            "tag",
            "--annotate",
            "--no-sign",
            "-F",
            "-",
            "--end-of-options",
            name,
            sha,
            input_text=message,
        )

    def push_refs(self, remote: str, refspecs: Sequence[str]) -> PushResult:
        """``git push --porcelain`` without force: refusals are results, transport failures raise GitError."""
        for spec in refspecs:
            if spec.startswith("+"):
                raise GitError(f"refusing a forced push of {spec}")
        proc = self.run("push", "--porcelain", "--end-of-options", remote, *refspecs, check=False)
        pushed, rejected = [], []
        for line in proc.stdout.splitlines():
            flag, tab, rest = line.partition("\t")
            if not tab or len(flag) != 1:
                continue
            refs, _, summary = rest.partition("\t")
            destination = refs.rpartition(":")[2]
            if flag == "!":
                said = [
                    line[len("remote:") :].strip().replace("::", ": :")[:200]
                    for line in proc.stderr.splitlines()
                    if line.startswith("remote:") and line[len("remote:") :].strip()
                ]
                rejected.append((destination, summary.strip() + (f": {said[0]}" if said else "")))
            else:
                pushed.append(destination)
        if proc.returncode != 0 and not rejected:
            detail = (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
            raise GitError(f"git push to {remote} failed: {detail}")
        return PushResult(pushed=tuple(pushed), rejected=tuple(rejected))

    def first_parent_containing(self, target: str, commit: str) -> str | None:
        if target == commit:
            return commit
        out = self.run(
            "rev-list",
            "--first-parent",
            "--ancestry-path",
            "--reverse",
            "--end-of-options",
            f"{commit}..{target}",
            "--",
        ).stdout.split()
        if not out:
            return None
        first_parent = self.resolve(f"{out[0]}^1")
        if first_parent is not None and self.is_ancestor(commit, first_parent):
            return commit  # fast-forwarded: the commit itself is on the first-parent line
        return out[0]
