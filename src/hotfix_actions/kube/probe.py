"""``HttpProbe``: the ``ports.Probe`` adapter (httpx): health and smoke checks of what runs in the cluster.

httpx is imported on the first check, so a rollback without health checks never pays for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from hotfix_actions.ports import ProbeResult

if TYPE_CHECKING:
    import httpx

__all__ = ["HttpProbe"]


class HttpProbe:
    """GET a URL until it answers the expected status, with a timeout per try and a pause between tries."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._transport = transport
        self._sleep = sleep
        self._clock = clock

    def check(
        self, url: str, *, expected_status: int = 200, retries: int = 5, interval: float = 2.0, timeout: float = 5.0
    ) -> ProbeResult:
        import httpx

        start = self._clock()
        status: int | None = None
        detail = ""
        attempts = 0
        with httpx.Client(transport=self._transport, timeout=timeout, follow_redirects=False) as client:
            for attempt in range(retries + 1):
                attempts = attempt + 1
                try:
                    response = client.get(url, headers={"User-Agent": "hotfix-actions health check"})
                    status = response.status_code
                    if status == expected_status:
                        return ProbeResult(
                            url, True, status, attempts, self._clock() - start, f"HTTP {status} after {attempts} tries"
                        )
                    detail = f"HTTP {status}, expected {expected_status}"
                except httpx.HTTPError as exc:
                    status = None
                    detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if attempt < retries:
                    self._sleep(interval)
        return ProbeResult(
            url,
            False,
            status,
            attempts,
            self._clock() - start,
            f"{detail} ({attempts} tries over {self._clock() - start:.1f}s)",
        )
