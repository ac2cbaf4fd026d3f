"""One duration parser for `.hotfix.yml` and the command line; the JSON Schemas accept exactly its forms."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotfix_actions.config import SECTIONS, load, schema
from hotfix_actions.decide.durations import (
    MAX_LENGTH,
    SCHEMA_PATTERN,
    Bounds,
    DurationError,
    format_duration,
    parse_duration,
)
from hotfix_actions.errors import ConfigError

SCHEMAS = Path(__file__).resolve().parents[2] / "src" / "hotfix_actions" / "config" / "schemas"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        ("90", 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("1.5m", 90.0),
        ("2.5", 2.5),
        (2.5, 2.5),
        ("500ms", 0.5),
        ("1h0m5s", 3605.0),
        ("0", 0.0),
        ("0s", 0.0),
    ],
)
def test_the_forms_it_takes(value: str | float, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "words", "example"),
    [
        ("5min", "write the unit 'min' as m", "5m"),
        ("30m1h", "each unit at most once, largest first", "1h30m"),
        ("5m30", "the last number, 30, has no unit", "5m30s"),
        ("-5m", "is negative", "5m"),
        ("5 m", "a space at position 2", "5m"),
        ("1d", "days", "24h"),
        ("10x", "'x' is not a unit", "90, 90s, 5m or 1h30m"),
        ("", "it is empty", "90, 90s, 5m or 1h30m"),
        ("1.5.3s", "'1.5.3' is not a number", "90, 90s, 5m or 1h30m"),
        ("inf", "no number before it", "90, 90s, 5m or 1h30m"),
        ("2 hours", "a space at position 2", "2h"),
        (True, "true or false", "90, 90s, 5m or 1h30m"),
        (float("nan"), "not a finite number", "90, 90s, 5m or 1h30m"),
        (-3, "is negative", "3s"),
    ],
)
def test_a_bad_duration_says_what_is_wrong_and_the_corrected_form(value: Any, words: str, example: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(value)
    assert words in info.value.problem
    assert info.value.example == example
    assert f"(e.g. {example})" in str(info.value)


@pytest.mark.parametrize(
    ("value", "bounds", "words", "example"),
    [
        ("0s", Bounds(above=True), "must be more than 0", "1s"),
        ("3h", Bounds(maximum=7200), "more than the 2h allowed", "2h"),
        ("1.5s", Bounds(whole=True), "whole number of seconds", "2s"),
        ("2s", Bounds(minimum=5), "at least 5s", "5s"),
    ],
)
def test_bounds_are_said_in_durations(value: str, bounds: Bounds, words: str, example: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(value, bounds)
    assert words in info.value.problem and info.value.example == example


@given(st.integers(min_value=0, max_value=10**9))
def test_format_reads_back(millis: int) -> None:
    seconds = millis / 1000
    text = format_duration(seconds)
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-9)
    assert re.fullmatch(SCHEMA_PATTERN, text)


def _editor_accepts(text: str) -> bool:
    """What an editor checks on a string duration: the schema's pattern and length, nothing of ours."""
    return 1 <= len(text) <= MAX_LENGTH and re.fullmatch(SCHEMA_PATTERN, text) is not None


def _parser_accepts(text: str) -> bool:
    """The form is right (a well-formed value beyond the longest wait is a bound, which editors cannot check)."""
    try:
        parse_duration(text)
    except DurationError as exc:
        return exc.out_of_bounds
    return True


@settings(max_examples=3000)
@given(st.text(alphabet="0123456789.hms mdxHS-+", max_size=14))
def test_schema_pattern_and_parser_accept_the_same_strings(text: str) -> None:
    assert _editor_accepts(text) == _parser_accepts(text), text


