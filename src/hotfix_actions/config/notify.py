"""`notify:` which events are sent and how patiently.

The webhook URLs are secrets: they come from the environment (HOTFIX_SLACK_WEBHOOK_URL, HOTFIX_WEBHOOK_URL,
HOTFIX_TEAMS_WEBHOOK_URL, HOTFIX_DISCORD_WEBHOOK_URL), never from this file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hotfix_actions.config._build import SectionConfig

__all__ = ["EVENT_KINDS", "NotifyConfig"]

EVENT_KINDS = (
    "started",
    "canary",
    "promoted",
    "rolled_back",
    "failed",
    "merged_back",
    "deployment",
    "postmortem",
)


@dataclass(frozen=True)
class NotifyConfig(SectionConfig):
    SECTION: ClassVar[str] = "notify"

    events: tuple[str, ...] = ()  # empty: every event
    timeout_seconds: float = 5.0
    max_retry_after_seconds: float = 5.0
    slack_mention: str = ""  # here, channel or subteam^ID: added to failed and rolled_back messages only
