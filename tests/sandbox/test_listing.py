"""Lists at a resourceVersion and in pages: past states rebuilt from the change log equal what the store held then,
pages joined equal one consistent list even while writers change the store between pages, and what the log no longer
reaches is 410 Expired, as etcd3 answers after a compaction."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotfix_actions.sandbox import Sandbox
from hotfix_actions.sandbox.listing import decode_continue, list_page
from hotfix_actions.sandbox.listopts import parse_list_options
from hotfix_actions.sandbox.resources import resource
from hotfix_actions.sandbox.status import ApiError
from hotfix_actions.sandbox.store import Store

CONFIGMAPS = resource("", "v1", "configmaps")
NAMESPACE = resource("", "v1", "namespaces")
NAMESPACES = ("a", "a-b", "b")
NAMES = ("x", "x1", "y", "z")

ops = st.lists(
    st.tuples(st.sampled_from(["put", "put", "remove"]), st.sampled_from(NAMESPACES), st.sampled_from(NAMES),
              st.integers(0, 9)),
    max_size=40,
)  # fmt: skip


def _apply(store: Store, op: tuple[str, str, str, int]) -> None:
    kind, ns, name, value = op
    if kind == "remove":
        store.remove(CONFIGMAPS, ns, name)
        return
    existing = store.get(CONFIGMAPS, ns, name)
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns},
           "data": {"v": str(value)}}  # fmt: skip
    store.put(CONFIGMAPS, obj, "ADDED" if existing is None else "MODIFIED")


def _state(store: Store, namespace: str | None = None) -> list[dict[str, Any]]:
    return store.list(CONFIGMAPS, namespace)[0]


@settings(max_examples=150, deadline=None)
@given(history=ops, namespace=st.sampled_from([None, *NAMESPACES]))
def test_a_past_state_rebuilt_from_the_log_is_what_the_store_held(history: list[Any], namespace: str | None) -> None:
    store = Store()
    seen = {store.resource_version: _state(store, namespace)}
    for op in history:
        _apply(store, op)
        seen[store.resource_version] = _state(store, namespace)
    for rv, expected in seen.items():
        assert store.list_at(CONFIGMAPS, rv, namespace) == expected


@settings(max_examples=100, deadline=None)
@given(history=ops, keep=st.integers(1, 8), other=st.integers(0, 5))
def test_a_short_history_answers_exactly_or_says_gone(history: list[Any], keep: int, other: int) -> None:
    """With the watch cache's bound (keep ``keep`` changes per type, forget older ones at once), a past state is
    either exactly what the store held or gone (410), never wrong; other types' changes do not push it out."""
    store = Store()
    store.history_min, store.history_fresh = keep, 0.0
    seen = {store.resource_version: _state(store)}
    changes: list[int] = []  # resourceVersions of the ConfigMap changes
    for op in history:
        before = store.resource_version
        _apply(store, op)
        if store.resource_version != before:
            changes.append(store.resource_version)
        seen[store.resource_version] = _state(store)
        for _ in range(other):  # writes of another type in between
            store.put(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}, "MODIFIED")
    floor = store.history_floor(CONFIGMAPS.rid)
    assert floor == (changes[-keep - 1] if len(changes) > keep else 0)
    for rv, expected in seen.items():
        got = store.list_at(CONFIGMAPS, rv, None)
        assert got is None if rv < floor else got == expected
        assert (store.changes_after(rv, CONFIGMAPS.rid) is None) == (rv < floor)


def test_lists_come_in_etcd_key_order() -> None:
    store = Store()
    for ns in ("a", "a-b"):
        _apply(store, ("put", ns, "x", 1))
    assert [o["metadata"]["namespace"] for o in _state(store)] == ["a-b", "a"]  # "a-b/x" < "a/x", as etcd sorts


def test_a_state_older_than_the_log_is_gone() -> None:
    store = Store()
    _apply(store, ("put", "a", "x", 1))
    _apply(store, ("put", "a", "x", 2))
    store.load(store.dump())  # a restart from a snapshot: the log starts afresh at resourceVersion 2
    _apply(store, ("put", "a", "x", 3))
    assert store.list_at(CONFIGMAPS, 1, None) is None
    (x,) = store.list_at(CONFIGMAPS, 2, None) or []
    assert x["data"] == {"v": "2"}


