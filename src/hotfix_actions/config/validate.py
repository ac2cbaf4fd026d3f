"""`validate:` the rules of `hotfix validate`, each one configurable."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig

__all__ = ["ValidateConfig"]

DEFAULT_BRANCH_PATTERN = (
    r"^hotfix/v(?P<version>(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*))-(?P<slug>[a-z0-9][a-z0-9-]{0,47})$"
)
DEFAULT_RISKY_PATHS = (
    "**/migrations/**",
    "**/*schema*",
    "**/*.sql",
    "**/alembic/**",
    "Dockerfile",
    "**/*.tf",
    # what the pipeline trusts: a change to the workflows, local actions or the configuration needs approval
    ".github/workflows/**",
    ".github/actions/**",
    "**/.hotfix.yml",
)


@dataclass(frozen=True)
class SizeLimits:
    enabled: bool = True
    max_files: int = 20
    max_lines: int = 400
    warn_ratio: float = 0.8


@dataclass(frozen=True)
class CommitRules:
    enabled: bool = True
    types: tuple[str, ...] = ("fix",)
    allow_release_commit: bool = True
    require_severity: bool = True
    severity_trailer: str = "Severity"
    ticket_trailers: tuple[str, ...] = ("Fixes",)
    require_ticket: bool = True


@dataclass(frozen=True)
class ValidateConfig(SectionConfig):
    SECTION: ClassVar[str] = "validate"

    branch_pattern: str = DEFAULT_BRANCH_PATTERN
    check_base: bool = True
    check_version: bool = True
    size: SizeLimits = field(default_factory=SizeLimits)
    risky_paths: tuple[str, ...] = DEFAULT_RISKY_PATHS
    commits: CommitRules = field(default_factory=CommitRules)
    max_top_level_dirs: int = 3
    max_deepen_rounds: int = 4
