"""Git: the local repository and the merges and pushes of merge-back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class FileChange:
    path: str
    added: int
    deleted: int
    binary: bool = False


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    trailers: tuple[tuple[str, str], ...] = ()
    parents: int = 1


@dataclass(frozen=True)
class TagRef:
    name: str
    sha: str  # the peeled commit


class Git(Protocol):
    """A git repository, driven with argv lists; every ref was checked before it gets here."""

    def resolve(self, ref: str) -> str | None: ...
    def current_branch(self) -> str | None: ...
    def is_shallow(self) -> bool: ...
    def has_remote(self, remote: str) -> bool: ...
    def fetch(
        self,
        remote: str,
        refspecs: Sequence[str],
        *,
        depth: int | None = None,
        deepen: int | None = None,
        unshallow: bool = False,
    ) -> None: ...
    def is_ancestor(self, ancestor: str, descendant: str) -> bool | None: ...
    def count_commits(self, base: str, head: str) -> int: ...
    def tags(self, prefix: str, *, merged_into: str | None = None, namespace: str = "refs/tags") -> list[TagRef]: ...
    def remote_tags(self, remote: str, prefix: str) -> list[TagRef]: ...
    def diff_numstat(self, base: str, head: str) -> list[FileChange]: ...
    def commits(self, base: str, head: str, trailer_keys: Sequence[str]) -> list[Commit]: ...
    def show_file(self, rev: str, path: str) -> str | None: ...
    def show_files(self, rev: str, paths: Sequence[str]) -> dict[str, str]: ...
    def is_clean(self) -> bool: ...
    def create_branch(self, name: str, start: str) -> None: ...
    def write_and_commit(self, files: dict[str, str], message: str) -> str: ...
    def push(self, remote: str, refspec: str, *, set_upstream: bool = False) -> None: ...
    def ref_heads(self, prefix: str) -> dict[str, str]: ...
    def remote_heads(self, remote: str, prefix: str) -> dict[str, str]: ...


@dataclass(frozen=True)
class TreeMerge:
    """A merge computed without a work tree: the tree when clean, else the conflicting paths."""

    tree: str | None
    conflicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class PushResult:
    """Per destination ref: pushed, or refused by the remote with its reason (a hook, protection, non-fast-forward)."""

    pushed: tuple[str, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.rejected


class GitMerge(Git, Protocol):
    """What merge-back needs beyond ports.Git: merges without a checkout, annotated tags, non-forced pushes."""

    def ref_heads(self, prefix: str) -> dict[str, str]: ...
    def fetch_branches(self, remote: str, *, unshallow: bool = False) -> dict[str, str]: ...
    def merge_tree(self, ours: str, theirs: str) -> TreeMerge: ...
    def commit_tree(
        self, tree: str, parents: Sequence[str], message: str, identity: tuple[str, str] | None = None
    ) -> str: ...
    def create_tag(self, name: str, sha: str, message: str, identity: tuple[str, str] | None = None) -> None: ...
    def push_refs(self, remote: str, refspecs: Sequence[str]) -> PushResult:
        """Push without force; refusals come back in the result, transport failures raise GitError."""
        ...

    def first_parent_containing(self, target: str, commit: str) -> str | None:
        """The first commit on ``target``'s first-parent line that contains ``commit`` (the merge that brought it)."""
        ...

    def has_identity(self) -> bool: ...
