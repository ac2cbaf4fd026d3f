"""Secrets never leave: every command's error paths against servers that echo the request back, every output read.

The servers (tests/echo_server.py) answer errors whose body repeats the request: the path (a webhook's credential),
the query, every header (the GitHub token, the kubeconfig's bearer token, the Prometheus token), the body. In the
"straddle" layout the first line is padded so that a message cut at about 200 characters ends inside a secret. Each
command runs as a GitHub Actions step would, in text and in ``--json`` mode; stdout, stderr, GITHUB_OUTPUT and the
step summary are searched for every secret, each credential-bearing part of the URLs, and every 12-character piece
of each token. The only lines allowed to hold a secret are the runner's ``::add-mask::`` commands.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotfix_actions.guard import FRAGMENT, Secrets
from tests.echo_server import EchoServer
from tests.gitrepos import clone, hotfix_branch, make_project

GITHUB_TOKEN = "ghs_GitHubT0kenSecret1234567890abcdefXYZ"
KUBE_TOKEN = "eyJhbGciOiJSUzI1NiJ9.kubeBearerT0ken0123456789.signature"
PROMETHEUS_TOKEN = "prom-Bearer-T0ken-0123456789abcdef"
DB_PASSWORD = "pg-Passw0rd-0123456789-secret"
SLACK_SECRET = "SlackPathSecret0123456789ab"
QUERY_SECRET = "QuerySecret9876543210zyx"
TEAMS_SECRET = "TeamsSigSecret0123456789cd"
DISCORD_SECRET = "DiscordT0kenSecret0123456789ef"
SIGNING_SECRET = "SigningSecret0123456789gh"


@dataclass
class Stack:
    http: EchoServer  # plain-text echo, cut-straddling (webhooks, Kubernetes, Prometheus)
    api: EchoServer  # JSON echo {"message": ...}, as the GitHub API answers errors

    def env(self, tmp: Path) -> dict[str, str]:
        kubeconfig = (
            "apiVersion: v1\nkind: Config\n"
            f'clusters: [{{name: c, cluster: {{server: "{self.http.url}"}}}}]\n'
            f'users: [{{name: u, user: {{token: "{KUBE_TOKEN}"}}}}]\n'
            "contexts: [{name: x, context: {cluster: c, user: u, namespace: shop}}]\ncurrent-context: x\n"
        )
        (tmp / "out").touch()
        (tmp / "summary").touch()
        port = self.http.server.server_address[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTFIX_", "GITHUB_"))}
        return env | {
            "GITHUB_ACTIONS": "true",
            "GITHUB_OUTPUT": str(tmp / "out"),
            "GITHUB_STEP_SUMMARY": str(tmp / "summary"),
            "GITHUB_API_URL": self.api.url,
            "GITHUB_SERVER_URL": self.http.url,
            "GITHUB_REPOSITORY": "acme/shop",
            "GITHUB_RUN_ID": "7",
            "HOTFIX_GITHUB_TOKEN": GITHUB_TOKEN,
            "HOTFIX_GITHUB_WRITE_INTERVAL": "0",
            "HOTFIX_KUBECONFIG_DATA": base64.b64encode(kubeconfig.encode()).decode(),
            "HOTFIX_PROMETHEUS_URL": self.http.url,
            "HOTFIX_PROMETHEUS_TOKEN": PROMETHEUS_TOKEN,
            "HOTFIX_SLACK_WEBHOOK_URL": f"{self.http.url}/services/T0AB12CD3/B0AB12CD3/{SLACK_SECRET}",
            "HOTFIX_WEBHOOK_URL": f"{self.http.url}/hooks/deploy?token={QUERY_SECRET}&channel=ops",
            "HOTFIX_TEAMS_WEBHOOK_URL": f"{self.http.url}/webhookb2/IncomingWebhook/{TEAMS_SECRET}",
            "HOTFIX_DISCORD_WEBHOOK_URL": f"{self.http.url}/api/webhooks/1234567890/{DISCORD_SECRET}",
            "HOTFIX_WEBHOOK_SECRET": SIGNING_SECRET,
            "HOTFIX_DATABASE_URL": f"postgresql://app:{DB_PASSWORD}@127.0.0.1:{port}/shop?connect_timeout=2",
            "PGPASSWORD": DB_PASSWORD,
            "HOTFIX_CONFIG": str(tmp / "hotfix.yml"),
        }


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    http, api = EchoServer(status=500, straddle=185), EchoServer(status=401, as_json=True, straddle=185)
    try:
        yield Stack(http, api)
    finally:
        http.stop()
        api.stop()


def forbidden() -> list[str]:
    """Every text that must not appear: each secret, each credential-bearing URL part, each piece of a token."""
    secrets = [
        GITHUB_TOKEN,
        KUBE_TOKEN,
        PROMETHEUS_TOKEN,
        DB_PASSWORD,
        SLACK_SECRET,
        QUERY_SECRET,
        TEAMS_SECRET,
        DISCORD_SECRET,
        SIGNING_SECRET,
    ]
    pieces = {s[i : i + FRAGMENT] for s in secrets for i in range(len(s) - FRAGMENT + 1)}
    header = base64.b64encode(f"x-access-token:{GITHUB_TOKEN}".encode()).decode()
    return sorted({*secrets, *pieces, header[:24], "T0AB12CD3/B0AB12CD3", "token=" + QUERY_SECRET[:6]})


def leaks(tmp: Path, proc: subprocess.CompletedProcess[str]) -> list[str]:
    texts = [proc.stdout, proc.stderr, (tmp / "out").read_text(), (tmp / "summary").read_text()]
    shown = "\n".join(line for t in texts for line in t.splitlines() if not line.startswith("::add-mask::"))
    return [s for s in forbidden() if s in shown]


def run(tmp: Path, stack: Stack, argv: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    (tmp / "hotfix.yml").write_text("cluster:\n  retries: 1\n  api_deadline: 5\n")  # fail fast
    return subprocess.run(
        [sys.executable, "-m", "hotfix_actions", *argv],
        cwd=cwd or tmp,
        env=stack.env(tmp),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


COMMANDS = {
    "notify": ["notify", "--event", "failed", "--title", "canary failed", "--reason", "error rate 9%"],
    "deployment start": [
        "deployment",
        "start",
        "--environment",
        "production",
        "--sha",
        "a" * 40,
        "--image",
        "reg.example/shop:1",
    ],
    "deployment finish": [
        "deployment",
        "finish",
        "--environment",
        "production",
        "--deployment-id",
        "7",
        "--state",
        "success",
        "--sha",
        "a" * 40,
    ],
    "deployment last-successful": ["deployment", "last-successful", "--environment", "production"],
    "postmortem": ["postmortem", "--incident-id", "inc-7", "--title", "checkout down", "--severity", "high"],
    "status": ["status", "-d", "shop"],
    "snapshot": ["snapshot", "-d", "shop"],
    "rollback": ["rollback", "-d", "shop", "--environment", "production", "--reason", "bad canary"],
    "promote": ["promote", "-d", "shop", "--image", "reg.example/shop:1.0.1", "--environment", "production"],
    "canary": ["canary", "-d", "shop", "--image", "reg.example/shop:1.0.1", "--duration", "2s", "--interval", "1s"],
    "monitor": ["monitor", "-d", "shop", "--duration", "2s", "--interval", "1s"],
    "db backup": ["db", "backup", "--pg-bindir", "/usr/lib/postgresql/15/bin"],
}


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_no_secret_in_any_output_of_a_failing_command(tmp_path: Path, stack: Stack, name: str, json_mode: bool) -> None:
    proc = run(tmp_path, stack, [*COMMANDS[name], *(["--json"] if json_mode else [])])
    assert proc.returncode != 0 or name == "notify", proc.stdout + proc.stderr  # every one of them failed somewhere
    assert leaks(tmp_path, proc) == [], proc.stdout + proc.stderr


def test_the_servers_did_receive_the_secrets(stack: Stack) -> None:
    """The echo servers saw the credentials (so the commands above really sent them and got them echoed back)."""
    seen = "\n".join(f"{r.path} {r.headers}" for r in [*stack.http.requests, *stack.api.requests])
    for secret in (GITHUB_TOKEN, KUBE_TOKEN, SLACK_SECRET, QUERY_SECRET, TEAMS_SECRET, DISCORD_SECRET):
        assert secret in seen, secret


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
def test_validate_and_merge_back_against_an_echoing_github(tmp_path: Path, stack: Stack, json_mode: bool) -> None:
    origin, work = make_project(tmp_path)
    branch = hotfix_branch(work)
    shallow = clone(origin, tmp_path / "shallow", branch=branch, depth=1)
    mode = ["--json"] if json_mode else []
    proc = run(tmp_path, stack, ["validate", "--branch", branch, *mode], cwd=shallow.path)
    assert leaks(tmp_path, proc) == [], proc.stdout + proc.stderr
    proc = run(tmp_path, stack, ["merge-back", "--branch", branch, *mode], cwd=work.path)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert leaks(tmp_path, proc) == [], proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "secret",
    [GITHUB_TOKEN, KUBE_TOKEN, f"https://hooks.example/services/T0AB12CD3/B0AB12CD3/{SLACK_SECRET}?sig={QUERY_SECRET}"],
)
@pytest.mark.parametrize("cut", [0, 5, 13, 20])
def test_a_token_cut_anywhere_is_still_scrubbed(secret: str, cut: int) -> None:
    """A server body that someone else cut (or that echoes only part of the credential) shows no piece of it."""
    registry = Secrets()
    registry.add(secret)
    for piece in (secret[:-cut] if cut else secret, secret[cut:], secret[cut : cut + FRAGMENT + 3]):
        scrubbed = registry.scrub(f"error: Authorization: Bearer {piece}; retry")
        assert not any(w in scrubbed for w in forbidden_of(secret)), scrubbed
        assert scrubbed.startswith("error: Authorization: Bearer ") and scrubbed.endswith("; retry")


def forbidden_of(secret: str) -> set[str]:
    from urllib.parse import urlsplit

    parts = [secret] if "://" not in secret else [urlsplit(secret).path, SLACK_SECRET, QUERY_SECRET]
    return {p[i : i + FRAGMENT] for p in parts if len(p) >= 16 for i in range(len(p) - FRAGMENT + 1)} | {
        p for p in parts if len(p) < 16
    }
