"""`rollback:` emergency-rollback: default strategy, the severity matrix, lock, wait, blue-green, health checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig
from hotfix_actions.decide.rollback import DEFAULT_MATRIX

__all__ = ["BlueGreenConfig", "HealthCheck", "LockConfig", "RollbackConfig"]


@dataclass(frozen=True)
class HealthCheck:
    """One HTTP check after a rollout: GET ``url`` until it answers ``expected_status`` (at most ``retries``+1
    tries, ``interval`` seconds apart, ``timeout`` seconds each)."""

    url: str
    expected_status: int = 200
    retries: int = 5
    interval: float = 2.0
    timeout: float = 5.0


@dataclass(frozen=True)
class LockConfig:
    ttl_seconds: int = 15  # the Lease frees this long after its last renewal (renewed every third of it), so a
    # crashed run (SIGKILL, a lost runner) holds it for seconds, like client-go's leader election
    timeout_seconds: float = 60.0  # how long to wait for a Lease held by another run: longer than the TTL
    prefix: str = "hotfix-lock-"  # Lease name = prefix + deployment


@dataclass(frozen=True)
class BlueGreenConfig:
    service: str | None = None  # default: the deployment name given to the command
    color_label: str = "color"
    colors: tuple[str, ...] = ("blue", "green")
    grace_seconds: float = 30.0  # wait before scaling the failed color to zero
    keep_failed: bool = False


@dataclass(frozen=True)
class RollbackConfig(SectionConfig):
    SECTION: ClassVar[str] = "rollback"

    strategy: str = "undo"  # undo | blue-green | redeploy | auto
    default_severity: str = "high"  # for strategy auto without --severity
    matrix: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_MATRIX)))
    wait: bool = True
    wait_timeout: float = 300.0
    settle_seconds: float = 0.0  # after the rollout completes, keep watching this long; a regression fails
    lock: LockConfig = field(default_factory=LockConfig)
    blue_green: BlueGreenConfig = field(default_factory=BlueGreenConfig)
    health_checks: tuple[HealthCheck, ...] = ()
    snapshot_dir: str | None = None
