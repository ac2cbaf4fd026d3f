"""HTTP to the API server on the standard library: TLS from the kubeconfig, keep-alive connections per thread,
separate connect and read timeouts, an Authorization header per request.

The ``kubernetes`` SDK's ApiClient costs ~0.3 s to import (every model of the API); an emergency rollback pays that
on every run. This module needs ``http.client`` and ``ssl`` only. Client certificates given as data are written to a
private (0700) temporary folder for ``ssl`` to load, and removed by ``close()`` (and at exit).
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import os
import socket
import ssl
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from hotfix_actions.kube._auth import Auth
from hotfix_actions.kube._kubeconfig import ClientSettings, KubeconfigError

__all__ = ["Http", "Response", "TransportFailure"]

USER_AGENT = "hotfix-actions"
_STALE = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class TransportFailure(Exception):
    """No HTTP answer: refused, reset, timed out, TLS failure. ``answered`` is False: the server said nothing."""


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    headers: Message
    data: bytes


class _TLSConnection(http.client.HTTPSConnection):
    """HTTPS with a server name for SNI and verification other than the host (kubeconfig ``tls-server-name``)."""

    server_name: str | None = None

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        name = self.server_name or (self._tunnel_host or self.host)  # type: ignore[attr-defined]
        self.sock = self._context.wrap_socket(self.sock, server_hostname=name)  # type: ignore[attr-defined]


class Http:
    def __init__(self, settings: ClientSettings, auth: Auth) -> None:
        self.settings = settings
        self.auth = auth
        url = urlsplit(settings.server)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise KubeconfigError(f"the server URL {settings.server!r} is not http(s)://host[:port]")
        self.scheme = url.scheme
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.prefix = url.path.rstrip("/")
        self.proxy: tuple[str, int] | None = None
        if settings.proxy_url:
            proxy = urlsplit(settings.proxy_url)
            if proxy.scheme != "http" or not proxy.hostname:
                raise KubeconfigError(f"proxy-url {settings.proxy_url!r}: only http:// proxies are supported")
            self.proxy = (proxy.hostname, proxy.port or 80)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None
        self._exec_cert: tuple[str, str] | None = None
        self._temp: str | None = None
        self._connections: set[http.client.HTTPConnection] = set()
        if settings.cert_data or settings.key_data:  # written now, so close() provably removes them
            self._write_pair(settings.cert_data, settings.key_data)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.prefix}"

    # -- TLS --------------------------------------------------------------------------------------------------
    def _write_pair(self, cert: str, key: str) -> tuple[str, str]:
        import shutil
        import tempfile

        if self._temp is None:
            self._temp = tempfile.mkdtemp(prefix="hotfix-kube-")  # mode 0700
            folder = self._temp
            atexit.register(lambda: shutil.rmtree(folder, ignore_errors=True))
        paths = []
        for name, text in (("client.crt", cert), ("client.key", key)):
            path = Path(self._temp) / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            paths.append(str(path))
        return paths[0], paths[1]

    def _ssl_context(self) -> ssl.SSLContext:
        with self._lock:
            exec_cert = None
            if self.auth.uses_exec:
                cred = self.auth.exec_credential()
                if cred.cert_pem and cred.key_pem:
                    exec_cert = (cred.cert_pem, cred.key_pem)
            if self._context is not None and exec_cert == self._exec_cert:
                return self._context
            s = self.settings
            try:
                context = ssl.create_default_context(cafile=s.ca_file or None, cadata=s.ca_data or None)
                if s.insecure:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                if exec_cert is not None:
                    context.load_cert_chain(*self._write_pair(*exec_cert))
                elif s.cert_data or s.key_data:
                    temp = Path(self._temp or "")
                    context.load_cert_chain(str(temp / "client.crt"), str(temp / "client.key"))
                elif s.cert_file or s.key_file:
                    context.load_cert_chain(s.cert_file, s.key_file or None)
            except (ssl.SSLError, OSError) as exc:
                raise KubeconfigError(f"cannot use the TLS certificates of the kubeconfig: {exc}") from exc
            self._context = context
            self._exec_cert = exec_cert
            return context

    # -- connections ------------------------------------------------------------------------------------------
    def _new(self, connect_timeout: float) -> http.client.HTTPConnection:
        host, port = self.proxy or (self.host, self.port)
        conn: http.client.HTTPConnection
        if self.scheme == "https":
            tls = _TLSConnection(host, port, timeout=connect_timeout, context=self._ssl_context())
            tls.server_name = self.settings.tls_server_name or None
            if self.proxy:
                tls.set_tunnel(self.host, self.port)
            conn = tls
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        with self._lock:
            self._connections.add(conn)
        return conn

    def _connect(self, conn: http.client.HTTPConnection, connect_timeout: float, read_timeout: float) -> None:
        if conn.sock is None:
            conn.timeout = connect_timeout
            conn.connect()
        sock: socket.socket = conn.sock  # set by connect()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(read_timeout)

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        with contextlib.suppress(Exception):
            conn.close()
        with self._lock:
            self._connections.discard(conn)
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        target = self.prefix + quote(path, safe="/:@")
        if query:
            target += "?" + urlencode(list(query.items()))
        if self.proxy and self.scheme == "http":
            return f"http://{self.host}:{self.port}{target}"
        return target

    def _headers(self, extra: Mapping[str, str]) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **extra}
        auth = self.auth.header()
        if auth:
            headers["Authorization"] = auth
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: tuple[float, float],
    ) -> Response:
        """One request on this thread's kept-alive connection (a stale one is replaced once)."""
        target = self.url(path, query)
        sent_headers = self._headers(headers or {})
        for attempt in (0, 1):
            conn = getattr(self._local, "conn", None)
            reused = conn is not None
            if conn is None:
                conn = self._local.conn = self._new(timeout[0])
            try:
                self._connect(conn, *timeout)
                conn.request(method, target, body=body, headers=sent_headers)
                answer = conn.getresponse()
                data = answer.read()
            except _STALE as exc:
                self._drop(conn)
                if reused and attempt == 0:
                    continue  # the server closed an idle kept-alive connection: once more on a new one
                raise TransportFailure(f"{type(exc).__name__}: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                raise TransportFailure(_describe(exc)) from exc
            if answer.will_close:
                self._drop(conn)
            return Response(answer.status, answer.reason, answer.headers, data)
        raise AssertionError("unreachable")

    def stream(
        self, path: str, query: Mapping[str, str], *, timeout: tuple[float, float]
    ) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
        """A GET on a connection of its own (a watch); the caller reads lines and calls ``finish``."""
        conn = self._new(timeout[0])
        try:
            self._connect(conn, *timeout)
            conn.request("GET", self.url(path, query), headers=self._headers({}))
            return conn.getresponse(), conn
        except (OSError, http.client.HTTPException) as exc:
            self._drop(conn)
            raise TransportFailure(_describe(exc)) from exc

    def finish(self, conn: http.client.HTTPConnection) -> None:
        self._drop(conn)

    def close(self) -> None:
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(Exception):
                conn.close()
        if self._temp is not None:
            import shutil

            shutil.rmtree(self._temp, ignore_errors=True)
            self._temp = None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within the read timeout ({type(exc).__name__})"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
