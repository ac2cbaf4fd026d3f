"""``ListOptions`` of list and watch requests, decoded and validated as the upstream API server does.

Decoding follows apimachinery's query conversion (a bool is false only when absent, ``0`` or ``false``; a number that
does not parse is a 400). Validation follows ``ValidateListOptions`` (``meta/internalversion/validation``) with the
WatchList feature on, after ``SetListOptionsDefaults``: a refusal is a 422 ``Invalid`` Status for the kind
``ListOptions.meta.k8s.io`` with one cause per field error, exactly as the list handler (``handlers/get.go``) answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from hotfix_actions.sandbox.status import ApiError

__all__ = [
    "EXACT",
    "NOT_OLDER_THAN",
    "ListOptions",
    "parse_list_options",
    "parse_resource_version",
    "query_bool",
    "too_large",
]

NOT_OLDER_THAN = "NotOlderThan"
EXACT = "Exact"


def query_bool(value: str | None) -> bool:
    """apimachinery's ``Convert_Slice_string_To_bool``: only absent, ``0`` and ``false`` (any case) are false."""
    return value is not None and value != "0" and value.lower() != "false"


_INT = re.compile(r"[+-]?[0-9]+")


def _query_int(query: dict[str, str], key: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 10, 64)``; what it refuses is a 400 naming the text."""
    if key not in query:
        return None
    text = query[key]
    if not _INT.fullmatch(text):
        raise ApiError(400, f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return int(text, 10)


@dataclass(frozen=True)
class ListOptions:
    watch: bool = False
    label_selector: str = ""
    field_selector: str = ""
    resource_version: str = ""
    resource_version_match: str = ""
    send_initial_events: bool | None = None
    allow_watch_bookmarks: bool = False
    timeout_seconds: int | None = None
    limit: int = 0
    continue_token: str = ""

    @property
    def since(self) -> int | None:
        """The resourceVersion as a number; None for "" and "0" (no particular version)."""
        if self.resource_version in ("", "0"):
            return None
        return parse_resource_version(self.resource_version, watch=self.watch)


class _Unreasoned(ApiError):
    """An error upstream answers without a ``reason`` (a watch's unparsable resourceVersion is a plain 500)."""

    def body(self) -> dict[str, Any]:
        answer = super().body()
        answer.pop("reason", None)
        return answer


def parse_resource_version(text: str, *, watch: bool = False) -> int:
    """Go's ``strconv.ParseUint``. What does not parse is, as kube-apiserver 1.37 answers it, a 400 for a list
    (the storage's "invalid resource version") and a 500 without a reason for a watch (the cacher's error as is)."""
    if not text.isascii() or not text.isdigit():
        invalid = f'resourceVersion: Invalid value: "{text}": strconv.ParseUint: parsing "{text}": invalid syntax'
        if watch:
            raise _Unreasoned(500, invalid)
        raise ApiError(400, f"invalid resource version: {invalid}")
    return int(text, 10)


def parse_list_options(query: dict[str, str], *, force_watch: bool = False) -> ListOptions:
    """Decode the query (400 on what does not decode), apply the WatchList defaults, validate (422)."""
    sie = query.get("sendInitialEvents")
    opts = ListOptions(
        watch=force_watch or query_bool(query.get("watch")),
        label_selector=query.get("labelSelector", ""),
        field_selector=query.get("fieldSelector", ""),
        resource_version=query.get("resourceVersion", ""),
        resource_version_match=query.get("resourceVersionMatch", ""),
        send_initial_events=None if sie is None else query_bool(sie),
        allow_watch_bookmarks=query_bool(query.get("allowWatchBookmarks")),
        timeout_seconds=_query_int(query, "timeoutSeconds"),
        limit=_query_int(query, "limit") or 0,
        continue_token=query.get("continue", ""),
    )
    opts = _defaults(opts)
    errors = _validate_watch(opts) if opts.watch else _validate_list(opts)
    if errors:
        raise _invalid(errors)
    return opts


def _defaults(opts: ListOptions) -> ListOptions:
    """``SetListOptionsDefaults`` with WatchList on: a legacy watch from "" or "0" becomes a watch-list."""
    if opts.send_initial_events is not None or opts.resource_version_match:
        return opts
    if opts.watch and opts.resource_version in ("", "0"):
        return replace(opts, send_initial_events=True, resource_version_match=NOT_OLDER_THAN)
    return opts


_Error = tuple[str, str, str]  # field, cause reason, message body


def _forbidden(path: str, detail: str) -> _Error:
    return path, "FieldValueForbidden", f"Forbidden: {detail}"


def _not_supported(path: str, value: str, supported: list[str]) -> _Error:
    listed = ", ".join(f'"{s}"' for s in supported)
    return path, "FieldValueNotSupported", f'Unsupported value: "{value}": supported values: {listed}'


def _validate_list(opts: ListOptions) -> list[_Error]:
    errors: list[_Error] = []
    match = opts.resource_version_match
    if match:
        if not opts.resource_version:
            errors.append(
                _forbidden(
                    "resourceVersionMatch", "resourceVersionMatch is forbidden unless resourceVersion is provided"
                )
            )
        if opts.continue_token:
            errors.append(
                _forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")
            )
        if match not in (EXACT, NOT_OLDER_THAN):
            errors.append(_not_supported("resourceVersionMatch", match, [EXACT, NOT_OLDER_THAN, ""]))
        if match == EXACT and opts.resource_version == "0":
            errors.append(
                _forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
            )
    if opts.send_initial_events is not None:
        errors.append(_forbidden("sendInitialEvents", "sendInitialEvents is forbidden for list"))
    return errors


def _validate_watch(opts: ListOptions) -> list[_Error]:
    errors: list[_Error] = []
    match = opts.resource_version_match
    if opts.send_initial_events is not None and match != NOT_OLDER_THAN:
        errors.append(
            _forbidden(
                "resourceVersionMatch", f"sendInitialEvents requires setting resourceVersionMatch to {NOT_OLDER_THAN}"
            )
        )
    if match:
        if opts.send_initial_events is None:
            errors.append(
                _forbidden(
                    "resourceVersionMatch",
                    "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                )
            )
        if match != NOT_OLDER_THAN:
            errors.append(_not_supported("resourceVersionMatch", match, [NOT_OLDER_THAN]))
        if opts.continue_token:
            errors.append(
                _forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when continue is provided")
            )
    return errors


def _invalid(errors: list[_Error]) -> ApiError:
    """``errors.NewInvalid(GroupKind{meta.k8s.io, ListOptions}, "", errs)``."""
    texts = [f"{path}: {body}" for path, _, body in errors]
    aggregate = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return ApiError(
        422,
        f'ListOptions.meta.k8s.io "" is invalid: {aggregate}',
        reason="Invalid",
        details={
            "group": "meta.k8s.io",
            "kind": "ListOptions",
            "causes": [{"reason": reason, "message": body, "field": path} for path, reason, body in errors],
        },
    )


def too_large(wanted: int, current: int) -> ApiError:
    """The cacher's answer when a resourceVersion is not reached within its 3 s wait (504, retry after 1 s)."""
    return ApiError(
        504,
        f"Timeout: Too large resource version: {wanted}, current: {current}",
        reason="Timeout",
        details={
            "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
            "retryAfterSeconds": 1,
        },
    )
