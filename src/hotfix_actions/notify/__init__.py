"""Notifications: ports.Notifier for Slack (Block Kit), a generic JSON webhook, Microsoft Teams and Discord.

A failed delivery (404, 429 with a long Retry-After, a timeout) is a warning returned by ``notify``, never an
exception. ``build`` gives a NullNotifier when nothing is configured, so callers never ask "is Slack set up?".
Call it from a command with ``edge.env`` and ``edge.reporter.mask``:

    notifier = notify.build(notify.urls_from_env(edge.env), cfg.section(NotifyConfig), mask=edge.reporter.mask)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hotfix_actions.config.notify import NotifyConfig
from hotfix_actions.decide.names import url_problem
from hotfix_actions.errors import UsageError
from hotfix_actions.notify import messages
from hotfix_actions.notify._http import Poster
from hotfix_actions.ports import Event, Notifier, NullNotifier

__all__ = ["ENV", "FanOut", "WebhookNotifier", "WebhookUrls", "build", "url_problem", "urls_from_env"]

# field of WebhookUrls -> environment variable
ENV = {
    "slack": "HOTFIX_SLACK_WEBHOOK_URL",
    "webhook": "HOTFIX_WEBHOOK_URL",
    "teams": "HOTFIX_TEAMS_WEBHOOK_URL",
    "discord": "HOTFIX_DISCORD_WEBHOOK_URL",
    "webhook_secret": "HOTFIX_WEBHOOK_SECRET",
}
_NAMES = {"slack": "Slack", "webhook": "webhook", "teams": "Teams", "discord": "Discord"}


@dataclass(frozen=True)
class WebhookUrls:
    slack: str = ""
    webhook: str = ""
    teams: str = ""
    discord: str = ""
    webhook_secret: str = ""  # signs the generic webhook's body: X-Hotfix-Signature-256: sha256=<hmac>


def urls_from_env(env: Mapping[str, str]) -> WebhookUrls:
    """Read the webhook settings from the environment snapshot the command layer took."""
    return WebhookUrls(**{field: env.get(name, "").strip() for field, name in ENV.items()})


class WebhookNotifier:
    """One service: formats the event for it and posts once (one message per event)."""

    def __init__(
        self, kind: str, poster: Poster, *, mention: str = "", secret: str = "", events: tuple[str, ...] = ()
    ) -> None:
        self.kind = kind
        self.poster = poster
        self.mention = mention
        self.secret = secret
        self.events = events

    def notify(self, event: Event) -> str | None:
        if self.events and event.kind not in self.events:
            return None
        payload: dict[str, Any]
        headers: dict[str, str] = {}
        if self.kind == "slack":
            payload = messages.slack(event, self.mention)
        elif self.kind == "discord":
            payload = messages.discord(event)
        elif self.kind == "teams":
            payload = messages.teams(event)
        else:
            payload = messages.generic(event)
            if self.secret:
                body = json.dumps(payload, separators=(",", ":")).encode()
                digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
                headers["X-Hotfix-Signature-256"] = f"sha256={digest}"
                headers["X-Hotfix-Event"] = event.kind
        return self.poster.post(payload, headers)


class _Broken:
    def __init__(self, warning: str) -> None:
        self.warning = warning

    def notify(self, event: Event) -> str | None:
        return self.warning


class FanOut:
    """Every configured service; the same event is sent once however often it is passed in."""

    def __init__(self, notifiers: list[Notifier]) -> None:
        self.notifiers = notifiers
        self._sent: set[Event] = set()

    def notify(self, event: Event) -> str | None:
        if event in self._sent:
            return None
        self._sent.add(event)
        warnings = [w for n in self.notifiers if (w := n.notify(event))]
        return "; ".join(warnings) or None


def build(
    urls: WebhookUrls,
    cfg: NotifyConfig | None = None,
    *,
    mask: Callable[[str | None], None] | None = None,
    strict: bool = False,
    transport: Any = None,
    sleep: Callable[[float], None] | None = None,
) -> Notifier:
    """The notifier for whatever is configured: NullNotifier for nothing. URLs are masked before anything prints.

    ``strict`` (the `hotfix notify` command) raises UsageError for a malformed URL; otherwise the mistake becomes a
    warning on every notification, so a pipeline never fails over a notification setting.
    """
    cfg = cfg or NotifyConfig()
    for secret in (urls.slack, urls.webhook, urls.teams, urls.discord, urls.webhook_secret):
        if mask is not None and secret:
            mask(secret)
    found: list[Notifier] = []
    for kind in ("slack", "webhook", "teams", "discord"):
        url = getattr(urls, kind)
        if not url:
            continue
        if problem := url_problem(url):
            if strict:
                raise UsageError(problem, input_name=ENV[kind], fix="paste the webhook URL the service gave you")
            found.append(_Broken(f"{ENV[kind]} {problem}; {_NAMES[kind]} notifications are off"))
            continue
        poster = Poster(_NAMES[kind], url, cfg.timeout_seconds, cfg.max_retry_after_seconds, transport, sleep)
        found.append(
            WebhookNotifier(kind, poster, mention=cfg.slack_mention, secret=urls.webhook_secret, events=cfg.events)
        )
    if not found:
        return NullNotifier()
    return FanOut(found)
