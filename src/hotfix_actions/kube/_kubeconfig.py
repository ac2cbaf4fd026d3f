"""Read a kubeconfig the way kubectl does, without the ``kubernetes`` SDK (which costs ~0.3 s to import).

Several files (the KUBECONFIG list) merge like client-go's loading rules: for each named cluster, user and context the
first file that defines it wins, and ``current-context`` comes from the first file that sets one. Relative paths
(certificates, keys, token files, exec commands with a path separator) resolve against the file that names them.

Supported: a server URL, a CA (file or data) or ``insecure-skip-tls-verify``, ``tls-server-name``, ``proxy-url``
(http), client certificates (file or data), a bearer token or token file, basic auth and exec plugins
(``client.authentication.k8s.io`` v1 and v1beta1). ``auth-provider`` (the deprecated oidc/gcp/azure plugins) is
reported as such, so the caller can fall back to the SDK's loader.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from hotfix_actions.decide.names import url_problem

__all__ = ["ClientSettings", "KubeconfigError", "load_kubeconfig", "load_yaml", "settings_from_doc"]

_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: same result, faster


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` through libyaml when available."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader


class KubeconfigError(ValueError):
    """The kubeconfig cannot be used; the message says what is missing (the caller adds the file and the fix)."""


@dataclass(frozen=True)
class ClientSettings:
    """Everything needed to open connections to one API server as one user."""

    server: str
    context: str = ""
    namespace: str = ""
    ca_file: str = ""
    ca_data: str = ""  # PEM text
    insecure: bool = False
    tls_server_name: str = ""
    proxy_url: str = ""
    cert_file: str = ""
    key_file: str = ""
    cert_data: str = ""  # PEM text (written 0600 to a temporary folder when a connection needs it)
    key_data: str = ""
    token: str = ""
    token_file: str = ""
    username: str = ""
    password: str = ""
    exec_config: Mapping[str, Any] = field(default_factory=dict)
    exec_dir: str = ""  # folder of the kubeconfig that named the exec command
    auth_provider: str = ""  # name of an auth-provider entry: not handled here

    def __post_init__(self) -> None:
        # A bearer token, a password or a plugin's token goes to the server: the one URL allowlist applies
        # (https, or plain http only to a loopback host).
        if (self.token or self.token_file or self.password or self.exec_config or self.auth_provider) and (
            problem := url_problem(self.server)
        ):
            raise KubeconfigError(f"server {self.server[:100]!r} {problem}: its credentials would travel in clear")


def _b64(value: Any, what: str) -> str:
    import base64
    import binascii

    try:
        return base64.b64decode(str(value), validate=False).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise KubeconfigError(f"{what} is not base64 of PEM text") from exc


def _resolve(path: Any, base: str) -> str:
    if not path:
        return ""
    candidate = Path(str(path)).expanduser()
    return str(candidate if candidate.is_absolute() or not base else Path(base) / candidate)


def _named(items: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            found.setdefault(item["name"], item)
    return found


def settings_from_doc(
    docs: Sequence[tuple[Mapping[str, Any], str]], context: str | None = None, namespace: str | None = None
) -> ClientSettings:
    """Merge (document, folder) pairs in order and pick the context (``context`` or the current one)."""
    clusters: dict[str, tuple[dict[str, Any], str]] = {}
    users: dict[str, tuple[dict[str, Any], str]] = {}
    contexts: dict[str, dict[str, Any]] = {}
    current = ""
    for doc, base in docs:
        for name, item in _named(doc.get("clusters")).items():
            clusters.setdefault(name, (item.get("cluster") or {}, base))
        for name, item in _named(doc.get("users")).items():
            users.setdefault(name, (item.get("user") or {}, base))
        for name, item in _named(doc.get("contexts")).items():
            contexts.setdefault(name, item.get("context") or {})
        if not current and isinstance(doc.get("current-context"), str):
            current = doc["current-context"]
    chosen = context or current
    if not chosen:
        raise KubeconfigError("no current-context is set and no --context was given")
    if chosen not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise KubeconfigError(f"context {chosen!r} is not in the kubeconfig (contexts: {known})")
    ctx = contexts[chosen]
    cluster_name = str(ctx.get("cluster") or "")
    if cluster_name not in clusters:
        raise KubeconfigError(f"context {chosen!r} names cluster {cluster_name!r}, which is not in the kubeconfig")
    cluster, cluster_base = clusters[cluster_name]
    server = str(cluster.get("server") or "")
    if not server.startswith(("https://", "http://")):
        raise KubeconfigError(f"cluster {cluster_name!r} has no server URL (https://...)")
    user_name = str(ctx.get("user") or "")
    user, user_base = users.get(user_name, ({}, ""))
    if user_name and user_name not in users:
        raise KubeconfigError(f"context {chosen!r} names user {user_name!r}, which is not in the kubeconfig")
    exec_config = user.get("exec") or {}
    provider = user.get("auth-provider") or {}
    return ClientSettings(
        server=server.rstrip("/"),
        context=chosen,
        namespace=namespace or str(ctx.get("namespace") or "") or "default",
        ca_file=_resolve(cluster.get("certificate-authority"), cluster_base),
        ca_data=_b64(cluster["certificate-authority-data"], "certificate-authority-data")
        if cluster.get("certificate-authority-data")
        else "",
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        tls_server_name=str(cluster.get("tls-server-name") or ""),
        proxy_url=str(cluster.get("proxy-url") or ""),
        cert_file=_resolve(user.get("client-certificate"), user_base),
        key_file=_resolve(user.get("client-key"), user_base),
        cert_data=_b64(user["client-certificate-data"], "client-certificate-data")
        if user.get("client-certificate-data")
        else "",
        key_data=_b64(user["client-key-data"], "client-key-data") if user.get("client-key-data") else "",
        token=str(user.get("token") or ""),
        token_file=_resolve(user.get("tokenFile"), user_base),
        username=str(user.get("username") or ""),
        password=str(user.get("password") or ""),
        exec_config=exec_config if isinstance(exec_config, dict) else {},
        exec_dir=user_base,
        auth_provider=str(provider.get("name") or "auth-provider") if provider else "",
    )


def load_kubeconfig(
    paths: Sequence[str] | None = None,
    *,
    text: str | None = None,
    context: str | None = None,
    namespace: str | None = None,
) -> ClientSettings:
    """Settings from kubeconfig files (missing ones are skipped, as kubectl does) or from ``text``."""
    docs: list[tuple[Mapping[str, Any], str]] = []
    if text is not None:
        doc = load_yaml(text)
        if not isinstance(doc, dict):
            raise KubeconfigError("the kubeconfig is not a YAML mapping")
        docs.append((doc, ""))
    for one in paths or ():
        path = Path(one).expanduser()
        try:
            content = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise KubeconfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
        try:
            doc = load_yaml(content)
        except yaml.YAMLError as exc:
            raise KubeconfigError(f"{path} is not YAML: {exc}") from exc
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise KubeconfigError(f"{path} is not a YAML mapping")
        docs.append((doc, str(path.parent)))
    if not docs:
        where = ", ".join(paths or ()) or "the given text"
        raise KubeconfigError(f"no kubeconfig file found ({where})")
    return settings_from_doc(docs, context, namespace)
