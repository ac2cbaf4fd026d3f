"""`merge_back:` where a finished hotfix goes after production, and how a blocked merge is handed to people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig

__all__ = ["MergeBackConfig"]


@dataclass(frozen=True)
class MergeBackConfig(SectionConfig):
    SECTION: ClassVar[str] = "merge_back"

    # After the production branch, in this order: "develop" (repository.develop_branch), "releases" (open branches
    # matching repository.release_branches, oldest version first) or a branch name.
    targets: tuple[str, ...] = ("develop", "releases")
    skip_develop_when_release_open: bool = False  # nvie's model: the release branch carries the fix to develop
    skip_older_releases: bool = True  # release/1.2 is finished once 1.2.x hotfixes exist
    branch_prefix: str = "merge-back/"
    labels: tuple[str, ...] = ("hotfix",)
    auto_merge: bool = False
    delete_branch: bool = True
    create_release: bool = True
    committer_name: str = "github-actions[bot]"
    committer_email: str = "41898282+github-actions[bot]@users.noreply.github.com"
