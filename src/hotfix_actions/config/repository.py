"""`repository:` where production lives, how releases are tagged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig

__all__ = ["RepositoryConfig"]


@dataclass(frozen=True)
class RepositoryConfig(SectionConfig):
    SECTION: ClassVar[str] = "repository"

    production_branch: str = "main"
    develop_branch: str = "develop"
    release_branches: str = "release/*"
    remote: str = "origin"
    tag_prefix: str = "v"
    version_files: tuple[str, ...] = ("pyproject.toml", "package.json", "VERSION", "setup.cfg", "Chart.yaml")
