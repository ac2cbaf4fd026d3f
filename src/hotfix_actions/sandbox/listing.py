"""Serving a list: which resourceVersion it is read at, and pages (``limit`` / ``continue``) as etcd3 serves them.

resourceVersion semantics (API concepts, "Semantics for get and list"): unset is the most recent state; ``0`` is any
state (the watch cache ignores ``limit`` then); ``N`` is "not older than N" (a version the store has not reached yet
is waited for 3 s, then 504 ``Too large resource version``), or exactly N with ``resourceVersionMatch=Exact`` or, for
old clients, with a ``limit`` and no match. Past states are rebuilt from the change log; one the log no longer
reaches is 410 ``Expired``. A continue token is the upstream one: base64url JSON ``{"v","rv","start"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hotfix_actions.sandbox.listopts import EXACT, ListOptions, parse_resource_version, too_large
from hotfix_actions.sandbox.resources import Resource
from hotfix_actions.sandbox.status import ApiError
from hotfix_actions.sandbox.store import Store, etcd_key

__all__ = ["Page", "list_page"]

Obj = dict[str, Any]
_TOKEN_VERSION = "meta.k8s.io/v1"
_WAIT = 3.0  # the cacher's wait for a resourceVersion it has not seen yet
_TOO_OLD = "The resourceVersion for the provided list is too old."
_CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)


@dataclass(frozen=True)
class Page:
    items: list[Obj]
    resource_version: int
    continue_token: str = ""
    remaining: int | None = None

    def metadata(self) -> Obj:
        meta: Obj = {"resourceVersion": str(self.resource_version)}
        if self.continue_token:
            meta["continue"] = self.continue_token
            if self.remaining is not None:
                meta["remainingItemCount"] = self.remaining
        return meta


def _b64_error(token: str) -> str:
    """Go's ``base64.CorruptInputError`` text: the first byte that is not in the URL-safe alphabet."""
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    bad = next((i for i, ch in enumerate(token) if ch not in alphabet), len(token))
    return f"illegal base64 data at input byte {bad}"


def encode_continue(rv: int, start: str) -> str:
    raw = json.dumps({"v": _TOKEN_VERSION, "rv": rv, "start": start}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_continue(token: str) -> tuple[int, str]:
    """(resourceVersion, start key) of a continue token; a bad one is a 400 worded as kube-apiserver words it."""
    invalid = "invalid continue token: continue key is not valid"
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{invalid}: {_b64_error(token)}") from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"{invalid}: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != _TOKEN_VERSION:
        raise ApiError(400, f"{invalid}: server does not recognize this encoded version ")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or rv <= 0:
        raise ApiError(400, f"{invalid}: incorrect encoded start resourceVersion (version {_TOKEN_VERSION})")
    if not isinstance(start, str) or not start.strip("/\x00"):
        raise ApiError(400, f"{invalid}: encoded start key is empty")
    key = start if start.startswith("/") else f"/{start}"
    if posixpath.normpath(key) != key:  # no climbing out of the list's prefix
        raise ApiError(400, f"{invalid}: {start}")
    return rv, key


def _reach(store: Store, rv: int) -> None:
    if not store.wait_until(rv, _WAIT):
        raise too_large(rv, store.resource_version)


def list_page(
    store: Store, res: Resource, namespace: str | None, match: Callable[[Obj], bool], opts: ListOptions
) -> Page:
    """The items a list request gets, at the resourceVersion its options ask for, one page at a time."""
    start = ""
    exact: int | None = None
    if opts.continue_token:
        exact, start = decode_continue(opts.continue_token)  # upstream decodes first, then checks the version
        if opts.resource_version not in ("", "0"):
            raise ApiError(400, "specifying resource version is not allowed when using continue")
        start = start.rstrip("\x00")
    elif opts.since is not None:
        wanted = parse_resource_version(opts.resource_version)
        _reach(store, wanted)
        legacy_exact = not opts.resource_version_match and opts.limit > 0
        if opts.resource_version_match == EXACT or legacy_exact:
            exact = wanted
    if exact is None:
        items, rv = store.list(res, namespace, match)
    else:
        if exact > store.resource_version:
            raise too_large(exact, store.resource_version)
        found = store.list_at(res, exact, namespace, match)
        if found is None:
            raise ApiError(410, _CONTINUE_TOO_OLD if opts.continue_token else _TOO_OLD, reason="Expired")
        items, rv = found, exact
    if start:
        items = [o for o in items if _key(o, namespace) > start]
    if opts.limit <= 0 or (opts.resource_version == "0" and not opts.continue_token) or len(items) <= opts.limit:
        return Page(items, rv)
    page = items[: opts.limit]
    token = encode_continue(rv, _key(page[-1], namespace) + "\x00")
    remaining = None if opts.label_selector or opts.field_selector else len(items) - len(page)
    return Page(page, rv, token, remaining)


def _key(obj: Obj, namespace: str | None) -> str:
    """The etcd key below the list's prefix: ``/name`` within a namespace, ``/namespace/name`` across them."""
    meta = obj.get("metadata") or {}
    return "/" + etcd_key("" if namespace else str(meta.get("namespace") or ""), str(meta.get("name") or ""))
