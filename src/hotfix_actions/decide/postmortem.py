"""The post-mortem issue as pure text: the incident's timeline, the checklist (within 1 hour, 24 hours, 1 week) and
the seven questions. One issue per incident id: the body carries a marker; a rerun with a changed timeline adds one
comment carrying the timeline's digest, an unchanged timeline adds nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

__all__ = [
    "CHECKLIST",
    "INCIDENT_ID",
    "QUESTIONS",
    "Entry",
    "Incident",
    "digest",
    "duration",
    "issue_body",
    "issue_title",
    "marker",
    "needs_update",
    "timeline",
    "update_comment",
]

INCIDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

CHECKLIST: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Within 1 hour",
        (
            "Confirm the service is healthy again: error rate and latency back to their baseline",
            "Name an incident owner and post the status where the team and support look",
            "Record what runs now (version, image digest) and what was rolled back",
            "Keep the evidence: this run's logs, the canary metrics, dashboards, pod events",
            "Tell stakeholders (status page, customer support) what happened and what users should do",
        ),
    ),
    (
        "Within 24 hours",
        (
            "Complete the timeline below: first bad deploy, detection, decision, rollback, recovery",
            "Quantify the impact: users or requests affected, for how long, data touched",
            "Check data integrity; restore from the pre-deploy backup only if it is needed",
            "Merge the fix back into develop and open release branches (hotfix merge-back)",
            "File follow-up tickets for everything that must change",
            "Schedule the blameless review meeting within the week",
        ),
    ),
    (
        "Within 1 week",
        (
            "Hold the blameless review and answer the seven questions below",
            "Add a regression test that fails without the fix",
            "Tune the canary gate (metrics, thresholds, minimum samples) if it missed or was late",
            "Update runbooks, alerts and dashboards that were missing or misleading",
            "Give every action item an owner and a due date; share this write-up",
        ),
    ),
)

QUESTIONS: tuple[str, ...] = (
    "What happened, and what was the impact on users: who, how many, for how long?",
    "How was it detected, and how long did detection take? What would have caught it earlier "
    "(a test, the canary gate, an alert)?",
    "What was the root cause, and which contributing factors let it reach production?",
    "How was it mitigated, and how long did each step take: detection to decision, decision to rollback, "
    "rollback to recovery?",
    "What went well, and where did we get lucky?",
    "What went badly or slowed us down: tooling, access, runbooks, communication?",
    "What will we change so that it cannot happen again, who owns each change and by when?",
)


@dataclass(frozen=True)
class Entry:
    at: datetime
    what: str


@dataclass(frozen=True)
class Incident:
    incident_id: str
    title: str
    severity: str = ""
    detected_at: datetime | None = None
    canary_verdict: str = ""
    canary_reasons: tuple[str, ...] = ()
    canary_at: datetime | None = None
    rolled_back_at: datetime | None = None
    recovered_at: datetime | None = None
    bad_version: str = ""
    good_version: str = ""
    bad_image: str = ""
    good_image: str = ""
    environment: str = ""
    actor: str = ""
    run_url: str = ""
    links: tuple[tuple[str, str], ...] = ()
    events: tuple[Entry, ...] = field(default_factory=tuple)


def _text(value: str) -> str:
    """Untrusted text for an issue: no HTML, no table breaks, no @mentions."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")
    escaped = escaped.replace("\r", "").replace("\n", " ")
    return re.sub(r"@(?=[A-Za-z0-9])", "@\u200b", escaped)


def _url(value: str) -> str:
    return value if re.match(r"^https?://[^\s<>()\[\]|`]{1,2000}$", value) else ""


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()


def duration(start: datetime, end: datetime) -> str:
    seconds = int((end - start).total_seconds())
    if seconds < 0:
        return f"-{duration(end, start)}"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s"


def marker(incident_id: str) -> str:
    return f"<!-- hotfix-postmortem incident={incident_id} -->"


