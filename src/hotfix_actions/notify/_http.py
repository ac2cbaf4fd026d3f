"""One webhook POST with a timeout: 2xx delivered; 429 with a short Retry-After retried once; anything else a warning.

The URL is a secret, and so is each of its credential-bearing parts (a webhook's path is its token): they are
scrubbed from the receiver's answer, with every other registered secret, before the answer is cut to 200 characters
and made inert (``guard.clip``). A cut secret could not be recognised afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from hotfix_actions.guard import MASK, clip, secret_forms

__all__ = ["Poster"]


@dataclass
class Poster:
    name: str  # "Slack", "webhook", ...
    url: str
    timeout: float = 5.0
    max_retry_after: float = 5.0
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] | None = None

    def _scrub(self, text: str) -> str:
        text = text.replace(self.url, "<webhook url>")
        for form in secret_forms(self.url):  # longest first: the path before its segments
            text = text.replace(form, MASK)
        return clip(text, 200)

    def post(self, payload: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> str | None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        all_headers = {"Content-Type": "application/json", "User-Agent": "hotfix-actions", **(headers or {})}
        try:
            with httpx.Client(timeout=self.timeout, transport=self.transport, follow_redirects=False) as client:
                for attempt in (1, 2):
                    response = client.post(self.url, content=body, headers=all_headers)
                    if response.is_success:
                        return None
                    if response.status_code == 429 and attempt == 2:
                        break
                    if response.status_code == 429:
                        wait = _seconds(response.headers.get("Retry-After"))
                        if wait is not None and wait <= self.max_retry_after:
                            if self.sleep is not None:
                                self.sleep(wait)
                            else:
                                import time

                                time.sleep(wait)
                            continue
                        shown = f"{wait:.0f}s" if wait is not None else "unknown"
                        return f"{self.name} rate-limited the message (HTTP 429, Retry-After {shown}); not sent"
                    return self._failed(response)
        except httpx.TimeoutException:
            return f"{self.name} did not answer within {self.timeout:g}s; not sent"
        except httpx.HTTPError as exc:
            return f"{self.name} unreachable ({type(exc).__name__}: {self._scrub(str(exc))}); not sent"
        return f"{self.name} rate-limited the message twice (HTTP 429); not sent"

    def _failed(self, response: httpx.Response) -> str:
        hint = {
            400: "the payload was refused",
            403: "the webhook's token is invalid or posting is not allowed",
            404: "the webhook URL was revoked or mistyped",
            410: "the channel is archived or the webhook was removed",
        }.get(response.status_code, "the service failed" if response.status_code >= 500 else "refused")
        detail = self._scrub(response.text) if response.text.strip() else ""
        return f"{self.name} answered HTTP {response.status_code} ({hint}{': ' + detail if detail else ''}); not sent"


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
