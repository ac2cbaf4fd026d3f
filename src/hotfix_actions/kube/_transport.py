"""JSON requests to the API server with bounded backoff retries and one deadline for an unanswering server.

Objects stay the API's own JSON, so a read-modify-replace loses nothing.

Retried: HTTP 429 and 5xx, connection errors and timeouts, with exponential backoff (jittered), at most ``retries``
times per call. Not retried: 404 (NotFoundError), 409 (ConflictError: the caller re-reads and decides again), other
4xx. A PUT that timed out is retried safely: it carries a resourceVersion, so a write that did land turns the retry
into a 409.

The deadline is for the command, not for one socket: once the server has stopped answering (refused, reset, no
answer within the read timeout), every call - the one that noticed, the next ones, the Lease renewal thread - shares
the same ``deadline`` seconds counted from the first unanswered attempt, and every socket timeout is cut to what is
left of it. A server that answers (even with errors) resets it. So a dead or hung API server ends a command within
``deadline`` seconds (default 15) with UnreachableError ("cluster unreachable or not answering"), however many calls
were still to come; after that each call makes one short attempt (cleanup such as releasing a Lease) and gives up.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from hotfix_actions.errors import (
    ClusterError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnreachableError,
    UsageError,
)
from hotfix_actions.guard import clip
from hotfix_actions.kube._http import Http, TransportFailure
from hotfix_actions.kube._kubeconfig import KubeconfigError

__all__ = ["RetryPolicy", "Transport"]

_LAST_CHANCE = 0.5  # seconds for each socket of the one attempt made after the deadline has passed


@dataclass(frozen=True)
class RetryPolicy:
    connect_timeout: float = 5.0
    request_timeout: float = 15.0
    retries: int = 5
    backoff_initial: float = 0.25
    backoff_max: float = 4.0
    deadline: float = 15.0  # seconds the API server may stay silent before the command gives up


_RBAC = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>[a-z]+) resource "(?P<resource>[^"]+)"'
    r'(?: in API group "(?P<group>[^"]*)")?(?: in the namespace "(?P<namespace>[^"]*)")?'
)
RBAC_FILE = "examples/k8s/rbac.yaml"


def forbidden(status: int, message: str, what: str, method: str) -> Exception:
    """401 and 403 in words: which permission is missing, for whom, and how to grant it. A 403 that is not RBAC
    (an admission policy, a quota) keeps the server's reason."""
    if status == 401:
        return ForbiddenError(
            f"unauthorized: the API server did not accept the kubeconfig's credentials ({method} {what})",
            fix="the token or certificate is wrong or expired: create a new one (kubectl create token hotfix-actions "
            "-n <namespace>) and update the kubeconfig secret",
        )
    found = _RBAC.search(message)
    if not found:
        return ClusterError(f"{method} {what}: forbidden by the API server: {message}")
    group = found.group("group") or ""
    resource = f"{found.group('resource')}.{group}" if group else found.group("resource")
    namespace = found.group("namespace")
    where = f' in namespace "{namespace}"' if namespace else " (cluster-wide)"
    return ForbiddenError(
        f"forbidden: needs {found.group('verb')} {resource}{where}; the identity {found.group('user')} lacks it "
        f"({method} {what})",
        fix=f"grant the tool its Role: kubectl apply -n {namespace or '<namespace>'} -f {RBAC_FILE} (it lists "
        "exactly what hotfix-actions needs), and use that service account's token in the kubeconfig",
    )


