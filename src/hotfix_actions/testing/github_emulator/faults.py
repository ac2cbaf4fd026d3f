"""Fault knobs: answer matching requests with 401, 403, a rate limit (403 or 429 with Retry-After) or a 5xx."""

from __future__ import annotations

from dataclasses import dataclass

from hotfix_actions.testing.github_emulator.api_base import Reply

__all__ = ["KINDS", "Fault"]

_SECONDARY = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to "
    "GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000."
)
# kind -> (status, message)
KINDS: dict[str, tuple[int, str]] = {
    "unauthorized": (401, "Bad credentials"),
    "forbidden": (403, "Resource not accessible by integration"),
    "secondary_rate_limit": (403, _SECONDARY),
    "rate_limit_429": (429, _SECONDARY),
    "primary_rate_limit": (403, "API rate limit exceeded for installation ID 1."),
    "server_error": (502, "Server Error"),
}


@dataclass
class Fault:
    """Answer up to ``times`` matching requests (None: all of them) with this failure instead of the real reply."""

    kind: str
    times: int | None = 1
    operation: str | None = None  # operationId, or "graphql"
    method: str | None = None
    path_prefix: str | None = None
    retry_after: int | None = None
    status: int | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(KINDS)}")

    def matches(self, method: str, operation_id: str | None, path: str) -> bool:
        if self.times is not None and self.hits >= self.times:
            return False
        if self.operation is not None and self.operation != operation_id:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    def reply(self) -> Reply:
        status, message = KINDS[self.kind]
        status = self.status or status
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.kind == "primary_rate_limit":
            headers["X-RateLimit-Remaining"] = "0"
        body = {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)}
        return Reply(status, body, headers)
