"""Watch-list streaming and bookmarks over HTTP, as current client-go (WatchListClient on) relies on them, and the
``ListOptions`` refusals of the upstream API server (``ValidateListOptions``: 422 ``Invalid`` with one cause per field,
400 for what does not decode)."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from kubernetes import watch as kube_watch

from hotfix_actions.sandbox import Sandbox

CM = "/api/v1/namespaces/{ns}/configmaps"
WATCH_LIST = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true"
END = "k8s.io/initial-events-end"


def configmap(name: str, namespace: str = "default", value: str = "1") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"v": value}}  # fmt: skip


def stream(url: str, query: str, *, until: Any = None, timeout: float = 10.0,
           out: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """The events of one watch (appended to ``out`` as they come), read until the server ends it or
    ``until(events)`` holds."""
    events: list[dict[str, Any]] = [] if out is None else out
    with httpx.Client(base_url=url, timeout=timeout) as client, client.stream("GET", query) as resp:
        assert resp.status_code == 200, resp.read()
        for line in resp.iter_lines():
            if line:
                events.append(json.loads(line))
                if until is not None and until(events):
                    break
    return events


@pytest.fixture
def http(sandbox: Sandbox) -> Any:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def _names(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


def test_watch_list_sends_the_state_then_the_initial_events_end_bookmark_then_changes(sandbox: Sandbox) -> None:
    sandbox.apply([configmap("b"), configmap("a"), configmap("c"), configmap("other", "kube-system")])
    rv = sandbox.store.resource_version
    events: list[dict[str, Any]] = []

    query = f"{CM.format(ns='default')}?{WATCH_LIST}&timeoutSeconds=5"
    reader = threading.Thread(target=stream, args=(sandbox.url, query),
                              kwargs={"until": lambda ev: len(ev) >= 5, "out": events})  # fmt: skip
    reader.start()
    sandbox.wait_for(lambda: len(events) >= 4, timeout=5)
    sandbox.apply(configmap("a", value="2"))
    reader.join(timeout=10)
    assert _names(events[:3]) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
    mark = events[3]
    assert mark["type"] == "BOOKMARK"
    assert mark["object"]["kind"] == "ConfigMap" and mark["object"]["apiVersion"] == "v1"
    assert mark["object"]["metadata"]["annotations"] == {END: "true"}
    assert mark["object"]["metadata"]["resourceVersion"] == str(rv)
    assert events[4]["type"] == "MODIFIED" and events[4]["object"]["data"] == {"v": "2"}
    assert int(events[4]["object"]["metadata"]["resourceVersion"]) > rv


def test_initial_events_without_bookmarks_allowed_have_no_end_marker(sandbox: Sandbox) -> None:
    sandbox.apply([configmap("a"), configmap("b")])
    query = "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1"
    events = stream(sandbox.url, f"{CM.format(ns='default')}?{query}")
    assert _names(events) == [("ADDED", "a"), ("ADDED", "b")]


def test_a_legacy_watch_from_nothing_is_a_watch_list_and_bookmarks_only_when_allowed(sandbox: Sandbox) -> None:
    sandbox.apply(configmap("a"))
    plain = stream(sandbox.url, f"{CM.format(ns='default')}?watch=1&timeoutSeconds=1")
    assert _names(plain) == [("ADDED", "a")]
    marked = stream(sandbox.url, f"{CM.format(ns='default')}?watch=true&allowWatchBookmarks=true&timeoutSeconds=1")
    assert [e["type"] for e in marked] == ["ADDED", "BOOKMARK"]
    assert marked[1]["object"]["metadata"]["annotations"] == {END: "true"}


def test_send_initial_events_false_starts_at_the_most_recent_state(sandbox: Sandbox) -> None:
    sandbox.apply(configmap("old"))
    query = "watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&timeoutSeconds=2"
    events: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: events.extend(
        stream(sandbox.url, f"{CM.format(ns='default')}?{query}", until=lambda ev: len(ev) >= 1)))  # fmt: skip
    reader.start()
    time.sleep(0.3)
    sandbox.apply(configmap("new"))
    reader.join(timeout=10)
    assert _names(events) == [("ADDED", "new")]


def test_watch_list_waits_for_a_resource_version_it_has_not_reached(sandbox: Sandbox) -> None:
    ahead = sandbox.store.resource_version + 1
    query = f"{WATCH_LIST}&resourceVersion={ahead}&timeoutSeconds=5"
    threading.Timer(0.5, lambda: sandbox.apply(configmap("late"))).start()
    events = stream(sandbox.url, f"{CM.format(ns='default')}?{query}", until=lambda ev: ev[-1]["type"] == "BOOKMARK")
    assert _names(events) == [("ADDED", "late"), ("BOOKMARK", "")]
    assert int(events[-1]["object"]["metadata"]["resourceVersion"]) >= ahead


def test_periodic_bookmarks_carry_the_current_resource_version(sandbox: Sandbox) -> None:
    sandbox.settings.bookmark_every = 0.3
    rv = sandbox.store.resource_version
    query = f"watch=true&resourceVersion={rv}&allowWatchBookmarks=true&timeoutSeconds=3"
    threading.Timer(0.4, lambda: sandbox.apply(configmap("x"))).start()
    events = stream(sandbox.url, f"{CM.format(ns='default')}?{query}")
    marks = [e for e in events if e["type"] == "BOOKMARK"]
    assert len(marks) >= 3 and all("annotations" not in m["object"]["metadata"] for m in marks)
    assert int(marks[-1]["object"]["metadata"]["resourceVersion"]) == sandbox.store.resource_version
    versions = [int(m["object"]["metadata"]["resourceVersion"]) for m in marks]
    assert versions == sorted(versions) and versions[0] >= rv
    without = stream(sandbox.url, f"{CM.format(ns='default')}?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    assert [e["type"] for e in without] == ["ADDED"]


def test_a_bookmark_comes_two_seconds_before_the_watch_times_out(sandbox: Sandbox) -> None:
    rv = sandbox.store.resource_version
    start = time.monotonic()
    events = stream(sandbox.url, f"{CM.format(ns='default')}?watch=true&resourceVersion={rv}"
                                 "&allowWatchBookmarks=true&timeoutSeconds=3", until=lambda ev: True)  # fmt: skip
    assert [e["type"] for e in events] == ["BOOKMARK"]
    assert 0.8 <= time.monotonic() - start < 2.5


def test_a_watch_asked_for_tables_sends_one_row_tables_with_the_columns_once(sandbox: Sandbox) -> None:
    sandbox.apply(configmap("a"))
    rv = sandbox.store.resource_version
    threading.Timer(0.3, lambda: [sandbox.apply(configmap(n)) for n in ("b", "c")]).start()
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    with (
        httpx.Client(base_url=sandbox.url, timeout=10) as client,
        client.stream(
            "GET",
            f"{CM.format(ns='default')}?watch=true&resourceVersion={rv}&timeoutSeconds=1",
            headers={"Accept": accept},
        ) as resp,
    ):
        assert resp.headers["content-type"] == "application/json;as=Table;v=v1;g=meta.k8s.io"
        events = [json.loads(line) for line in resp.iter_lines() if line]
    assert [(e["type"], e["object"]["kind"]) for e in events] == [("ADDED", "Table"), ("ADDED", "Table")]
    first, second = (e["object"] for e in events)
    assert [c["name"] for c in first["columnDefinitions"]][:1] == ["Name"] and second["columnDefinitions"] == []
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
def test_list_options_upstream_refuses_are_422_invalid(http: httpx.Client, query: str, causes: list[Any]) -> None:
    resp = http.get(f"{CM.format(ns='default')}?{query}&timeoutSeconds=1")
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
    "resourceVersionMatch=Exact&resourceVersion=1",
    "resourceVersion=1&limit=1",
    "watch=true&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion=1&timeoutSeconds=1",
    "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    "watch=true&resourceVersion=1&timeoutSeconds=1",
    "watch=&timeoutSeconds=1",  # an empty value is true, as upstream decodes bools
]


@pytest.mark.parametrize("query", ACCEPTED)
def test_list_options_upstream_accepts(http: httpx.Client, query: str) -> None:
    assert http.get(f"{CM.format(ns='default')}?{query}").status_code == 200


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("timeoutSeconds=abc&watch=true", 'strconv.ParseInt: parsing "abc": invalid syntax'),
        ("limit=1.5", 'strconv.ParseInt: parsing "1.5": invalid syntax'),
        ("resourceVersion=abc", 'invalid resource version: resourceVersion: Invalid value: "abc"'),
        ("watch=true&resourceVersion=-1", 'invalid resource version: resourceVersion: Invalid value: "-1"'),
        ("continue=%21%21", "invalid continue token"),
        ("continue=e30&resourceVersion=5", "specifying resource version is not allowed when using continue"),
        ("labelSelector=a%3D%3D%3Db", "unable to parse requirement"),
    ],
)
def test_what_does_not_decode_is_400(http: httpx.Client, query: str, message: str) -> None:
    resp = http.get(f"{CM.format(ns='default')}?{query}")
    assert resp.status_code == 400 and resp.json()["reason"] == "BadRequest"
    assert message in resp.json()["message"]


def test_a_resource_version_not_reached_in_three_seconds_is_504_too_large(http: httpx.Client, sandbox: Sandbox) -> None:
    ahead = sandbox.store.resource_version + 100
    start = time.monotonic()
    resp = http.get(f"{CM.format(ns='default')}?resourceVersion={ahead}&resourceVersionMatch=NotOlderThan")
    assert 2.9 <= time.monotonic() - start < 6
    body = resp.json()
    assert resp.status_code == 504 and body["reason"] == "Timeout"
    assert body["message"] == f"Too large resource version: {ahead}, current: {sandbox.store.resource_version}"
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