def _page(store: Store, query: dict[str, str]) -> tuple[list[dict[str, Any]], str, int]:
    page = list_page(store, CONFIGMAPS, None, lambda _o: True, parse_list_options(query))
    return page.items, page.continue_token, page.resource_version


@settings(max_examples=100, deadline=None)
@given(start=ops, racing=st.lists(ops, max_size=6), limit=st.integers(1, 5))
def test_pages_joined_are_one_consistent_list_while_writers_race(start: list[Any], racing: list[Any],
                                                                limit: int) -> None:  # fmt: skip
    store = Store()
    for op in start:
        _apply(store, op)
    expected = copy.deepcopy(_state(store))
    items, token, rv = _page(store, {"limit": str(limit)})
    got = list(items)
    writes = iter(racing)
    while token:
        assert len(items) == limit
        for op in next(writes, []):
            _apply(store, op)
        assert decode_continue(token)[0] == rv
        items, token, page_rv = _page(store, {"limit": str(limit), "continue": token})
        assert page_rv == rv
        got.extend(items)
    assert got == expected


def test_remaining_item_count_only_without_selectors() -> None:
    store = Store()
    for name in NAMES:
        _apply(store, ("put", "a", name, 1))
    page = list_page(store, CONFIGMAPS, None, lambda _o: True, parse_list_options({"limit": "1"}))
    assert page.metadata()["remainingItemCount"] == len(NAMES) - 1
    opts = parse_list_options({"limit": "1", "labelSelector": "!nothing"})
    assert "remainingItemCount" not in list_page(store, CONFIGMAPS, None, lambda _o: True, opts).metadata()


def test_resource_version_zero_ignores_the_limit_as_the_watch_cache_does() -> None:
    store = Store()
    for name in NAMES:
        _apply(store, ("put", "a", name, 1))
    items, token, _ = _page(store, {"limit": "1", "resourceVersion": "0"})
    assert len(items) == len(NAMES) and token == ""


def test_exact_and_legacy_limited_lists_read_the_past() -> None:
    store = Store()
    _apply(store, ("put", "a", "x", 1))
    then = store.resource_version
    _apply(store, ("put", "a", "y", 1))
    exact, _, rv = _page(store, {"resourceVersion": str(then), "resourceVersionMatch": "Exact"})
    assert [o["metadata"]["name"] for o in exact] == ["x"] and rv == then
    legacy, _, _ = _page(store, {"resourceVersion": str(then), "limit": "10"})  # N + limit, no match: exact
    assert [o["metadata"]["name"] for o in legacy] == ["x"]
    newer, _, rv = _page(store, {"resourceVersion": str(then)})  # N alone: not older than N
    assert [o["metadata"]["name"] for o in newer] == ["x", "y"] and rv == store.resource_version


def test_over_http_an_expired_list_and_continue_are_410(tmp_path: Any) -> None:
    snap = tmp_path / "snap.json"
    with Sandbox.start(snapshot=snap, tick=0.02) as sb:
        sb.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": "default"}}
                  for n in NAMES])  # fmt: skip
        with httpx.Client(base_url=sb.url, timeout=10) as client:
            first = client.get("/api/v1/namespaces/default/configmaps?limit=2").json()
        sb.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "later", "namespace": "default"}})
    token = first["metadata"]["continue"]
    assert first["metadata"]["remainingItemCount"] == len(NAMES) - 2
    with Sandbox.start(snapshot=snap, tick=0.02) as sb, httpx.Client(base_url=sb.url, timeout=10) as client:
        old = first["metadata"]["resourceVersion"]
        gone = client.get(f"/api/v1/namespaces/default/configmaps?resourceVersion={old}&resourceVersionMatch=Exact")
        assert gone.status_code == 410 and gone.json()["reason"] == "Expired"
        assert gone.json()["message"] == "The resourceVersion for the provided list is too old."
        stale = client.get(f"/api/v1/namespaces/default/configmaps?limit=2&continue={token}")
        assert stale.status_code == 410 and "continue parameter is too old" in stale.json()["message"]


def test_a_continue_token_that_is_not_ours_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        decode_continue("eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiIuLi9ldGMvIn0")  # start "../etc/"
    assert caught.value.code == 400
