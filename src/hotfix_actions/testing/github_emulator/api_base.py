"""What every handler shares: the request context, the reply, GitHub's error shapes and pagination.

A handler gets a ``Ctx`` for a request that already conforms to the OpenAPI description and returns a
``Reply``. GitHub's own refusals are reproduced where clients depend on them: a duplicate pull request, a
release that exists, a label that exists, a missing ref (422), an empty repository (409).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hotfix_actions.testing.github_emulator.state import EmulatorState, RepoState

__all__ = ["Ctx", "Reply", "empty_repo", "invalid", "not_found", "page", "q"]


@dataclass
class Ctx:
    state: EmulatorState
    repo: RepoState
    params: Mapping[str, str]
    query: Mapping[str, Sequence[str]]
    body: Any
    actor: str
    url: str  # the full request URL without the query, for Link headers


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def q(ctx: Ctx, name: str, default: str = "") -> str:
    values = ctx.query.get(name)
    return values[0] if values else default


def not_found() -> Reply:
    return Reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})


def invalid(message: str, resource: str, field_name: str, code: str = "invalid") -> Reply:
    return Reply(
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": resource, "field": field_name, "code": code, "message": message}],
            "documentation_url": "https://docs.github.com/rest",
            "status": "422",
        },
    )


def empty_repo() -> Reply:
    return Reply(409, {"message": "Git Repository is empty.", "status": "409"})


def page(ctx: Ctx, items: list[Any]) -> Reply:
    per_page = min(int(q(ctx, "per_page", "30")), 100)
    number = max(int(q(ctx, "page", "1")), 1)
    chunk = items[(number - 1) * per_page : number * per_page]
    headers = {}
    if number * per_page < len(items):
        others = "&".join(f"{k}={v[0]}" for k, v in ctx.query.items() if k not in ("page", "per_page"))
        prefix = f"{ctx.url}?{others + '&' if others else ''}per_page={per_page}"
        last = (len(items) + per_page - 1) // per_page
        headers["Link"] = f'<{prefix}&page={number + 1}>; rel="next", <{prefix}&page={last}>; rel="last"'
    return Reply(200, chunk, headers)
