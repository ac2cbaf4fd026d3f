"""Options and wiring shared by the commands that talk to Kubernetes (rollback, promote, monitor, status, snapshot).

Credentials, in kubectl's order: ``--kubeconfig`` (HOTFIX_KUBECONFIG), ``--kubeconfig-data`` (HOTFIX_KUBECONFIG_DATA,
base64, read in memory; client keys it holds go to a 0700 temporary folder removed on exit), ``KUBECONFIG``,
``~/.kube/config``, then the in-cluster service account. Every secret in the kubeconfig is masked before anything is
printed.

Signals: the commands that write run under ``interruptible()``: the first SIGTERM or SIGINT raises ``Interrupted``
in the main thread wherever it waits; the service releases its Lease, says in one line what the Deployment was left
running, and the command exits 143 (SIGTERM) or 130 (SIGINT); further signals are ignored while it cleans up (a
cancelled GitHub Actions job sends SIGINT, then SIGTERM 7.5 s later). The temporary credentials go with the
connection on the way out.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hotfix_actions.commands._common import Edge
from hotfix_actions.config.cluster import ClusterConfig
from hotfix_actions.decide.names import dns1123_label_problem, dns1123_subdomain_problem
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import ExitCode, Interrupted, UsageError
from hotfix_actions.ports import Deployments, Notifier, NullDeployments, NullNotifier
from hotfix_actions.report import Outcome

if TYPE_CHECKING:
    from hotfix_actions.kube.cluster import KubeCluster
    from hotfix_actions.services._deploy import Context

__all__ = [
    "check_names",
    "cluster_options",
    "default_snapshot_dir",
    "deployments_for",
    "guarded",
    "interruptible",
    "notifier_for",
    "open_cluster",
    "run_context",
    "run_identity",
    "split_names",
]

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
        service_host=edge.env.get("KUBERNETES_SERVICE_HOST", ""),
        service_port=edge.env.get("KUBERNETES_SERVICE_PORT", ""),
    )
    cluster = connect(options, policy, poll_interval=cfg.poll_interval, on_retry=reporter.info)
    if problem := dns1123_label_problem(cluster.namespace):
        cluster.close()
        raise UsageError(f"{cluster.namespace!r} {problem}", input_name="namespace", fix="pass a valid --namespace")
    if announce:
        reporter.info(f"cluster: {cluster.describe()}, namespace {cluster.namespace}")
    return cluster


def default_snapshot_dir(env: Mapping[str, str]) -> str:
    """Where the snapshot goes when no folder is named: the runner's temp folder (the actions upload it), else a
    folder of the user's own (not a shared /tmp path another user could have made first)."""
    if env.get("RUNNER_TEMP"):
        return str(Path(env["RUNNER_TEMP"]) / "hotfix-snapshots")
    state = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return str(Path(state) / "hotfix-actions" / "snapshots")


def split_names(values: tuple[str, ...]) -> tuple[str, ...]:
    """Repeated options, or one environment value with names separated by spaces or commas."""
    return tuple(part for value in values for part in re.split(r"[\s,]+", value) if part)


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
    import getpass

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
    is not a reason to block a rollback: it becomes a warning and nothing is sent. Nothing configured: nothing is
    imported (the notifiers load an HTTP client; an emergency rollback should not pay for it)."""
    names = ("HOTFIX_SLACK_WEBHOOK_URL", "HOTFIX_WEBHOOK_URL", "HOTFIX_TEAMS_WEBHOOK_URL", "HOTFIX_DISCORD_WEBHOOK_URL")
    if not any(edge.env.get(name, "").strip() for name in names):
        return NullNotifier()
    from hotfix_actions import notify
    from hotfix_actions.config.notify import NotifyConfig
    from hotfix_actions.errors import HotfixError

    try:
        config = edge.config().section(NotifyConfig)
        return notify.build(notify.urls_from_env(edge.env), config, mask=edge.reporter.mask)
    except HotfixError as exc:
        edge.reporter.annotate("warning", f"notifications are off: {exc}")
        return NullNotifier()


@contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT raise ``Interrupted`` once (in the main thread); later ones are ignored while the run
    cleans up and reports. Without a signal the previous handlers come back at the end."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired: list[int] = []

    def handler(signum: int, _frame: FrameType | None) -> None:
        if fired:
            return  # cleaning up already: finish it
        fired.append(signum)
        code = ExitCode.SIGTERM if signum == signal.SIGTERM else ExitCode.SIGINT
        raise Interrupted(signal.Signals(signum).name, code)

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        if not fired:
            for sig, old in previous.items():
                signal.signal(sig, old)


def guarded(command: str, body: Callable[[], Outcome]) -> Outcome:
    """Run a cluster command under ``interruptible()``; a signal the service did not turn into its own outcome
    (while connecting, before anything was written) becomes one here."""
    with interruptible():
        try:
            return body()
        except Interrupted as sig:
            reason = f"interrupted by {sig.signal_name} before anything was written"
            return Outcome(
                command=command,
                verdict=Verdict.ERROR,
                reasons=[reason],
                outputs={"interrupted": sig.signal_name, "written": "false"},
                title=f"hotfix {command}",
                exit_code=sig.exit_code,
            )


def run_context(edge: Edge, cluster: KubeCluster, github_token: str | None) -> Context:
    """The ports a rollback or promote run uses: the cluster, an HTTP probe, GitHub Deployments, notifications."""
    from hotfix_actions.kube.probe import HttpProbe
    from hotfix_actions.services._deploy import Context

    return Context(
        cluster=cluster,
        reporter=edge.reporter,
        probe=HttpProbe(),
        deployments=deployments_for(edge, github_token),
        notifier=notifier_for(edge),
    )
