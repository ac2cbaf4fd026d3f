"""Every URL that receives a credential passes the one allowlist (decide.names.url_problem: https, or plain http to a
loopback host), however the adapter is built: the GitHub client options, git's token header, the webhooks."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotfix_actions.errors import UsageError
from hotfix_actions.github import ClientOptions
from hotfix_actions.github.connect import git_auth_env
from hotfix_actions.notify import WebhookUrls, build
from tests.echo_server import EchoServer

REFUSED = ["http://api.github.example", "http://127.0.0.1.evil.example/api", "ftp://x", "https://u:p@h.example", ""]
ACCEPTED = ["https://github.example/api/v3", "http://127.0.0.1:8080", "http://localhost:9", "http://[::1]:9"]


@pytest.mark.parametrize("url", REFUSED)
def test_refused_for_the_github_client_and_git(url: str) -> None:
    with pytest.raises(UsageError):
        ClientOptions(base_url=url)
    with pytest.raises(UsageError):
        git_auth_env("t0ken", url, {})


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted(url: str) -> None:
    assert ClientOptions(base_url=url).base_url == url
    env, header = git_auth_env("t0ken", url, {})
    assert header.startswith("AUTHORIZATION: basic ") and env["GIT_CONFIG_COUNT"] == "2"


@pytest.mark.parametrize("url", REFUSED[:3])
def test_refused_for_webhooks(url: str) -> None:
    notifier = build(WebhookUrls(slack=url, webhook=url))
    from hotfix_actions.ports import Event

    warning = notifier.notify(Event("failed", "x"))
    assert warning is not None and "notifications are off" in warning


def test_rollback_with_a_plain_http_api_url_stops_before_any_request(tmp_path: Path) -> None:
    """The GitHub Deployments recorder of rollback built its client options by hand, past the allowlist: the token
    would have gone over plain http to any host. Now the command stops (exit 2) before a single request."""
    server = EchoServer()
    try:
        kubeconfig = (
            f"apiVersion: v1\nkind: Config\nclusters: [{{name: c, cluster: {{server: '{server.url}'}}}}]\n"
            "users: [{name: u, user: {token: kubeT0ken0123456789}}]\n"
            "contexts: [{name: x, context: {cluster: c, user: u, namespace: shop}}]\ncurrent-context: x\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HOTFIX_"))} | {
            "GITHUB_API_URL": "http://api.github.example",
            "GITHUB_REPOSITORY": "acme/shop",
            "HOTFIX_GITHUB_TOKEN": "ghs_T0ken0123456789abcdef",
            "HOTFIX_KUBECONFIG_DATA": base64.b64encode(kubeconfig.encode()).decode(),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "hotfix_actions", "rollback", "-d", "shop", "--environment", "production"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "is not an https:// URL" in proc.stdout + proc.stderr
        assert server.requests == []
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("server", "refused"),
    [("http://kube.example:6443", True), ("http://127.0.0.1.evil.example", True), ("https://kube.example", False),
     ("http://127.0.0.1:6443", False)],
)  # fmt: skip
def test_a_kubeconfig_token_goes_only_to_an_allowed_server(server: str, refused: bool) -> None:
    from hotfix_actions.kube._kubeconfig import ClientSettings, KubeconfigError

    if refused:
        with pytest.raises(KubeconfigError, match="credentials would travel in clear"):
            ClientSettings(server=server, token="kubeT0ken0123456789")
    else:
        assert ClientSettings(server=server, token="kubeT0ken0123456789").server == server
    assert ClientSettings(server=server).server == server  # no credential: nothing to protect


def test_rollback_refuses_a_plain_http_cluster_with_a_token(tmp_path: Path) -> None:
    kubeconfig = (
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://kube.example:6443'}}]\n"
        "users: [{name: u, user: {token: kubeT0ken0123456789}}]\n"
        "contexts: [{name: x, context: {cluster: c, user: u, namespace: shop}}]\ncurrent-context: x\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HOTFIX_"))} | {
        "HOTFIX_KUBECONFIG_DATA": base64.b64encode(kubeconfig.encode()).decode()
    }
    proc = subprocess.run(
        [sys.executable, "-m", "hotfix_actions", "rollback", "-d", "shop"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "credentials would travel in clear" in proc.stdout + proc.stderr
