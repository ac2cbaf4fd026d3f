"""`hotfix notify`: one event, one message per configured service. Delivery problems are warnings, never failures."""

from __future__ import annotations

from hotfix_actions.config.notify import NotifyConfig
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.ports import Event, Notifier, NullNotifier
from hotfix_actions.report import Outcome, Reporter, Row

__all__ = ["run"]


def run(event: Event, cfg: NotifyConfig, notifier: Notifier, reporter: Reporter) -> Outcome:
    if isinstance(notifier, NullNotifier):
        row = Row("notify", Status.SKIP, "no webhook configured (HOTFIX_SLACK_WEBHOOK_URL, HOTFIX_WEBHOOK_URL, ...)")
    elif cfg.events and event.kind not in cfg.events:
        row = Row("notify", Status.SKIP, f"{event.kind} is not in notify.events ({', '.join(cfg.events)})")
    elif warning := notifier.notify(event):
        reporter.annotate("warning", f"notification not delivered: {warning}")
        row = Row("notify", Status.WARN, warning)
    else:
        reporter.step(f"sent {event.kind}: {event.title}")
        row = Row("notify", Status.PASS, f"sent {event.kind}")
    delivered = "true" if row.status is Status.PASS else "false"
    return Outcome("notify", Verdict.PASS, [row.reason], {"delivered": delivered}, [row], "notify")
