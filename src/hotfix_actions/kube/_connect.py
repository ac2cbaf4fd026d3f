"""Open a connection to the API server: kubeconfig file(s), in-cluster, or base64 content.

The kubeconfig is read by ``_kubeconfig`` (no SDK import on this path); a base64 kubeconfig (from a secret) is parsed
in memory and never written to disk. Client certificates given as data go to a private temporary folder that
``close()`` removes (at exit too, and on SIGTERM/SIGINT through the command's cleanup). Only a kubeconfig that uses
an ``auth-provider`` (the deprecated oidc/gcp/azure plugins) is handed to the SDK's loader, which needs it as a
file: that one is written owner-only (0600) and removed the same way. ``kubeconfig_secrets`` lists the values to mask.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hotfix_actions.errors import UsageError
from hotfix_actions.kube._auth import Auth
from hotfix_actions.kube._http import Http
from hotfix_actions.kube._kubeconfig import ClientSettings, KubeconfigError, load_kubeconfig, load_yaml

__all__ = ["ConnectOptions", "Connection", "decode_kubeconfig", "kubeconfig_secrets", "open_connection"]

_SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_SECRET_KEYS = {
    "token",
    "client-key-data",
    "client-certificate-data",
    "password",
    "id-token",
    "refresh-token",
    "access-token",
    "client-secret",
}


@dataclass(frozen=True)
class ConnectOptions:
    """Where the credentials come from. The command layer fills this from options and the environment."""

    kubeconfig: str | None = None  # a path, or several joined by os.pathsep (the KUBECONFIG format)
    kubeconfig_data: str | None = None  # base64 of a kubeconfig file
    context: str | None = None
    namespace: str | None = None
    in_cluster: bool = False  # KUBERNETES_SERVICE_HOST is set and no kubeconfig was given
    service_host: str = ""  # KUBERNETES_SERVICE_HOST / _PORT, for in-cluster
    service_port: str = ""


@dataclass
class Connection:
    http: Http
    host: str
    context: str
    namespace: str
    temp_file: str | None = None  # the kubeconfig written for the SDK's auth-provider loader only

    def close(self) -> None:
        self.http.close()
        if self.temp_file:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp_file)
            self.temp_file = None


def decode_kubeconfig(data: str) -> str:
    """The text of a base64 kubeconfig; UsageError when it is not base64 of a kubeconfig YAML mapping."""
    try:
        text = base64.b64decode("".join(data.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(
            "is not base64 of a kubeconfig file",
            input_name="kubeconfig-data",
            fix="store the output of `base64 -w0 ~/.kube/config` in the secret",
        ) from exc
    try:
        doc = load_yaml(text)
    except yaml.YAMLError as exc:
        raise UsageError("decodes to text that is not YAML", input_name="kubeconfig-data") from exc
    if not isinstance(doc, dict) or "clusters" not in doc:
        raise UsageError(
            "decodes to YAML without 'clusters': not a kubeconfig",
            input_name="kubeconfig-data",
            fix="store the output of `base64 -w0 ~/.kube/config` in the secret",
        )
    return text


def _walk_secrets(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _SECRET_KEYS and isinstance(value, str):
                yield value
            elif key == "env" and isinstance(value, list):  # exec plugins' environment
                for item in value:
                    if isinstance(item, dict) and isinstance(item.get("value"), str):
                        yield item["value"]
            else:
                yield from _walk_secrets(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk_secrets(item)


def kubeconfig_secrets(text: str) -> list[str]:
    """The secret values of a kubeconfig text (tokens, keys, passwords, client certificates), to be masked."""
    try:
        doc = load_yaml(text)
    except yaml.YAMLError:
        return []
    return sorted({value for value in _walk_secrets(doc) if len(value) >= 4}, key=len, reverse=True)


def _write_temp(text: str) -> str:
    import tempfile

    fd, path = tempfile.mkstemp(prefix="hotfix-kubeconfig-", suffix=".yaml")  # mode 0600
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    atexit.register(lambda: Path(path).unlink(missing_ok=True))
    return path


def _in_cluster(options: ConnectOptions) -> ClientSettings:
    if not options.service_host:
        raise KubeconfigError("KUBERNETES_SERVICE_HOST is not set")
    host = options.service_host if ":" not in options.service_host else f"[{options.service_host}]"
    namespace = options.namespace or _incluster_namespace()
    return ClientSettings(
        server=f"https://{host}:{options.service_port or '443'}",
        context="in-cluster",
        namespace=namespace,
        ca_file=str(_SA_DIR / "ca.crt"),
        token_file=str(_SA_DIR / "token"),
    )


def _sdk_token(source: str, context: str | None) -> Callable[[], str]:
    """An auth-provider kubeconfig: the SDK's loader keeps the token fresh; we only ask it for the header."""
    from kubernetes import client
    from kubernetes import config as sdk_config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    loader: Any = sdk_config  # partly untyped
    try:
        loader.load_kube_config(
            config_file=source, context=context, client_configuration=configuration, persist_config=False
        )
    except (ConfigException, OSError, ValueError, TypeError, KeyError) as exc:
        raise KubeconfigError(f"the auth-provider could not be loaded: {exc}") from exc

    def token() -> str:
        if configuration.refresh_api_key_hook is not None:
            configuration.refresh_api_key_hook(configuration)
        return str(configuration.get_api_key_with_prefix("authorization") or "")

    return token


def open_connection(options: ConnectOptions) -> Connection:
    """Read the credentials (no request is sent yet) and prepare the HTTP client."""
    temp_file = None
    where = "the base64 kubeconfig" if options.kubeconfig_data else (options.kubeconfig or "~/.kube/config")
    try:
        text = None
        if options.kubeconfig_data:
            text = decode_kubeconfig(options.kubeconfig_data)
            settings = load_kubeconfig(text=text, context=options.context, namespace=options.namespace)
            paths: list[str] = []
        elif options.kubeconfig or not options.in_cluster:
            paths = (options.kubeconfig or str(Path("~/.kube/config").expanduser())).split(os.pathsep)
            settings = load_kubeconfig(paths, context=options.context, namespace=options.namespace)
        else:
            where = "the in-cluster service account"
            settings = _in_cluster(options)
        provider = None
        if settings.auth_provider:
            if text is not None:
                source = temp_file = _write_temp(text)
            else:
                source = os.pathsep.join(paths)
            provider = _sdk_token(source, settings.context)
        http = Http(settings, Auth(settings, token_provider=provider))
    except (KubeconfigError, OSError, yaml.YAMLError) as exc:
        if temp_file:
            Path(temp_file).unlink(missing_ok=True)
        raise UsageError(
            f"cannot load Kubernetes credentials from {where}: {exc}",
            input_name="kubeconfig",
            fix="pass --kubeconfig FILE, set KUBECONFIG, pass kubeconfig-data (base64), or run inside a pod; "
            "check --context",
        ) from exc
    return Connection(
        http=http, host=settings.server, context=settings.context, namespace=settings.namespace, temp_file=temp_file
    )


def _incluster_namespace() -> str:
    try:
        return (_SA_DIR / "namespace").read_text(encoding="utf-8").strip() or "default"
    except OSError:
        return "default"
