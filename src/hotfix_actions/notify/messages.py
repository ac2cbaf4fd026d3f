"""Event -> the JSON each service expects: Slack Block Kit, Discord embeds, a Teams Adaptive Card, plain JSON.

Every user-controlled string is escaped for its target: Slack mrkdwn gets ``& < >`` escaped (so ``<!channel>``,
``<@U123>`` and ``<https://evil|text>`` render as text), ``@here``/``@channel``/``@everyone`` get a zero-width space,
and Discord is told to parse no mentions at all. Lengths are cut to each service's limits. Before any of that, every
text of the event passes ``guard.inert`` (one line each, no workflow command), because a receiver may print it in
its own CI log.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from hotfix_actions.guard import inert
from hotfix_actions.ports import Event

__all__ = ["discord", "generic", "slack", "slack_escape", "teams"]

_ICON = {
    "started": "🚀",
    "canary": "🐤",
    "promoted": "✅",
    "rolled_back": "⏪",
    "failed": "🛑",
    "merged_back": "🔀",
    "deployment": "📦",
    "postmortem": "📝",
}
_COLOR = {"promoted": 0x2EA043, "merged_back": 0x2EA043, "rolled_back": 0xD29922, "failed": 0xCF222E}
_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
_URL = re.compile(r"^https?://[^\s<>|\"'`]{1,2000}$")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _defuse(text: str) -> str:
    return _BROADCAST.sub(lambda m: "@\u200b" + m.group(1), text)


def slack_escape(text: str) -> str:
    """Slack mrkdwn: escape the three control characters, defuse broadcast words."""
    return _defuse(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def safe_url(url: str) -> str | None:
    return url if _URL.match(url) else None


def _icon(event: Event) -> str:
    if event.kind == "canary":
        return {"PASS": "✅", "FAIL": "❌"}.get(event.verdict.upper(), "❔")
    return _ICON.get(event.kind, "ℹ️")


def _inert(event: Event) -> Event:
    """The event with every text inert (the run link is checked separately by ``safe_url``)."""
    return replace(
        event,
        title=inert(event.title),
        version=inert(event.version),
        verdict=inert(event.verdict),
        reasons=tuple(inert(r) for r in event.reasons),
        actor=inert(event.actor),
        environment=inert(event.environment),
        fields=tuple((inert(k), inert(v)) for k, v in event.fields),
    )


def _facts(event: Event) -> list[tuple[str, str]]:
    facts = [
        ("Version", event.version),
        ("Environment", event.environment),
        ("Verdict", event.verdict),
        ("Actor", event.actor),
        *event.fields,
    ]
    return [(k, v) for k, v in facts if v]


def slack(event: Event, mention: str = "") -> dict[str, Any]:
    event = _inert(event)
    title = _cut(f"{_icon(event)} {_defuse(event.title)}", 150)
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title, "emoji": True}}]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{slack_escape(k)}*\n{slack_escape(v)}", 2000)} for k, v in _facts(event)
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields[:10]})
    if event.reasons:
        lines = "\n".join(f"• {slack_escape(r)}" for r in event.reasons[:20])
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(f"*Reasons*\n{lines}", 3000)}})
    context = []
    if url := safe_url(event.run_url):
        context.append({"type": "mrkdwn", "text": f"<{url}|View the run>"})
    if mention and event.kind in ("failed", "rolled_back"):
        context.append({"type": "mrkdwn", "text": f"<!{mention}>"})
    if context:
        blocks.append({"type": "context", "elements": context})
    fallback = slack_escape(f"{event.title}" + (f": {event.reasons[0]}" if event.reasons else ""))
    return {"text": _cut(fallback, 3000), "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def discord(event: Event) -> dict[str, Any]:
    event = _inert(event)
    embed: dict[str, Any] = {
        "title": _cut(f"{_icon(event)} {event.title}", 256),
        "color": _COLOR.get(event.kind, 0x57606A),
        "fields": [{"name": _cut(k, 256), "value": _cut(v, 1024), "inline": True} for k, v in _facts(event)][:25],
    }
    if event.reasons:
        embed["description"] = _cut("\n".join(f"• {r}" for r in event.reasons), 4096)
    if url := safe_url(event.run_url):
        embed["url"] = url
    return {"embeds": [embed], "allowed_mentions": {"parse": []}}


def teams(event: Event) -> dict[str, Any]:
    event = _inert(event)
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "text": f"{_icon(event)} {event.title}",
        },
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(event)]},
    ]
    body += [{"type": "TextBlock", "wrap": True, "text": f"- {r}"} for r in event.reasons[:20]]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if url := safe_url(event.run_url):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "View the run", "url": url}]
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def generic(event: Event) -> dict[str, Any]:
    event = _inert(event)
    return {
        "event": event.kind,
        "title": event.title,
        "version": event.version,
        "verdict": event.verdict,
        "reasons": list(event.reasons),
        "actor": event.actor,
        "run_url": safe_url(event.run_url) or "",
        "environment": event.environment,
        "fields": dict(event.fields),
    }
