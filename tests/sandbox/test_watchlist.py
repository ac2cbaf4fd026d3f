"""Watch-list streaming and bookmarks over HTTP, as current client-go (WatchListClient on) relies on them, and the
``ListOptions`` refusals of the upstream API server (``ValidateListOptions``: 422 ``Invalid`` with one cause per field,
400 for what does not decode). The protocol tests run on both clusters (``kube``): the real kube-apiserver v1.37 is
the reference the sandbox must answer like; knobs only the sandbox has (bookmark frequency, history length) are
tested on it alone."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes import watch as kube_watch

from hotfix_actions.sandbox import Sandbox
from tests.sandbox.conftest import Wire, operator_kubeconfig, wire
from tests.sandbox.helpers import service

CM = "/api/v1/namespaces/{ns}/configmaps"
MINE = "labelSelector=t%3D1"  # a real namespace also holds the kube-root-ca.crt ConfigMap of the controller-manager
WATCH_LIST = f"watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&{MINE}"
END = "k8s.io/initial-events-end"


def configmap(name: str, namespace: str = "default", value: str = "1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "data": {"v": value},
            "metadata": {"name": name, "namespace": namespace, "labels": {"t": "1"}}}  # fmt: skip


def stream(to: Wire | str, query: str, *, until: Any = None, timeout: float = 10.0,
           out: list[dict[str, Any]] | None = None, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The events of one watch (appended to ``out`` as they come), read until the server ends it or
    ``until(events)`` holds."""
    events: list[dict[str, Any]] = [] if out is None else out
    target = Wire(to) if isinstance(to, str) else to
    with target.client(timeout) as client, client.stream("GET", query, headers=headers or {}) as resp:
        assert resp.status_code == 200, resp.read()
        for line in resp.iter_lines():
            if line:
                events.append(json.loads(line))
                if until is not None and until(events):
                    break
    return events


@pytest.fixture
def on(kube: Any, tmp_path: Path) -> Wire:
    """HTTP to the cluster under test, as its operator."""
    return wire(operator_kubeconfig(kube, tmp_path))


@pytest.fixture
def http(on: Wire) -> Any:
    with on.client() as client:
        yield client


def _names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


def _rv(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def _list_rv(http: httpx.Client, ns: str) -> int:
    return int(http.get(CM.format(ns=ns)).json()["metadata"]["resourceVersion"])


def test_watch_list_sends_the_state_then_the_initial_events_end_bookmark_then_changes(kube: Any, on: Wire) -> None:
    stored = kube.apply(
        [configmap("b", kube.namespace), configmap("a", kube.namespace), configmap("c", kube.namespace)]
    )
    newest = max(_rv(o) for o in stored)
    events: list[dict[str, Any]] = []
    query = f"{CM.format(ns=kube.namespace)}?{WATCH_LIST}&timeoutSeconds=8"
    reader = threading.Thread(target=stream, args=(on, query),
                              kwargs={"until": lambda ev: len(ev) >= 5, "out": events})  # fmt: skip
    reader.start()
    kube.wait_for(lambda: len(events) >= 4, timeout=8)
    kube.apply(configmap("a", kube.namespace, value="2"))
    reader.join(timeout=10)
    assert _names(events[:3]) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
    mark = events[3]
    assert mark["type"] == "BOOKMARK"
    assert mark["object"]["kind"] == "ConfigMap" and mark["object"]["apiVersion"] == "v1"
    assert mark["object"]["metadata"]["annotations"] == {END: "true"}
    assert _rv(mark["object"]) >= newest
    assert events[4]["type"] == "MODIFIED" and events[4]["object"]["data"] == {"v": "2"}
    assert _rv(events[4]["object"]) > _rv(mark["object"])


def test_initial_events_without_bookmarks_allowed_have_no_end_marker(kube: Any, on: Wire) -> None:
    kube.apply([configmap("a", kube.namespace), configmap("b", kube.namespace)])
    query = f"watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1&{MINE}"
    events = stream(on, f"{CM.format(ns=kube.namespace)}?{query}")
    assert _names(events) == [("ADDED", "a"), ("ADDED", "b")]


def test_a_legacy_watch_from_nothing_is_a_watch_list_and_bookmarks_only_when_allowed(kube: Any, on: Wire) -> None:
    kube.apply(configmap("a", kube.namespace))
    plain = stream(on, f"{CM.format(ns=kube.namespace)}?watch=1&timeoutSeconds=1&{MINE}")
    assert _names(plain) == [("ADDED", "a")]
    marked = stream(on, f"{CM.format(ns=kube.namespace)}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1&{MINE}")
    # the state, then the initial-events-end bookmark; the real server may add a pre-timeout bookmark when the
    # 1 s deadline is already near (it did under load), which carries no annotation and no older version
    assert [e["type"] for e in marked[:2]] == ["ADDED", "BOOKMARK"]
    assert marked[1]["object"]["metadata"]["annotations"] == {END: "true"}
    later = marked[2:]
    assert all(e["type"] == "BOOKMARK" and END not in (e["object"]["metadata"].get("annotations") or {}) for e in later)
    assert all(_rv(e["object"]) >= _rv(marked[1]["object"]) for e in later)


def test_send_initial_events_false_starts_at_the_most_recent_state(kube: Any, on: Wire) -> None:
    kube.apply(configmap("old", kube.namespace))
    query = f"watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&timeoutSeconds=3&{MINE}"
    events: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: events.extend(
        stream(on, f"{CM.format(ns=kube.namespace)}?{query}", until=lambda ev: len(ev) >= 1)))  # fmt: skip
    reader.start()
    time.sleep(0.5)
    kube.apply(configmap("new", kube.namespace))
    reader.join(timeout=10)
    assert _names(events) == [("ADDED", "new")]


