"""Label selectors (query syntax and LabelSelector objects) and field selectors."""

from __future__ import annotations

from typing import Any

import pytest

from hotfix_actions.sandbox.selectors import field_matcher, label_matcher, object_selector_matcher, selector_string
from hotfix_actions.sandbox.status import ApiError


def _obj(**labels: str) -> dict[str, Any]:
    return {"metadata": {"name": "web-1", "namespace": "prod", "labels": labels}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "web"}, True),
        ("app=web", {"app": "api"}, False),
        ("app!=web", {"app": "api"}, True),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("app in (web,api)", {"app": "api"}, True),
        ("app in (web, api)", {"app": "db"}, False),
        ("app in (web)", {}, False),
        ("app notin (web,api)", {"app": "db"}, True),
        ("app notin (web,api)", {}, True),
        ("app notin (web,api)", {"app": "web"}, False),
        ("color", {"color": "blue"}, True),
        ("color", {}, False),
        ("!color", {}, True),
        ("!color", {"color": "green"}, False),
        ("app=web,color in (blue,green),!canary", {"app": "web", "color": "green"}, True),
        ("app=web,color in (blue,green),!canary", {"app": "web", "color": "green", "canary": "1"}, False),
        ("tier=", {"tier": ""}, True),
        ("example.com/team=sre", {"example.com/team": "sre"}, True),
        ("", {"anything": "x"}, True),
    ],
)
def test_label_selector(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert label_matcher(selector)(_obj(**labels)) is matches


@pytest.mark.parametrize("bad", ["app=we b", "app in (x", "-app=web", "app=" + "x" * 64])
def test_bad_label_selector_is_a_400(bad: str) -> None:
    with pytest.raises(ApiError) as caught:
        label_matcher(bad)
    assert caught.value.code == 400


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ({"matchLabels": {"app": "web"}}, {"app": "web", "pod-template-hash": "x"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "api"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]}, {"tier": "b"}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {"tier": "a"}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {"tier": "z"}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {"tier": "z"}, False),
        ({}, {"app": "web"}, False),
        (None, {"app": "web"}, False),
    ],
)
def test_label_selector_objects(selector: dict[str, Any] | None, labels: dict[str, str], matches: bool) -> None:
    assert object_selector_matcher(selector)(labels) is matches


def test_selector_string_is_what_scale_reports() -> None:
    selector = {"matchLabels": {"tier": "fe", "app": "web"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                     {"key": "canary", "operator": "DoesNotExist"}]}  # fmt: skip
    assert selector_string(selector) == "app=web,tier=fe,env in (dev,prod),!canary"


@pytest.mark.parametrize(
    ("selector", "plural", "matches"),
    [
        ("metadata.name=web-1", "pods", True),
        ("metadata.name==web-1", "pods", True),
        ("metadata.name=web-2", "pods", False),
        ("metadata.name!=web-2", "pods", True),
        ("metadata.namespace=prod", "deployments", True),
        ("status.phase=Running", "pods", True),
        ("status.phase!=Running", "pods", False),
        ("metadata.name=web-1,status.phase=Pending", "pods", False),
    ],
)
def test_field_selector(selector: str, plural: str, matches: bool) -> None:
    assert field_matcher(selector, plural)(_obj()) is matches


def test_unsupported_field_is_a_400_naming_it() -> None:
    with pytest.raises(ApiError) as caught:
        field_matcher("spec.replicas=3", "deployments")
    assert caught.value.code == 400
    assert 'field label not supported: "spec.replicas"' in caught.value.message