def issue_title(incident: Incident) -> str:
    return f"Post-mortem {incident.incident_id}: {incident.title}"[:250]


def timeline(incident: Incident) -> list[Entry]:
    """Every known moment, oldest first."""
    found = list(incident.events)
    if incident.detected_at:
        found.append(Entry(incident.detected_at, "Problem detected"))
    if incident.canary_at or incident.canary_verdict:
        reasons = "; ".join(incident.canary_reasons)
        text = f"Canary verdict {incident.canary_verdict or '?'}" + (f": {reasons}" if reasons else "")
        if incident.canary_at:
            found.append(Entry(incident.canary_at, text))
    if incident.rolled_back_at:
        target = incident.good_version or incident.good_image
        found.append(Entry(incident.rolled_back_at, "Rolled back" + (f" to {target}" if target else "")))
    if incident.recovered_at:
        found.append(Entry(incident.recovered_at, "Service recovered"))
    return sorted(found, key=lambda e: e.at)


def _timeline_md(incident: Incident) -> str:
    rows = [f"| {_when(e.at)} | {_text(e.what)} |" for e in timeline(incident)]
    if not rows:
        return "_No timestamps were recorded by the run; fill them in._\n"
    return "| When (UTC) | What |\n|---|---|\n" + "\n".join(rows) + "\n"


def digest(incident: Incident) -> str:
    return hashlib.sha256(_timeline_md(incident).encode()).hexdigest()[:16]


def _digest_marker(incident: Incident) -> str:
    return f"<!-- hotfix-postmortem-timeline {digest(incident)} -->"


def needs_update(texts: Sequence[str], incident: Incident) -> bool:
    """True when no text of the issue (body or comment) carries this timeline yet."""
    return not any(_digest_marker(incident) in text for text in texts)


def _facts(incident: Incident) -> list[tuple[str, str]]:
    facts = [
        ("Incident", incident.incident_id),
        ("Severity", incident.severity),
        ("Environment", incident.environment),
        ("Bad version", incident.bad_version),
        ("Bad image", incident.bad_image),
        ("Rolled back to", incident.good_version),
        ("Good image", incident.good_image),
        ("Canary verdict", incident.canary_verdict),
    ]
    if incident.detected_at and incident.rolled_back_at:
        facts.append(("Detection to rollback", duration(incident.detected_at, incident.rolled_back_at)))
    if incident.detected_at and incident.recovered_at:
        facts.append(("Detection to recovery", duration(incident.detected_at, incident.recovered_at)))
    facts.append(("Reported by", incident.actor))
    return [(k, v) for k, v in facts if v]


def issue_body(incident: Incident) -> str:
    parts = [marker(incident.incident_id), _digest_marker(incident), f"## {_text(issue_title(incident))}\n"]
    parts.append("| | |\n|---|---|\n" + "\n".join(f"| {k} | {_text(v)} |" for k, v in _facts(incident)) + "\n")
    if incident.canary_reasons:
        parts.append("### Canary reasons\n\n" + "\n".join(f"- {_text(r)}" for r in incident.canary_reasons) + "\n")
    parts.append("### Timeline\n\n" + _timeline_md(incident))
    links = [(name, url) for name, url in [("Workflow run", incident.run_url), *incident.links] if _url(url)]
    if links:
        parts.append("### Links\n\n" + "\n".join(f"- [{_text(n)}]({u})" for n, u in links) + "\n")
    for heading, items in CHECKLIST:
        parts.append(f"### {heading}\n\n" + "\n".join(f"- [ ] {item}" for item in items) + "\n")
    parts.append("### The seven questions\n\n" + "\n".join(f"{i}. {q}\n   - " for i, q in enumerate(QUESTIONS, 1)))
    return "\n".join(parts)


def update_comment(incident: Incident) -> str:
    return f"{_digest_marker(incident)}\n### Timeline update\n\n{_timeline_md(incident)}"
