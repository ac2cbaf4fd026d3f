"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386)."""

from __future__ import annotations

from typing import Any

import pytest

from hotfix_actions.sandbox.patch import PatchError, json_patch, merge_patch

DOC = {"metadata": {"name": "web", "labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}, {"port": 443}]}}


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([{"op": "replace", "path": "/spec/ports/0/port", "value": 81}],
         {"metadata": DOC["metadata"], "spec": {"ports": [{"port": 81}, {"port": 443}]}}),
        ([{"op": "add", "path": "/metadata/labels/b", "value": "2"}],
         {"metadata": {"name": "web", "labels": {"a": "1", "b": "2"}}, "spec": DOC["spec"]}),
        ([{"op": "add", "path": "/spec/ports/-", "value": {"port": 8080}}],
         {"metadata": DOC["metadata"], "spec": {"ports": [{"port": 80}, {"port": 443}, {"port": 8080}]}}),
        ([{"op": "add", "path": "/spec/ports/0", "value": {"port": 1}}],
         {"metadata": DOC["metadata"], "spec": {"ports": [{"port": 1}, {"port": 80}, {"port": 443}]}}),
        ([{"op": "remove", "path": "/spec/ports/1"}], {"metadata": DOC["metadata"], "spec": {"ports": [{"port": 80}]}}),
        ([{"op": "move", "from": "/metadata/labels", "path": "/spec/labels"}],
         {"metadata": {"name": "web"}, "spec": {"ports": DOC["spec"]["ports"], "labels": {"a": "1"}}}),
        ([{"op": "copy", "from": "/metadata/name", "path": "/spec/name"}],
         {"metadata": DOC["metadata"], "spec": {"ports": DOC["spec"]["ports"], "name": "web"}}),
        ([{"op": "test", "path": "/metadata/name", "value": "web"}, {"op": "remove", "path": "/metadata/labels/a"}],
         {"metadata": {"name": "web", "labels": {}}, "spec": DOC["spec"]}),
        ([{"op": "add", "path": "/metadata/labels/a~1b", "value": "x"}],
         {"metadata": {"name": "web", "labels": {"a": "1", "a/b": "x"}}, "spec": DOC["spec"]}),
    ],
)  # fmt: skip
def test_json_patch_operations(ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert json_patch(DOC, ops) == expected


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ([{"op": "replace", "path": "/metadata/missing", "value": 1}], 422),
        ([{"op": "remove", "path": "/spec/ports/5"}], 422),
        ([{"op": "test", "path": "/metadata/name", "value": "api"}], 422),
        ([{"op": "add", "path": "/nope/deeper", "value": 1}], 422),
        ([{"op": "frobnicate", "path": "/a"}], 400),
        ({"op": "add"}, 400),
        ([{"op": "add", "path": "/a"}], 400),
    ],
)
def test_json_patch_errors_carry_the_api_status(ops: Any, code: int) -> None:
    with pytest.raises(PatchError) as caught:
        json_patch(DOC, ops)
    assert caught.value.code == code


def test_json_patch_does_not_mutate_its_input() -> None:
    before = repr(DOC)
    json_patch(DOC, [{"op": "remove", "path": "/metadata/labels"}])
    assert repr(DOC) == before


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": 1, "b": {"c": 2, "d": 3}}, {"b": {"c": None, "e": 4}}, {"a": 1, "b": {"d": 3, "e": 4}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": 1}, {"a": None, "b": None}, {}),
        ({"a": "x"}, {"a": {"b": 1}}, {"a": {"b": 1}}),
        ({"a": {"b": 1}}, {"a": 2}, {"a": 2}),
        ({"spec": {"replicas": 2}}, {"spec": {"replicas": 5}}, {"spec": {"replicas": 5}}),
    ],
)
def test_merge_patch_rfc7386(target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]) -> None:
    assert merge_patch(target, patch) == expected