def duration_fields(node: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(path, property schema) of every duration key of `.hotfix.yml`; '*' is an item of a list."""
    if node is None:
        node = schema()
    if isinstance(node, dict):
        if "x-duration" in node:
            yield path, node
            return
        for key, sub in (node.get("properties") or {}).items():
            yield from duration_fields(sub, (*path, key))
        if isinstance(node.get("items"), dict):
            yield from duration_fields(node["items"], (*path, "*"))


FIELDS = list(duration_fields())
DURATION_WORDS = ("timeout", "seconds", "interval", "duration", "deadline", "fail_fast_after", "backoff")


def test_every_duration_key_takes_durations() -> None:
    """No key that holds a time is left taking only numbers (the `rollback.wait_timeout: 5m` report)."""
    found = {p for p, _ in FIELDS}
    assert len(found) >= 25
    for section in SECTIONS:
        doc = json.loads((SCHEMAS / f"{section}.json").read_text())

        def walk(node: Any, path: tuple[str, ...]) -> None:
            if not isinstance(node, dict):
                return
            for key, sub in (node.get("properties") or {}).items():
                here = (*path, key)
                numeric = isinstance(sub, dict) and {"number", "integer"} & set(
                    sub.get("type") if isinstance(sub.get("type"), list) else [sub.get("type")]
                )
                if numeric and any(w in key for w in DURATION_WORDS) and key != "retries":
                    assert here in found, f"{'.'.join(here)} holds a time but takes only numbers"
                walk(sub, here)
            if isinstance(node.get("items"), dict):
                walk(node["items"], (*path, "*"))

        walk(doc, (section,))


@pytest.mark.parametrize(("path", "prop"), FIELDS, ids=[".".join(p) for p, _ in FIELDS])
def test_schema_numbers_and_the_parser_bounds_agree(path: tuple[str, ...], prop: dict[str, Any]) -> None:
    spec = prop["x-duration"]
    assert prop["pattern"] == SCHEMA_PATTERN and prop["maxLength"] == MAX_LENGTH and prop["minLength"] == 1
    if spec.get("above"):
        assert prop["exclusiveMinimum"] == spec["minimum"] and "minimum" not in prop
    else:
        assert prop["minimum"] == spec["minimum"] and "exclusiveMinimum" not in prop
    assert prop.get("maximum") == spec.get("maximum")
    assert ("integer" in prop["type"]) == bool(spec.get("whole"))
    assert "90s, 5m, 1h30m" in prop["description"]


# the keys a list item requires, by list name
_LIST_ITEM: dict[str, dict[str, Any]] = {
    "health_checks": {"url": "http://127.0.0.1:9/health"},
    "smoke_checks": {"url": "http://127.0.0.1:9/health"},
    "waves": {"targets": ["a"]},
}


def _document(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A `.hotfix.yml` document that sets ``path`` (list items get the keys they require)."""
    doc: dict[str, Any] = {}
    node = doc
    for i, part in enumerate(path[:-1]):
        if path[i + 1] == "*":
            continue
        if part == "*":
            item: dict[str, Any] = dict(_LIST_ITEM[path[i - 1]])
            if path[0] == "fleet":  # a wave names targets that must exist
                doc["fleet"]["targets"] = {"a": {"namespace": "shop"}}
            node_list = node.setdefault(path[i - 1], [])
            node_list.append(item)
            node = item
            continue
        node = node.setdefault(part, {})
    node[path[-1]] = value
    return doc


def _built(cfg: Any, path: tuple[str, ...]) -> Any:
    from hotfix_actions.config import _section_class

    value: Any = cfg.section(_section_class(path[0]))
    for part in path[1:]:
        value = value[0] if part == "*" else getattr(value, part)
    return value


def _inside(spec: dict[str, Any]) -> float:
    bounds = Bounds(spec.get("minimum", 0), spec.get("above", False), spec.get("maximum"), spec.get("whole", False))
    for seconds in (60.0, 5.0, 1.0, 300.0):
        if bounds.problem(seconds) is None:
            return seconds
    raise AssertionError(spec)


@pytest.mark.parametrize(("path", "prop"), FIELDS, ids=[".".join(p) for p, _ in FIELDS])
def test_every_duration_key_loads_each_form(tmp_path: Path, path: tuple[str, ...], prop: dict[str, Any]) -> None:
    seconds = _inside(prop["x-duration"])
    f = tmp_path / ".hotfix.yml"
    for value in (format_duration(seconds), int(seconds), f"{int(seconds)}"):
        doc = _document(path, value)
        jsonschema.Draft202012Validator(schema()).validate(doc)  # an editor accepts it too
        f.write_text(json.dumps(doc))
        built = _built(load(f, required=True), path)
        assert parse_duration(built) == seconds, (path, value, built)


@pytest.mark.parametrize(("path", "prop"), FIELDS, ids=[".".join(p) for p, _ in FIELDS])
def test_a_bad_duration_in_the_file_names_the_key_line_and_fix(
    tmp_path: Path, path: tuple[str, ...], prop: dict[str, Any]
) -> None:
    f = tmp_path / ".hotfix.yml"
    f.write_text(json.dumps(_document(path, "5min"), indent=1))
    with pytest.raises(ConfigError) as info:
        load(f, required=True)
    err = info.value
    assert err.key == ".".join(p if p != "*" else "0" for p in path)
    assert err.line is not None and err.line > 1
    assert "'5min' is not a duration: write the unit 'min' as m" in err.message
    assert err.fix is not None and f"{path[-1]}: 5m" in err.fix