def test_watch_list_waits_for_a_resource_version_it_has_not_reached(kube: Any, on: Wire, http: httpx.Client) -> None:
    """A watch-list asked for a version the store has not reached does not answer from the stale state: its
    initial-events-end bookmark carries at least that version. On the sandbox nothing else writes, so the version is
    reached only by ``late`` and it comes before the bookmark; on the real API server other writers (leases, kwok)
    share the global revision and may reach it first, so ``late`` comes before the bookmark exactly when its version
    is not newer than the bookmark's."""
    ahead = _list_rv(http, kube.namespace) + 1
    query = f"{WATCH_LIST}&resourceVersion={ahead}&timeoutSeconds=5"
    timer = threading.Timer(0.5, lambda: kube.apply(configmap("late", kube.namespace)))
    timer.start()
    try:
        events = stream(on, f"{CM.format(ns=kube.namespace)}?{query}",
                        until=lambda ev: ("BOOKMARK", "") in _names(ev) and ("ADDED", "late") in _names(ev))  # fmt: skip
    finally:
        timer.join()
    names = _names(events)
    mark, late = names.index(("BOOKMARK", "")), names.index(("ADDED", "late"))
    assert _rv(events[mark]["object"]) >= ahead  # not answered from the state before ``ahead``
    assert (late < mark) == (_rv(events[late]["object"]) <= _rv(events[mark]["object"])), names
    assert events[mark]["object"]["metadata"]["annotations"] == {END: "true"}  # the first bookmark ends the state
    assert [n for n in names if n[0] != "BOOKMARK"] == [("ADDED", "late")]  # the namespace holds only ``late``
    if kube.kind == "sandbox":
        assert names == [("ADDED", "late"), ("BOOKMARK", "")]


