"""JSON requests through the official client's ApiClient, with bounded backoff retries and a deadline.

The typed ``AppsV1Api`` methods validate bodies through pydantic models (dropping unknown fields); objects here
stay the API's own JSON, so a read-modify-replace loses nothing. Auth, TLS and token refresh are the SDK's.

Retried: HTTP 429 and 5xx, connection errors and timeouts, with exponential backoff (jittered), at most
``retries`` times and never past ``deadline`` seconds for the whole call. Not retried: 404 (NotFoundError),
409 (ConflictError: the caller re-reads and decides again), other 4xx. A PUT that timed out is retried safely: it
carries a resourceVersion, so a write that did land turns the retry into a 409.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hotfix_actions.errors import ClusterError, ConflictError, NotFoundError, UsageError

__all__ = ["RetryPolicy", "Transport"]


@dataclass(frozen=True)
class RetryPolicy:
    connect_timeout: float = 5.0
    request_timeout: float = 15.0
    retries: int = 5
    backoff_initial: float = 0.25
    backoff_max: float = 4.0
    deadline: float = 60.0


class _Retryable(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _status_message(data: bytes) -> str:
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        return data[:200].decode("utf-8", "replace") if data else ""
    return str(body.get("message") or "") if isinstance(body, dict) else ""


class Transport:
    def __init__(
        self,
        api_client: Any,
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.api_client = api_client
        self.policy = policy
        self.sleep = sleep
        self.clock = clock
        self.on_retry = on_retry
        self.requests = 0  # counted, for the benchmark's overhead figures

    @property
    def host(self) -> str:
        return str(self.api_client.configuration.host)

    def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str] | None,
        body: Any,
        content_type: str | None,
        timeout: tuple[float, float],
    ) -> Any:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        serialized = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        self.requests += 1
        try:
            return self.api_client.call_api(*serialized, _request_timeout=timeout)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        except ApiException as exc:  # TLS errors surface as status 0
            raise ClusterError(f"cannot talk to the API server at {self.host}: {exc.reason}") from exc

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
        end = start + policy.deadline
        attempt = 0
        last = ""
        while True:
            remaining = end - self.clock()
            timeout = (
                min(policy.connect_timeout, max(remaining, 0.1)),
                min(policy.request_timeout, max(remaining, 0.1)),
            )
            try:
                response = self._send(method, path, query, body, content_type, timeout)
                data = response.read()
                status = int(response.status)
                if 200 <= status < 300:
                    decoded = json.loads(data) if data else {}
                    return decoded if isinstance(decoded, dict) else {"items": decoded}
                message = _status_message(data) or str(response.reason or "")
                if status == 429 or status >= 500:
                    raise _Retryable(f"HTTP {status}: {message}")
                raise self._error(status, message, what, method)
            except _Retryable as exc:
                last = exc.detail
            attempt += 1
            pause = min(policy.backoff_max, policy.backoff_initial * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            elapsed = self.clock() - start
            if attempt > policy.retries or self.clock() + pause >= end:
                raise ClusterError(
                    f"{method} {what} failed after {attempt} attempt(s) in {elapsed:.1f}s "
                    f"(limits: {policy.retries} retries, {policy.deadline:.0f}s): {last}",
                    fix=f"check that the API server at {self.host} is reachable and healthy, then run again "
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
            return ClusterError(
                f"{method} {what}: HTTP {status} {message}",
                fix="the credentials lack a permission (RBAC) or are invalid; check the kubeconfig's user and "
                "the Role bound to it",
            )
        if status == 422:
            return UsageError(f"{method} {what} was rejected as invalid: {message}")
        return ClusterError(f"{method} {what}: HTTP {status} {message}")

    def watch(self, path: str, query: Mapping[str, str], *, timeout: float) -> Iterator[tuple[str, dict[str, Any]]]:
        """Stream (type, object) watch events until the server closes or ``timeout``; errors end the stream.

        The caller falls back to polling when this yields nothing; no retries here.
        """
        try:
            response = self._send(
                "GET",
                path,
                {**query, "watch": "true", "timeoutSeconds": str(max(1, int(timeout)))},
                None,
                None,
                (self.policy.connect_timeout, timeout + 5),
            )
        except (_Retryable, ClusterError):
            return
        raw = response.response
        try:
            if int(response.status) != 200:
                response.read()
                return
            buffer = b""
            for chunk in raw.stream(amt=None, decode_content=False):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    event = _decode_event(line)
                    if event is not None:
                        yield event
            if buffer.strip() and (event := _decode_event(buffer)) is not None:
                yield event
        except Exception:  # a dropped or timed-out stream: the caller re-reads
            return
        finally:
            raw.close()  # a half-read stream must not go back to the pool
            raw.release_conn()


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
