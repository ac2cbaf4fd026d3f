"""Notifications against a local webhook receiver: Block Kit, escaping, one message per event, failures as warnings."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotfix_actions import notify
from hotfix_actions.cli import cli
from hotfix_actions.config.notify import NotifyConfig
from hotfix_actions.errors import UsageError
from hotfix_actions.notify.messages import slack_escape
from hotfix_actions.ports import Event, Notifier, NullNotifier
from hotfix_actions.report import Reporter
from tests.conftest import read_outputs
from tests.notify.receiver import Answer, Receiver

EVENT = Event(
    kind="rolled_back",
    title="Hotfix 1.0.1 rolled back",
    version="1.0.1",
    verdict="FAIL",
    reasons=("error rate 3.1% > max 2.0% (3 of 5 checks)", "p99 812ms > 500ms"),
    actor="alice",
    run_url="https://github.com/acme/shop/actions/runs/42",
    environment="production",
    fields=(("Image", "reg/shop@sha256:abc"),),
)


def _slack(receiver: Receiver, cfg: NotifyConfig | None = None, sleeps: list[float] | None = None) -> Notifier:
    return notify.build(
        notify.WebhookUrls(slack=receiver.url()), cfg, sleep=(sleeps.append if sleeps is not None else None)
    )


def test_nothing_configured_is_the_null_notifier() -> None:
    assert isinstance(notify.build(notify.WebhookUrls()), NullNotifier)
    assert isinstance(notify.build(notify.urls_from_env({"HOTFIX_SLACK_WEBHOOK_URL": "  "})), NullNotifier)


def test_slack_gets_block_kit_with_version_actor_run_link_and_reasons(receiver: Receiver) -> None:
    assert _slack(receiver).notify(EVENT) is None
    (message,) = receiver.received
    body = message.json
    assert message.headers["content-type"] == "application/json"
    header, fields, reasons, context = body["blocks"]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "⏪ Hotfix 1.0.1 rolled back", "emoji": True},
    }
    assert [f["text"] for f in fields["fields"]] == [
        "*Version*\n1.0.1",
        "*Environment*\nproduction",
        "*Verdict*\nFAIL",
        "*Actor*\nalice",
        "*Image*\nreg/shop@sha256:abc",
    ]
    assert (
        reasons["text"]["text"] == "*Reasons*\n• error rate 3.1% &gt; max 2.0% (3 of 5 checks)\n• p99 812ms &gt; 500ms"
    )
    assert context["elements"] == [
        {"type": "mrkdwn", "text": "<https://github.com/acme/shop/actions/runs/42|View the run>"}
    ]
    assert body["text"].startswith("Hotfix 1.0.1 rolled back: error rate")


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("<!channel> deploy", "&lt;!channel&gt; deploy"),
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        ("<https://evil.example|click me>", "&lt;https://evil.example|click me&gt;"),
        ("<@U123> and @here and @Everyone", "&lt;@U123&gt; and @\u200bhere and @\u200bEveryone"),
        ("&lt; already", "&amp;lt; already"),
    ],
)
def test_user_text_is_escaped_for_slack(receiver: Receiver, text: str, escaped: str) -> None:
    assert slack_escape(text) == escaped
    _slack(receiver).notify(Event(kind="failed", title="t", reasons=(text,), fields=(("Branch", text),)))
    raw = receiver.received[0].raw.decode()
    assert "<!channel>" not in raw and "<@U123>" not in raw and "<https://evil" not in raw
    assert json.loads(raw)["blocks"][2]["text"]["text"] == f"*Reasons*\n• {escaped}"


def test_a_hostile_run_url_is_dropped_and_the_configured_mention_goes_only_to_failures(receiver: Receiver) -> None:
    cfg = NotifyConfig(slack_mention="subteam^S0123ABC")
    notifier = _slack(receiver, cfg)
    notifier.notify(Event(kind="failed", title="x", run_url="https://x/|<!channel>"))
    notifier.notify(Event(kind="promoted", title="y", run_url="https://ok.example/run"))
    failed, promoted = (r.json for r in receiver.received)
    assert failed["blocks"][-1]["elements"] == [{"type": "mrkdwn", "text": "<!subteam^S0123ABC>"}]
    assert promoted["blocks"][-1]["elements"] == [{"type": "mrkdwn", "text": "<https://ok.example/run|View the run>"}]


def test_one_message_per_event(receiver: Receiver) -> None:
    notifier = _slack(receiver)
    for _ in range(5):
        notifier.notify(EVENT)
    notifier.notify(Event(kind="promoted", title="other"))
    assert len(receiver.received) == 2


@pytest.mark.parametrize(
    ("answers", "warning", "posts", "slept"),
    [
        (
            [Answer(404, "no_service")],
            "Slack answered HTTP 404 (the webhook URL was revoked or mistyped: no_service); not sent",
            1,
            [],
        ),
        ([Answer(410, "channel_is_archived")], "HTTP 410", 1, []),
        ([Answer(500, "")], "Slack answered HTTP 500 (the service failed); not sent", 1, []),
        ([Answer(429, "rate_limited", {"Retry-After": "1"})], None, 2, [1.0]),  # waited once, then delivered
        (
            [Answer(429, "", {"Retry-After": "1"}), Answer(429, "", {"Retry-After": "1"})],
            "rate-limited the message twice",
            2,
            [1.0],
        ),
        (
            [Answer(429, "", {"Retry-After": "120"})],
            "Slack rate-limited the message (HTTP 429, Retry-After 120s); not sent",
            1,
            [],
        ),
        ([Answer(200, "ok", delay=1.0)], "Slack did not answer within 0.3s; not sent", 1, []),
    ],
)
def test_delivery_failures_are_warnings(
    receiver: Receiver, answers: list[Answer], warning: str | None, posts: int, slept: list[float]
) -> None:
    receiver.script = list(answers)
    sleeps: list[float] = []
    result = _slack(receiver, NotifyConfig(timeout_seconds=0.3), sleeps).notify(EVENT)
    if warning is None:
        assert result is None
    else:
        assert result is not None and warning in result
        assert "XXXXSECRETXXXX" not in result
    assert len(receiver.received) == posts
    assert sleeps == slept


def test_an_unreachable_webhook_is_a_warning() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    warning = notify.build(notify.WebhookUrls(slack=f"http://127.0.0.1:{port}/hook")).notify(EVENT)
    assert warning is not None and warning.startswith("Slack unreachable (ConnectError")


def test_generic_webhook_is_signed_and_discord_and_teams_are_formatted(receiver: Receiver) -> None:
    urls = notify.WebhookUrls(
        webhook=receiver.url("/generic"),
        teams=receiver.url("/teams"),
        discord=receiver.url("/discord"),
        webhook_secret="s3cret-key",
    )
    assert notify.build(urls).notify(EVENT) is None
    by_path = {r.path: r for r in receiver.received}
    generic = by_path["/generic"]
    assert generic.json["event"] == "rolled_back" and generic.json["reasons"] == list(EVENT.reasons)
    expected = hmac.new(b"s3cret-key", generic.raw, hashlib.sha256).hexdigest()
    assert generic.headers["x-hotfix-signature-256"] == f"sha256={expected}"
    discord = by_path["/discord"].json
    assert discord["allowed_mentions"] == {"parse": []}
    assert discord["embeds"][0]["url"] == EVENT.run_url
    card = by_path["/teams"].json["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["actions"][0]["url"] == EVENT.run_url


def test_event_filter_and_bad_urls() -> None:
    reporter = Reporter()
    broken = notify.build(
        notify.WebhookUrls(slack="http://hooks.slack.com/services/T/B/SECRETPART"), mask=reporter.mask
    )
    warning = broken.notify(EVENT)
    assert warning == "HOTFIX_SLACK_WEBHOOK_URL is not an https:// URL; Slack notifications are off"
    assert reporter.redact("see http://hooks.slack.com/services/T/B/SECRETPART") == "see ***"
    with pytest.raises(UsageError) as caught:
        notify.build(notify.WebhookUrls(webhook="https://user:pw@example.com/x"), strict=True)
    assert caught.value.input_name == "HOTFIX_WEBHOOK_URL"


def test_notify_command_warns_but_exits_zero_and_never_prints_the_url(receiver: Receiver, gha: dict[str, Path]) -> None:
    receiver.script = [Answer(404, "no_service")]
    env = {
        "HOTFIX_SLACK_WEBHOOK_URL": receiver.url(),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "acme/shop",
        "GITHUB_RUN_ID": "7",
        "GITHUB_ACTOR": "bob",
    }
    args = [
        "notify",
        "--event",
        "canary",
        "--version",
        "1.0.1",
        "--verdict",
        "FAIL",
        "--reasons-json",
        '["error rate 3.1% > 2.0%"]',
    ]
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code == 0, result.output
    assert "::warning::" in result.output and "HTTP 404" in result.output
    shown = [line for line in result.output.splitlines() if not line.startswith("::add-mask::")]
    assert "XXXXSECRETXXXX" not in "\n".join(shown) and "/services/T000" not in "\n".join(shown)
    assert read_outputs(gha["output"])["delivered"] == "false"
    sent = receiver.received[0].json
    assert sent["blocks"][0]["text"]["text"] == "❌ Hotfix 1.0.1: canary"
    assert sent["blocks"][-1]["elements"][0]["text"] == "<https://github.com/acme/shop/actions/runs/7|View the run>"
    ok = CliRunner().invoke(cli, [*args, "--field", "Image=reg/shop:1"], env=env)
    assert ok.exit_code == 0 and read_outputs(gha["output"])["delivered"] == "true"


@pytest.mark.parametrize(
    ("args", "env", "problem"),
    [
        (["--event", "promoted", "--title", "two\nlines"], {}, "--title"),
        (["--event", "promoted", "--field", "no-equals"], {}, "--field"),
        (["--event", "promoted", "--reasons-json", "{}"], {}, "--reasons-json"),
        (["--event", "promoted"], {"HOTFIX_SLACK_WEBHOOK_URL": "ftp://x"}, "HOTFIX_SLACK_WEBHOOK_URL"),
    ],
)
def test_notify_command_usage_errors(args: list[str], env: dict[str, str], problem: str) -> None:
    result = CliRunner().invoke(
        cli, ["notify", *args], env={"HOTFIX_SLACK_WEBHOOK_URL": "https://hooks.example/x", **env}
    )
    assert result.exit_code == 2
    assert problem in result.output


def test_notify_command_without_webhooks_skips() -> None:
    result = CliRunner().invoke(cli, ["notify", "--event", "started", "--json"], env={})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["checks"][0]["result"] == "skip"
