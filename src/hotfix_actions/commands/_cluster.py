"""Options and wiring shared by the commands that talk to Kubernetes (rollback, promote, status, snapshot).

Credentials, in kubectl's order: ``--kubeconfig`` (HOTFIX_KUBECONFIG), ``--kubeconfig-data`` (HOTFIX_KUBECONFIG_DATA,
base64, written 0600 to a temporary file removed on exit), ``KUBECONFIG``, ``~/.kube/config``, then the in-cluster
service account. Every secret in the kubeconfig is masked before anything is printed.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hotfix_actions.commands._common import Edge
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.decide.names import dns1123_label_problem, dns1123_subdomain_problem
from hotfix_actions.errors import UsageError
from hotfix_actions.ports import Deployments, Notifier, NullDeployments, NullNotifier

if TYPE_CHECKING:
    from hotfix_actions.kube.cluster import KubeCluster

__all__ = ["check_names", "cluster_options", "deployments_for", "notifier_for", "open_cluster", "run_identity"]

F = TypeVar("F", bound=Callable[..., Any])


def cluster_options(fn: F) -> F:
    """--kubeconfig, --kubeconfig-data, --context, --namespace."""
    options = [
        click.option(
            "--kubeconfig",
            envvar="HOTFIX_KUBECONFIG",
            default=None,
            help="Kubeconfig file (default: KUBECONFIG, ~/.kube/config, else in-cluster). Env: HOTFIX_KUBECONFIG.",
        ),
        click.option(
            "--kubeconfig-data",
            envvar="HOTFIX_KUBECONFIG_DATA",
            default=None,
            help="Base64 of a kubeconfig file (from a secret); written owner-only and removed on exit. "
            "Env: HOTFIX_KUBECONFIG_DATA.",
        ),
        click.option(
            "--context", envvar="HOTFIX_CONTEXT", default=None, help="Kubeconfig context. Env: HOTFIX_CONTEXT."
        ),
        click.option(
            "--namespace",
            "-n",
            envvar="HOTFIX_NAMESPACE",
            default=None,
            help="Namespace (default: .hotfix.yml cluster.namespace, the context's, else default). "
            "Env: HOTFIX_NAMESPACE.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def open_cluster(
    edge: Edge,
    cfg: ClusterConfig,
    *,
    kubeconfig: str | None,
    kubeconfig_data: str | None,
    context: str | None,
    namespace: str | None,
    announce: bool = True,
) -> KubeCluster:
    """Mask the secrets, load the credentials, connect (no request is sent yet)."""
    from hotfix_actions.kube import ConnectOptions, RetryPolicy, connect, decode_kubeconfig, kubeconfig_secrets

    reporter = edge.reporter
    if namespace and (problem := dns1123_label_problem(namespace)):  # before anything connects
        raise UsageError(f"{namespace[:80]!r} {problem}", input_name="namespace", fix="pass a valid --namespace")
    path = kubeconfig or edge.env.get("KUBECONFIG") or None
    if kubeconfig_data:
        reporter.mask(kubeconfig_data)
        text = decode_kubeconfig(kubeconfig_data)
        for secret in kubeconfig_secrets(text):
            reporter.mask(secret)
    elif path:
        for one in path.split(os.pathsep):
            try:
                text = Path(one).expanduser().read_text(encoding="utf-8")
            except OSError:
                continue
            for secret in kubeconfig_secrets(text):
                reporter.mask(secret)
    in_cluster = (
        not kubeconfig_data
        and not path
        and bool(edge.env.get("KUBERNETES_SERVICE_HOST"))
        and not (Path(edge.env.get("HOME", "~")).expanduser() / ".kube" / "config").is_file()
    )
    policy = RetryPolicy(
        connect_timeout=cfg.connect_timeout,
        request_timeout=cfg.request_timeout,
        retries=cfg.retries,
        backoff_initial=cfg.backoff_initial,
        backoff_max=cfg.backoff_max,
        deadline=cfg.api_deadline,
    )
    options = ConnectOptions(
        kubeconfig=path,
        kubeconfig_data=kubeconfig_data or None,
        context=context or cfg.context,
        namespace=namespace or cfg.namespace,
        in_cluster=in_cluster,
    )
    cluster = connect(options, policy, poll_interval=cfg.poll_interval, on_retry=reporter.info)
    if problem := dns1123_label_problem(cluster.namespace):
        cluster.close()
        raise UsageError(f"{cluster.namespace!r} {problem}", input_name="namespace", fix="pass a valid --namespace")
    if announce:
        reporter.info(f"cluster: {cluster.describe()}, namespace {cluster.namespace}")
    return cluster


def check_names(**names: str | None) -> None:
    """DNS-1123 names checked before anything connects or prints them."""
    for option, value in names.items():
        if value is None:
            continue
        if problem := dns1123_subdomain_problem(value):
            raise UsageError(
                f"{value!r} {problem}", input_name=f"--{option.replace('_', '-')}", fix="pass a valid name"
            )


def run_identity(env: dict[str, str] | Any) -> tuple[str, str]:
    """(run id used as the Lease holder, run URL) from GitHub's variables, else user@host:pid."""
    run_id = env.get("GITHUB_RUN_ID")
    if run_id:
        repo = env.get("GITHUB_REPOSITORY", "")
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
        url = f"{server}/{repo}/actions/runs/{run_id}" if repo else ""
        return f"github-run-{run_id}-{attempt}", url
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}:{os.getpid()}", ""


def deployments_for(edge: Edge, token: str | None) -> Deployments:
    """GitHub Deployments when a token and GITHUB_REPOSITORY are there, else the null recorder."""
    repository = edge.env.get("GITHUB_REPOSITORY")
    if not token or not repository:
        return NullDeployments()
    edge.reporter.mask(token)
    from hotfix_actions.github import ClientOptions, GitHubDeployments

    return GitHubDeployments(
        token=token,
        repository=repository,
        options=ClientOptions(base_url=edge.env.get("GITHUB_API_URL") or "https://api.github.com"),
    )


def notifier_for(edge: Edge) -> Notifier:
    """Slack, webhook, Teams or Discord from HOTFIX_*_WEBHOOK_URL (masked), else the null notifier. A malformed URL
    is not a reason to block a rollback: it becomes a warning and nothing is sent."""
    from hotfix_actions import notify
    from hotfix_actions.config.notify import NotifyConfig
    from hotfix_actions.errors import HotfixError

    try:
        config = edge.config().section(NotifyConfig)
        return notify.build(notify.urls_from_env(edge.env), config, mask=edge.reporter.mask)
    except HotfixError as exc:
        edge.reporter.annotate("warning", f"notifications are off: {exc}")
        return NullNotifier()
