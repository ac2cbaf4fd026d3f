"""`promote:` set the image on the primary, wait, smoke-check, record the last-known-good."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig
from hotfix_actions.config.rollback import HealthCheck

__all__ = ["PromoteConfig"]


@dataclass(frozen=True)
class PromoteConfig(SectionConfig):
    SECTION: ClassVar[str] = "promote"

    canary: str = "scale-to-zero"  # what the canary does after a promote: follow | scale-to-zero | ignore
    canary_suffix: str = "-canary"  # canary Deployment = primary + suffix
    rollback_on_failure: bool = True
    wait_timeout: float = 600.0
    settle_seconds: float = 15.0  # after the rollout completes, watch the new pods this long: a restart fails it
    smoke_checks: tuple[HealthCheck, ...] = ()
    snapshot_dir: str | None = None
