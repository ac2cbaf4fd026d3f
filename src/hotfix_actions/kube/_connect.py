"""Build an authenticated ``kubernetes.client.ApiClient``: kubeconfig file(s), in-cluster, or base64 content.

A base64 kubeconfig (from a secret) is written owner-only (0600) to a temporary file that is removed on
``close()`` and at exit. The values in it that are secrets (tokens, keys, passwords, certificates) are listed by
``kubeconfig_secrets`` so the command layer can mask them before anything is printed.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hotfix_actions.errors import UsageError

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


@dataclass
class Connection:
    api_client: Any  # kubernetes.client.ApiClient
    host: str
    context: str
    namespace: str
    temp_file: str | None = None

    def close(self) -> None:
        if self.temp_file:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp_file)
            self.temp_file = None
        with contextlib.suppress(Exception):
            self.api_client.close()


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
        doc = yaml.safe_load(text)
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
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    return sorted({value for value in _walk_secrets(doc) if len(value) >= 4}, key=len, reverse=True)


def _write_temp(text: str) -> str:
    fd, path = tempfile.mkstemp(prefix="hotfix-kubeconfig-", suffix=".yaml")  # mode 0600
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    atexit.register(lambda: Path(path).unlink(missing_ok=True))
    return path


def open_connection(options: ConnectOptions) -> Connection:
    """Load credentials into a fresh Configuration (never the SDK's global default) and build an ApiClient."""
    from kubernetes import client
    from kubernetes import config as sdk_config
    from kubernetes.config.config_exception import ConfigException

    config: Any = sdk_config  # partly untyped
    configuration = client.Configuration()
    temp_file = None
    try:
        if options.kubeconfig_data:
            temp_file = _write_temp(decode_kubeconfig(options.kubeconfig_data))
            source = temp_file
        elif options.kubeconfig:
            source = options.kubeconfig
        elif options.in_cluster:
            config.load_incluster_config(client_configuration=configuration)
            namespace = options.namespace or _incluster_namespace()
            return _finish(configuration, "in-cluster", namespace, None)
        else:
            source = str(Path("~/.kube/config").expanduser())
        config.load_kube_config(
            config_file=source, context=options.context, client_configuration=configuration, persist_config=False
        )
        contexts, active = config.list_kube_config_contexts(config_file=source)
        chosen = next((c for c in contexts if c.get("name") == options.context), active) if options.context else active
        name = (chosen or {}).get("name", "")
        namespace = options.namespace or ((chosen or {}).get("context") or {}).get("namespace") or "default"
        return _finish(configuration, name, namespace, temp_file)
    except (ConfigException, OSError, yaml.YAMLError, TypeError, KeyError) as exc:
        if temp_file:
            Path(temp_file).unlink(missing_ok=True)
        where = "the base64 kubeconfig" if options.kubeconfig_data else (options.kubeconfig or "~/.kube/config")
        if options.in_cluster and not options.kubeconfig_data and not options.kubeconfig:
            where = "the in-cluster service account"
        raise UsageError(
            f"cannot load Kubernetes credentials from {where}: {exc}",
            input_name="kubeconfig",
            fix="pass --kubeconfig FILE, set KUBECONFIG, pass kubeconfig-data (base64), or run inside a pod; "
            "check --context",
        ) from exc


def _incluster_namespace() -> str:
    try:
        return (_SA_DIR / "namespace").read_text(encoding="utf-8").strip() or "default"
    except OSError:
        return "default"


def _finish(configuration: Any, context: str, namespace: str, temp_file: str | None) -> Connection:
    from kubernetes import client

    configuration.retries = False  # our transport retries, with backoff and a deadline
    api_client = client.ApiClient(configuration)
    api_client.user_agent = "hotfix-actions"
    return Connection(
        api_client=api_client, host=configuration.host, context=context, namespace=namespace, temp_file=temp_file
    )