def test_periodic_bookmarks_carry_the_types_newest_version_once_there_is_one(sandbox: Sandbox) -> None:
    sandbox.settings.bookmark_every = 0.3
    rv = sandbox.store.resource_version
    query = f"watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=5"  # bookmarks until 3 s
    threading.Timer(1.0, lambda: sandbox.apply(configmap("x"))).start()
    threading.Timer(1.2, lambda: sandbox.apply(service())).start()  # another type: not this watch's version
    start = time.monotonic()
    timed: list[tuple[float, dict[str, Any]]] = []
    stream(sandbox.url, f"{CM.format(ns='default')}?{query}",
           until=lambda ev: bool(timed.append((time.monotonic() - start, ev[-1]))))  # fmt: skip
    events = [e for _, e in timed]
    assert [e["type"] for e in events[:1]] == ["ADDED"] and timed[0][0] >= 0.9  # nothing before the change
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    added = _rv(events[0]["object"])
    assert len(marks) >= 3 and all(_rv(m["object"]) == added for m in marks)  # the ConfigMaps' newest version
    assert all("annotations" not in m["object"]["metadata"] for m in marks)
    without = stream(sandbox.url, f"{CM.format(ns='default')}?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    assert [e["type"] for e in without] == ["ADDED"]


def test_a_bookmark_comes_before_the_watch_times_out_once_something_changed(kube: Any, on: Wire,
                                                                            http: httpx.Client) -> None:  # fmt: skip
    rv = _list_rv(http, kube.namespace)
    query = f"{CM.format(ns=kube.namespace)}?watch=true&resourceVersion={rv}&allowWatchBookmarks=true&{MINE}"
    idle = stream(on, f"{query}&timeoutSeconds=3")
    assert idle == []  # an idle watch gets no bookmark
    # the change comes once the watch is live (a change the server already has when the watch starts is part of
    # its backlog, not "something changed" while it ran: under a loaded CI the request took over 0.3 s to start)
    threading.Timer(1.2, lambda: kube.apply(configmap("x", kube.namespace))).start()
    start = time.monotonic()
    timed: list[tuple[float, dict[str, Any]]] = []
    stream(on, f"{query}&timeoutSeconds=4", until=lambda ev: bool(timed.append((time.monotonic() - start, ev[-1]))))
    assert [e["type"] for _, e in timed][:2] == ["ADDED", "BOOKMARK"]
    added = _rv(timed[0][1]["object"])
    assert all(_rv(e["object"]) == added for _, e in timed[1:] if e["type"] == "BOOKMARK")
    assert 1.0 <= timed[1][0] <= 3.5  # about 2 s before the 4 s timeout, not at once


def test_a_watch_asked_for_tables_sends_one_row_tables_with_the_columns_once(kube: Any, on: Wire) -> None:
    (first_cm,) = kube.apply(configmap("a", kube.namespace))
    rv = _rv(first_cm)
    threading.Timer(0.3, lambda: [kube.apply(configmap(n, kube.namespace)) for n in ("b", "c")]).start()
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    with on.client() as client, client.stream(
        "GET", f"{CM.format(ns=kube.namespace)}?watch=true&resourceVersion={rv}&timeoutSeconds=2&{MINE}",
        headers={"Accept": accept},
    ) as resp:  # fmt: skip
        assert resp.headers["content-type"] == "application/json"  # the events are Tables, the stream is JSON
        events = [json.loads(line) for line in resp.iter_lines() if line]
    assert [(e["type"], e["object"]["kind"]) for e in events] == [("ADDED", "Table"), ("ADDED", "Table")]
    first, second = (e["object"] for e in events)
    assert [c["name"] for c in first["columnDefinitions"]][:1] == ["Name"] and second["columnDefinitions"] is None
    assert [r["cells"][0] for r in (*first["rows"], *second["rows"])] == ["b", "c"]
    assert first["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_a_watch_from_before_the_kept_history_is_410_expired_and_a_client_relists(sandbox: Sandbox) -> None:
    """The watch cache keeps a bounded history per type; a client that hits its end must relist, as on a cluster."""
    sandbox.store.history_min, sandbox.store.history_fresh = 2, 0.0
    old = sandbox.store.resource_version
    for i in range(5):
        sandbox.apply(configmap("a", value=str(i)))
    floor = sandbox.store.history_floor("/configmaps")
    assert old < floor < sandbox.store.resource_version
    (event,) = stream(sandbox.url, f"{CM.format(ns='default')}?watch=true&resourceVersion={old}&timeoutSeconds=2")
    assert event["type"] == "ERROR" and event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"
    assert event["object"]["message"] == f"too old resource version: {old} ({floor})"
    kept = stream(sandbox.url, f"{CM.format(ns='default')}?watch=true&resourceVersion={floor}&timeoutSeconds=1")
    assert [e["object"]["data"]["v"] for e in kept] == ["3", "4"]
    api_client = kube_config.new_client_from_config(config_file=str(sandbox.kubeconfig_path))
    try:
        core = kube_client.CoreV1Api(api_client)
        with pytest.raises(kube_client.ApiException) as gone:
            list(kube_watch.Watch().stream(core.list_namespaced_config_map, "default", resource_version=str(old),
                                           timeout_seconds=2))  # fmt: skip
        assert gone.value.status == 410
        relisted = core.list_namespaced_config_map("default")  # the way on: a fresh list, then watch from it
        (item,) = relisted.items
        assert item.data == {"v": "4"} and int(relisted.metadata.resource_version) >= floor
    finally:
        api_client.close()


# -- ListOptions as upstream refuses them ----------------------------------------------------------------------------

_FORBIDDEN, _UNSUPPORTED = "FieldValueForbidden", "FieldValueNotSupported"
REFUSED = [
    ("resourceVersionMatch=NotOlderThan",
     [(_FORBIDDEN, "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")]),
    ("resourceVersionMatch=Exact&resourceVersion=0",
     [(_FORBIDDEN, 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"')]),
    ("resourceVersionMatch=Sometimes&resourceVersion=5",
     [(_UNSUPPORTED, 'Unsupported value: "Sometimes": supported values: "Exact", "NotOlderThan", ""')]),
    ("resourceVersionMatch=NotOlderThan&resourceVersion=1&continue=abc",
     [(_FORBIDDEN, "Forbidden: resourceVersionMatch is forbidden when continue is provided")]),
    ("sendInitialEvents=true", [(_FORBIDDEN, "Forbidden: sendInitialEvents is forbidden for list")]),
    ("sendInitialEvents=false", [(_FORBIDDEN, "Forbidden: sendInitialEvents is forbidden for list")]),
    ("watch=true&sendInitialEvents=true",
     [(_FORBIDDEN, "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")]),
    ("watch=true&resourceVersionMatch=NotOlderThan",
     [(_FORBIDDEN, "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")]),
    ("watch=true&sendInitialEvents=true&resourceVersionMatch=Exact",
     [(_FORBIDDEN, "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
      (_UNSUPPORTED, 'Unsupported value: "Exact": supported values: "NotOlderThan"')]),
    ("watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&continue=x",
     [(_FORBIDDEN, "Forbidden: resourceVersionMatch is forbidden when continue is provided")]),
]  # fmt: skip


@pytest.mark.parametrize(("query", "causes"), REFUSED, ids=[q for q, _ in REFUSED])
def test_list_options_upstream_refuses_are_422_invalid(kube: Any, http: httpx.Client, query: str,
                                                       causes: list[Any]) -> None:  # fmt: skip
    resp = http.get(f"{CM.format(ns=kube.namespace)}?{query}&timeoutSeconds=1")
    assert resp.status_code == 422
    body = resp.json()
    assert (body["kind"], body["status"], body["reason"], body["code"]) == ("Status", "Failure", "Invalid", 422)
    assert body["details"]["group"] == "meta.k8s.io" and body["details"]["kind"] == "ListOptions"
    got = [(c["reason"], c["message"]) for c in body["details"]["causes"]]
    assert got == causes
    assert body["message"].startswith('ListOptions.meta.k8s.io "" is invalid: ')
    assert all(f"{c['field']}: {c['message']}" in body["message"] for c in body["details"]["causes"])


ACCEPTED = [
    "resourceVersionMatch=NotOlderThan&resourceVersion=0",
    "resourceVersionMatch=Exact&resourceVersion={rv}",
    "resourceVersion={rv}&limit=1",
    "watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion={rv}&timeoutSeconds=1",
    "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    "watch=true&resourceVersion={rv}&timeoutSeconds=1",
    "watch=&timeoutSeconds=1",  # an empty value is true, as upstream decodes bools
]


@pytest.mark.parametrize("query", ACCEPTED)
def test_list_options_upstream_accepts(kube: Any, http: httpx.Client, query: str) -> None:
    rv = _list_rv(http, kube.namespace)
    assert http.get(f"{CM.format(ns=kube.namespace)}?{query.format(rv=rv)}").status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("timeoutSeconds=abc&watch=true", 'strconv.ParseInt: parsing "abc": invalid syntax'),
        ("limit=1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
        ("resourceVersion=abc", 'invalid resource version: resourceVersion: Invalid value: "abc"'),
        ("continue=%21%21", "invalid continue token: continue key is not valid: illegal base64 data at input byte 0"),
        ("continue=e30&resourceVersion=5", "continue key is not valid: server does not recognize this encoded version"),
        ("labelSelector=a%3D%3D%3Db", "unable to parse requirement"),
    ],
)
def test_what_does_not_decode_is_400(kube: Any, http: httpx.Client, query: str, message: str) -> None:
    resp = http.get(f"{CM.format(ns=kube.namespace)}?{query}")
    assert resp.status_code == 400 and resp.json()["reason"] == "BadRequest"
    assert message in resp.json()["message"]


def test_a_watch_from_an_unparsable_resource_version_is_a_500_without_reason(kube: Any, http: httpx.Client) -> None:
    resp = http.get(f"{CM.format(ns=kube.namespace)}?watch=true&resourceVersion=-1&timeoutSeconds=1")
    assert resp.status_code == 500 and "reason" not in resp.json()
    assert (
        resp.json()["message"]
        == 'resourceVersion: Invalid value: "-1": strconv.ParseUint: parsing "-1": invalid syntax'
    )


def test_pages_and_a_continue_token_with_a_resource_version(kube: Any, http: httpx.Client) -> None:
    kube.apply([configmap(n, kube.namespace) for n in ("a", "b", "c")])
    first = http.get(f"{CM.format(ns=kube.namespace)}?limit=2&{MINE}").json()
    token = first["metadata"]["continue"]
    assert [o["metadata"]["name"] for o in first["items"]] == ["a", "b"] and "remainingItemCount" not in first[
        "metadata"
    ]
    kube.apply(configmap("0-new", kube.namespace))  # after the first page: not in this list
    rest = http.get(f"{CM.format(ns=kube.namespace)}?limit=2&{MINE}&continue={token}").json()
    assert [o["metadata"]["name"] for o in rest["items"]] == ["c"] and "continue" not in rest["metadata"]
    assert rest["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    both = http.get(f"{CM.format(ns=kube.namespace)}?limit=1&{MINE}&continue={token}&resourceVersion=5")
    assert both.status_code == 400
    assert both.json()["message"] == "specifying resource version is not allowed when using continue"


def test_a_resource_version_not_reached_in_three_seconds_is_504_too_large(kube: Any, http: httpx.Client) -> None:
    current = _list_rv(http, kube.namespace)
    ahead = current + 100000
    start = time.monotonic()
    resp = http.get(f"{CM.format(ns=kube.namespace)}?resourceVersion={ahead}&resourceVersionMatch=NotOlderThan")
    assert 2.9 <= time.monotonic() - start < 6
    body = resp.json()
    assert resp.status_code == 504 and body["reason"] == "Timeout"
    assert body["message"].startswith(f"Timeout: Too large resource version: {ahead}, current: ")
    assert body["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"
    assert body["details"]["retryAfterSeconds"] == 1


# -- racing writers: what a watch-list delivers replays to the store's state -----------------------------------------


def _writer(sandbox: Sandbox, seed: int, n: int) -> None:
    rng = random.Random(seed)
    res = "v1"
    for i in range(n):
        name = f"cm-{rng.randrange(6)}"
        if rng.random() < 0.25:
            sandbox.delete(res, "configmaps", "default", name)
        else:
            sandbox.apply(configmap(name, value=str(i)))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), before=st.integers(0, 20), during=st.integers(1, 40))
def test_a_watch_list_replays_to_the_state_while_writers_race(sandbox: Sandbox, seed: int, before: int,
                                                              during: int) -> None:  # fmt: skip
    for name in [o["metadata"]["name"] for o in sandbox.list("v1", "configmaps", "default")]:
        sandbox.delete("v1", "configmaps", "default", name)
    _writer(sandbox, seed, before)
    writer = threading.Thread(target=_writer, args=(sandbox, seed + 1, during))
    events: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: events.extend(
        stream(sandbox.url, f"{CM.format(ns='default')}?{WATCH_LIST}&timeoutSeconds=2")))  # fmt: skip
    reader.start()
    writer.start()
    writer.join(timeout=30)
    reader.join(timeout=30)
    marks = [i for i, e in enumerate(events) if e["type"] == "BOOKMARK" and END in
             (e["object"]["metadata"].get("annotations") or {})]  # fmt: skip
    assert len(marks) == 1 and all(e["type"] == "ADDED" for e in events[: marks[0]])
    start = int(events[marks[0]]["object"]["metadata"]["resourceVersion"])
    initial = [int(e["object"]["metadata"]["resourceVersion"]) for e in events[: marks[0]]]
    later = [int(e["object"]["metadata"]["resourceVersion"]) for e in events[marks[0] + 1 :]]
    assert all(rv <= start for rv in initial) and later == sorted(set(later)) and all(rv > start for rv in later)
    state: dict[str, dict[str, Any]] = {}
    for event in events:
        name = event["object"]["metadata"].get("name")
        if event["type"] in {"ADDED", "MODIFIED"}:
            state[name] = event["object"]
        elif event["type"] == "DELETED":
            state.pop(name, None)
    final = {o["metadata"]["name"]: o for o in sandbox.list("v1", "configmaps", "default")}
    assert state == final
