"""Knobs of one sandbox: pod timing, which images fail and how, the controller tick."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Settings"]


@dataclass
class Settings:
    """Mutable on purpose: a test may change ``ready_delay`` or ``crash_images`` while the sandbox runs."""

    ready_delay: float = 0.3  # seconds from pod creation to Ready
    # Ready first (a container with no readiness probe is Ready while it runs), then crashes after ``crash_after``
    # seconds and waits ``crash_period`` seconds in CrashLoopBackOff before it runs again: restartCount climbs.
    crash_images: re.Pattern[str] | None = None
    pull_fail_images: re.Pattern[str] | None = None  # never Ready: ImagePullBackOff, phase Pending
    tick: float = 0.05  # controller period (they are also woken by every write)
    progress_deadline_default: int = 600  # spec.progressDeadlineSeconds when a Deployment leaves it out
    crash_period: float = 1.0  # seconds a crashed container waits in CrashLoopBackOff (the back-off)
    crash_after: float = 1.0  # seconds a crash-looping container runs (Ready) before it crashes
    terminate_delay: float = 0.3  # seconds a deleted pod stays Terminating (the kubelet stopping its containers)
    deny_images: re.Pattern[str] | None = None  # pods with such an image are refused at admission (403)
    deny_message: str = "images from this registry are not allowed"
    namespace_grace: float = 0.2  # seconds a deleted namespace stays Terminating before its contents go
    bookmark_every: float = 60.0  # seconds between watch bookmarks (the watch cache's frequency)

    @staticmethod
    def pattern(text: str | re.Pattern[str] | None) -> re.Pattern[str] | None:
        if text is None or text == "":
            return None
        return text if isinstance(text, re.Pattern) else re.compile(text)

    def crashes(self, image: str) -> bool:
        return bool(self.crash_images and self.crash_images.search(image))

    def denied(self, image: str) -> bool:
        return bool(self.deny_images and self.deny_images.search(image))

    def pull_fails(self, image: str) -> bool:
        return bool(self.pull_fail_images and self.pull_fail_images.search(image))
