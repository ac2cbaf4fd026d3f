"""Kubernetes ``Status`` failures, shaped exactly as kubectl and the Python client expect them."""

from __future__ import annotations

from typing import Any

from hotfix_actions.sandbox.resources import Resource

__all__ = [
    "ApiError",
    "already_exists",
    "bad_request",
    "conflict",
    "invalid",
    "method_not_allowed",
    "not_found",
    "status_body",
]

_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """An API failure: HTTP code, Status reason, message and details."""

    def __init__(self, code: int, message: str, *, reason: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or _REASONS.get(code, "Unknown")
        self.details = details

    def body(self) -> dict[str, Any]:
        return status_body(self.code, self.message, reason=self.reason, details=self.details)


def status_body(code: int, message: str, *, reason: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


def _details(res: Resource, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": res.plural}
    if res.group:
        details["group"] = res.group
    return details


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, f'{res.qualified} "{name}" not found', details=_details(res, name))


def already_exists(res: Resource, name: str) -> ApiError:
    return ApiError(
        409, f'{res.qualified} "{name}" already exists', reason="AlreadyExists", details=_details(res, name)
    )


def conflict(res: Resource, name: str) -> ApiError:
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        details=_details(res, name),
    )


def invalid(res: Resource, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422: ``causes`` are (field, message) pairs."""
    text = ", ".join(f"{f}: {m}" for f, m in causes)
    details = _details(res, name)
    details["kind"] = res.kind
    details["causes"] = [{"reason": "FieldValueInvalid", "message": m, "field": f} for f, m in causes]
    return ApiError(422, f'{res.kind_qualified} "{name}" is invalid: {text}', details=details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> ApiError:
    return ApiError(405, message)
