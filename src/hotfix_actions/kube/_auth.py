"""Credentials for each request: a bearer token (static, from a file re-read every minute, or from an exec plugin
until it expires), basic auth, or client certificates (from the kubeconfig or an exec plugin).

Exec plugins follow client-go's ``ExecCredential`` protocol (``client.authentication.k8s.io/v1`` and ``v1beta1``):
the command runs with the kubeconfig's args and env plus ``KUBERNETES_EXEC_INFO``, non-interactively, and prints an
ExecCredential whose ``status`` carries a token or a client certificate and key, and optionally when they expire.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hotfix_actions.kube._kubeconfig import ClientSettings, KubeconfigError

__all__ = ["Auth", "ExecResult"]

_TOKEN_FILE_TTL = 60.0  # seconds a token read from a file is used before it is read again (rotated tokens)
_EXEC_TIMEOUT = 60.0


@dataclass(frozen=True)
class ExecResult:
    token: str = ""
    cert_pem: str = ""
    key_pem: str = ""
    expires: float | None = None  # time.time() when the credential expires


def _parse_expiry(text: Any) -> float | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    except ValueError:
        return None


def run_exec(config: Mapping[str, Any], base: str, *, timeout: float = _EXEC_TIMEOUT) -> ExecResult:
    """Run an exec credential plugin once; KubeconfigError says what went wrong, with the plugin's hint."""
    import shutil
    import subprocess

    command = str(config.get("command") or "")
    if not command:
        raise KubeconfigError("the exec plugin has no command")
    if os.sep in command and not os.path.isabs(command) and base:
        command = str(Path(base) / command)
    api_version = str(config.get("apiVersion") or "client.authentication.k8s.io/v1beta1")
    args = [str(a) for a in config.get("args") or ()]
    env = dict(os.environ)  # a plugin sees the environment the command was started with, as with kubectl
    for item in config.get("env") or ():
        if isinstance(item, dict) and "name" in item:
            env[str(item["name"])] = str(item.get("value", ""))
    spec: dict[str, Any] = {"interactive": False}
    env["KUBERNETES_EXEC_INFO"] = json.dumps({"apiVersion": api_version, "kind": "ExecCredential", "spec": spec})
    executable = shutil.which(command) or command
    hint = str(config.get("installHint") or "")
    try:
        proc = subprocess.run(
            [executable, *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise KubeconfigError(f"exec plugin {command!r} not found" + (f" ({hint.strip()})" if hint else "")) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KubeconfigError(f"exec plugin {command!r} failed: {exc}") from exc
    if proc.returncode != 0:
        tail = " ".join(proc.stderr.split())[-300:]
        raise KubeconfigError(f"exec plugin {command!r} exited {proc.returncode}: {tail}")
    try:
        doc = json.loads(proc.stdout)
    except ValueError as exc:
        raise KubeconfigError(f"exec plugin {command!r} did not print an ExecCredential (JSON)") from exc
    status = doc.get("status") if isinstance(doc, dict) else None
    if not isinstance(status, dict):
        raise KubeconfigError(f"exec plugin {command!r} printed no status")
    result = ExecResult(
        token=str(status.get("token") or ""),
        cert_pem=str(status.get("clientCertificateData") or ""),
        key_pem=str(status.get("clientKeyData") or ""),
        expires=_parse_expiry(status.get("expirationTimestamp")),
    )
    if not result.token and not (result.cert_pem and result.key_pem):
        raise KubeconfigError(f"exec plugin {command!r} returned neither a token nor a client certificate")
    return result


class Auth:
    """The Authorization header for the next request (thread-safe; the Lease renewal runs in a thread)."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        token_provider: Callable[[], str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._provider = token_provider  # the SDK's auth-provider fallback
        self._clock = clock
        self._lock = threading.Lock()
        self._file_token = ""
        self._file_read = 0.0
        self._exec: ExecResult | None = None

    @property
    def uses_exec(self) -> bool:
        return bool(self.settings.exec_config)

    def exec_credential(self) -> ExecResult:
        """The exec plugin's credential, run again when it has expired (or will within 10 s)."""
        with self._lock:
            current = self._exec
            if current is None or (current.expires is not None and current.expires - 10 <= self._clock()):
                current = run_exec(self.settings.exec_config, self.settings.exec_dir)
                self._exec = current
            return current

    def _token(self) -> str:
        s = self.settings
        if self._provider is not None:
            return self._provider()
        if s.exec_config:
            return self.exec_credential().token
        if s.token_file:
            with self._lock:
                if not self._file_token or self._clock() - self._file_read >= _TOKEN_FILE_TTL:
                    try:
                        self._file_token = Path(s.token_file).read_text(encoding="utf-8").strip()
                    except OSError as exc:
                        raise KubeconfigError(f"cannot read the token file {s.token_file}: {exc}") from exc
                    self._file_read = self._clock()
                return self._file_token
        return s.token

    def header(self) -> str | None:
        token = self._token()
        if token:
            return token if token.lower().startswith("bearer ") else f"Bearer {token}"
        s = self.settings
        if s.username or s.password:
            pair = base64.b64encode(f"{s.username}:{s.password}".encode()).decode()
            return f"Basic {pair}"
        return None