class _Retryable(Exception):
    def __init__(self, detail: str, *, answered: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.answered = answered


def _status_message(data: bytes) -> str:
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        return clip(data[:65536].decode("utf-8", "replace"), 200) if data else ""  # secrets scrubbed before the cut
    return str(body.get("message") or "") if isinstance(body, dict) else ""


class Transport:
    def __init__(
        self,
        http: Http,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.http = http
        self.policy = policy
        self.sleep = sleep
        self.clock = clock
        self.on_retry = on_retry
        self.requests = 0  # counted, for the benchmark's overhead figures
        self.server_date = ""  # the Date header of the last answer (the API server's clock, RFC 1123)
        self._lock = threading.Lock()
        self._silent_since: float | None = None  # first unanswered attempt since the last answer

    @property
    def host(self) -> str:
        return self.http.base_url

    # -- the shared deadline ----------------------------------------------------------------------------------
    def _answered(self, headers: Any) -> None:
        with self._lock:
            self._silent_since = None
            date = headers.get("Date") if headers is not None else None
            if date:
                self.server_date = str(date)

    def _unanswered(self, since: float) -> None:
        with self._lock:
            if self._silent_since is None:
                self._silent_since = since

    def silent_end(self) -> float | None:
        """When the shared deadline runs out (monotonic), or None while the server answers."""
        with self._lock:
            return None if self._silent_since is None else self._silent_since + self.policy.deadline

    def server_time(self) -> float | None:
        """The API server's clock at its last answer (epoch seconds), from the Date header."""
        if not self.server_date:
            return None
        try:
            return parsedate_to_datetime(self.server_date).timestamp()
        except (TypeError, ValueError):
            return None

    def _unreachable(self, last: str, method: str, what: str, attempts: int) -> UnreachableError:
        with self._lock:
            since = self._silent_since
        silent = self.clock() - since if since is not None else 0.0
        p = self.policy
        return UnreachableError(
            f"cluster unreachable or not answering: the API server at {self.host} gave no answer for {silent:.1f}s "
            f"({attempts} attempt(s) of this call; limits: {p.retries} retries, {p.deadline:.0f}s without an answer "
            f"= cluster.api_deadline) - last: {method} {what}: {last}",
            fix=f"check that the API server at {self.host} is reachable from here (VPN, firewall, the kubeconfig's "
            "server URL) and healthy, then run again (every step is safe to repeat)",
        )

    # -- one call ---------------------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None,
        body: Any,
        content_type: str | None,
        timeout: tuple[float, float],
    ) -> tuple[int, str, bytes]:
        headers = {}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
            data = json.dumps(body).encode("utf-8")
        self.requests += 1
        started = self.clock()
        try:
            response = self.http.request(method, path, query=query, headers=headers, body=data, timeout=timeout)
        except TransportFailure as exc:
            self._unanswered(started)
            raise _Retryable(str(exc), answered=False) from exc
        except KubeconfigError as exc:  # an exec plugin or a token file failed: not the server's fault
            raise ClusterError(f"cannot get credentials for {self.host}: {exc}") from exc
        self._answered(response.headers)
        return response.status, response.reason, response.data

    def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """One call; returns the decoded JSON body. ``what`` names the object for error messages."""
        policy = self.policy
        start = self.clock()
        call_end = start + policy.deadline
        attempt = 0
        last = ""
        answered = True
        while True:
            silent = self.silent_end()
            now = self.clock()
            end = min(call_end, silent) if silent is not None else call_end
            if silent is not None and now >= silent:  # already out of time: one short try, then give up
                timeout = (_LAST_CHANCE, _LAST_CHANCE)
            else:
                remaining = max(end - now, 0.1)
                timeout = (min(policy.connect_timeout, remaining), min(policy.request_timeout, remaining))
            try:
                status, reason, data = self._send(method, path, query, body, content_type, timeout)
                if 200 <= status < 300:
                    decoded = json.loads(data) if data else {}
                    return decoded if isinstance(decoded, dict) else {"items": decoded}
                message = _status_message(data) or reason
                if status == 429 or status >= 500:
                    raise _Retryable(f"HTTP {status}: {message}", answered=True)
                raise self._error(status, message, what, method)
            except _Retryable as exc:
                last, answered = exc.detail, exc.answered
            attempt += 1
            pause = min(policy.backoff_max, policy.backoff_initial * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            silent = self.silent_end()
            if not answered and silent is not None and self.clock() + pause >= silent:
                raise self._unreachable(last, method, what, attempt)
            if attempt > policy.retries or self.clock() + pause >= call_end:
                if not answered:
                    raise self._unreachable(last, method, what, attempt)
                elapsed = self.clock() - start
                raise ClusterError(
                    f"{method} {what} failed after {attempt} attempt(s) in {elapsed:.1f}s "
                    f"(limits: {policy.retries} retries, {policy.deadline:.0f}s): {last}",
                    fix=f"check that the API server at {self.host} is healthy, then run again "
                    "(every step is safe to repeat)",
                )
            if self.on_retry:
                self.on_retry(f"{method} {what}: {last}; retry {attempt}/{policy.retries} in {pause:.2f}s")
            self.sleep(pause)

    def _error(self, status: int, message: str, what: str, method: str) -> Exception:
        if status == 404:
            return NotFoundError(f"{what} not found ({message or 'HTTP 404'})", fix="check the namespace and the name")
        if status == 409:
            return ConflictError(f"{method} {what}: conflict ({message or 'HTTP 409'})")
        if status in (401, 403):
            return forbidden(status, message, what, method)
        if status == 422:
            return UsageError(f"{method} {what} was rejected as invalid: {message}")
        return ClusterError(f"{method} {what}: HTTP {status} {message}")

    def watch(self, path: str, query: Mapping[str, str], *, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """Stream (type, object) watch events until the server closes or ``timeout``; errors end the stream.

        The caller falls back to polling when this yields nothing; no retries here. An unanswered watch counts
        against the shared deadline like any other call.
        """
        silent = self.silent_end()
        if silent is not None:
            return  # the server is not answering: leave it to the caller's next plain read
        started = self.clock()
        read = min(timeout + 2.0, self.policy.request_timeout + timeout)
        self.requests += 1
        try:
            response, conn = self.http.stream(
                path,
                {**query, "watch": "true", "timeoutSeconds": str(max(1, int(timeout)))},
                timeout=(min(self.policy.connect_timeout, read), read),
            )
        except (TransportFailure, KubeconfigError):
            self._unanswered(started)
            return
        self._answered(response.headers)
        try:
            if response.status != 200:
                response.read()
                return
            while True:
                line = response.readline()
                if not line:
                    break
                event = _decode_event(line)
                if event is not None:
                    yield event
        except (OSError, ValueError):  # no end of stream when the server should have closed it: it went silent then
            self._unanswered(started + timeout)
            return
        except Exception:  # any other broken stream: the caller re-reads
            return
        finally:
            self.http.finish(conn)  # a half-read stream must not be reused


def _decode_event(line: bytes) -> tuple[str, dict[str, Any]] | None:
    if not line.strip():
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
        return None
    return str(event.get("type", "")), event["object"]
