"""Every message the name checks and the config checks can produce says what is wrong in words, names the
offending character, and gives a corrected example; none shows a regular expression.

Hypothesis drives the validators (branch names, hotfix slugs, DNS-1123 names, image references, versions,
durations, every patterned and every duration key of `.hotfix.yml`) with bad inputs and scans what they say.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from hotfix_actions.config import load, schema
from hotfix_actions.config._schema_errors import PATTERN_RULES, _matches
from hotfix_actions.config.validate import DEFAULT_BRANCH_PATTERN
from hotfix_actions.decide.db import backup_name_problem, database_name_problem
from hotfix_actions.decide.durations import DurationError, parse_duration
from hotfix_actions.decide.names import (
    branch_name_problem,
    dns1123_label_problem,
    dns1123_subdomain_problem,
    image_problem,
    slug_problem,
)
from hotfix_actions.decide.validate import check_branch
from hotfix_actions.decide.version import version_problem
from hotfix_actions.errors import ConfigError

# Pieces of regular-expression syntax that must never reach a person.
REGEX_SYNTAX = ("^[", "]+$", "]+", "]*", "]{", "\\d", "\\s", "\\w", "(?", "[a-z", "[A-Z", "[0-9", "[^", ")?$", "{0,")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"")


def without_echoes(message: str, value: str) -> str:
    """The message minus the quoted or bare copies of the input (an input may itself look like a regex)."""
    text = message.replace(repr(value), "").replace(value, "") if value else message

    def drop(m: re.Match[str]) -> str:
        try:
            inner = ast.literal_eval(m.group(0))
        except (ValueError, SyntaxError):
            return m.group(0)
        return "" if isinstance(inner, str) and inner and inner in value else m.group(0)

    return _QUOTED.sub(drop, text)


def assert_in_words(message: str, value: str) -> None:
    scanned = without_echoes(message, value)
    for syntax in REGEX_SYNTAX:
        assert syntax not in scanned, f"regex syntax {syntax!r} in: {message}"
    assert "e.g." in message or "write " in message, f"no corrected example in: {message}"


text_inputs = st.lists(
    st.sampled_from([*"abcXYZ019-_./:@$^[](){}*+?\\ \n\t;'\"é", "hotfix/", "v1.4.3", "sha256:", "ghcr.io/"]),
    max_size=20,
).map("".join)

NAME_CHECKS: dict[str, Callable[[str], str | None]] = {
    "branch": branch_name_problem,
    "slug": slug_problem,
    "dns1123 label": dns1123_label_problem,
    "dns1123 subdomain": dns1123_subdomain_problem,
    "image": image_problem,
    "version": version_problem,
    "backup name": backup_name_problem,
    "database name": database_name_problem,
}


@pytest.mark.parametrize("check", list(NAME_CHECKS), ids=list(NAME_CHECKS))
@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=text_inputs)
def test_name_messages_are_in_words(check: str, value: str) -> None:
    problem = NAME_CHECKS[check](value)
    assume(problem is not None)
    assert problem is not None
    assert_in_words(problem, value)


def test_validate_explains_the_default_layout_in_words() -> None:
    from hotfix_actions.decide.validate import DEFAULT_PATTERN

    assert DEFAULT_PATTERN == DEFAULT_BRANCH_PATTERN  # the words describe the pattern `hotfix start` follows
    reason = check_branch("hotfix/v1.4-fix", DEFAULT_BRANCH_PATTERN).check.reason
    assert "the version '1.4', which has 2 numbers" in reason and "(?P" not in reason
    custom = check_branch("hotfix/v1.4.3-fix", r"^hotfix/(?P<version>[0-9.]+)_(?P<slug>.+)$").check.reason
    assert "does not match validate.branch_pattern" in custom and "(?P" not in custom


@settings(max_examples=400)
@given(value=text_inputs)
def test_branch_rows_of_validate_are_in_words(value: str) -> None:
    facts = check_branch(value, DEFAULT_BRANCH_PATTERN)
    assume(facts.version is None)
    assert_in_words(facts.check.reason, value)


VALID = {
    "slug": ("fix-login", slug_problem),
    "dns1123 label": ("my-app", dns1123_label_problem),
    "branch": ("hotfix/v1.4.3-fix-login", branch_name_problem),
    "image": ("ghcr.io/acme/shop", image_problem),
}


@pytest.mark.parametrize("kind", list(VALID))
@given(
    position=st.integers(min_value=1, max_value=8),
    bad=st.sampled_from([" ", ";", "$", "`", "\n", "é", "|", "&", "<"]),
)
def test_the_offending_character_and_its_position_are_named(kind: str, position: int, bad: str) -> None:
    good, check = VALID[kind]
    assert check(good) is None
    position = min(position, len(good) - 1)
    value = good[:position] + bad + good[position:]
    problem = check(value)
    assert problem is not None
    named = {" ": "a space", "\n": "a line break", "é": "'é' (U+00E9)"}.get(bad, repr(bad))
    assert f"has {named}" in problem and f"at position {position + 1}" in problem, problem


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("abc\n", "a line break at position 4"),  # '$' in a Python pattern used to let a trailing line break pass
        ("hotfix/v1.0.1-x\n", "a line break at position 16"),
        ("nginx:1\n", "a line break at position 8"),
    ],
)
def test_a_trailing_line_break_is_refused(value: str, words: str) -> None:
    checks = [dns1123_label_problem] if value == "abc\n" else [branch_name_problem if "/" in value else image_problem]
    for check in checks:
        problem = check(value)
        assert problem is not None and words in problem


def test_other_allowlists_refuse_a_trailing_line_break_too() -> None:
    from hotfix_actions.decide.canary.templates import ArmLabels

    assert backup_name_problem("shop-1\n") is not None  # it becomes a file name
    assert database_name_problem("shop\n") is not None
    with pytest.raises(ValueError, match="not allowed in a label value"):
        ArmLabels("shop\n", "web", "canary", "15s").variables()


@pytest.mark.parametrize(
    ("image", "words"),
    [
        ("ghcr.io/Acme/shop:1.4.3", "has 'A' at position 9, in the repository name 'Acme/shop'"),
        ("ghcr.io/acme/shop:1.4 3", "a space at position 22"),
        ("ghcr.io/acme/shop:v!1", "has '!' at position 20, in the tag 'v!1'"),
        ("ghcr.io/acme/shop@sha256:xyz", "has 'x' at position 26, in the digest"),
        ("ghcr.io/acme/shop@md5:" + "a" * 64, "digest algorithm 'md5'"),
        ("ghcr.io/acme/shop:", "has no tag"),
    ],
)
def test_image_messages_say_which_part_and_character(image: str, words: str) -> None:
    problem = image_problem(image)
    assert problem is not None and words in problem, problem


@settings(max_examples=500)
@given(value=st.one_of(text_inputs, st.floats(allow_nan=True), st.integers(), st.booleans()))
def test_duration_messages_are_in_words(value: Any) -> None:
    try:
        parse_duration(value)
    except DurationError as exc:
        assert_in_words(str(exc), value if isinstance(value, str) else repr(value))


def patterned_keys(node: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    if node is None:
        node = schema()
    if isinstance(node, dict):
        if "pattern" in node and "x-duration" not in node:
            yield path, node["pattern"]
        for key, sub in (node.get("properties") or {}).items():
            yield from patterned_keys(sub, (*path, key))
        if isinstance(node.get("items"), dict):
            yield from patterned_keys(node["items"], (*path, "*"))


PATTERNED = list(patterned_keys())


def test_every_schema_pattern_has_words() -> None:
    assert len(PATTERNED) >= 20
    missing = sorted({p for _, p in PATTERNED} - set(PATTERN_RULES))
    assert not missing, f"patterns without a rule in words (config/_schema_errors.PATTERN_RULES): {missing}"


@pytest.mark.parametrize("pattern", sorted(PATTERN_RULES))
@settings(max_examples=300)
@given(value=text_inputs)
def test_the_words_agree_with_the_pattern(pattern: str, value: str) -> None:
    """A rule in words that let through what the pattern refuses (or the reverse) would explain the wrong thing."""
    assert (PATTERN_RULES[pattern](value) is None) == _matches(pattern, value), (pattern, value)


def _set(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    node: Any = doc
    for i, part in enumerate(path[:-1]):
        nxt = path[i + 1]
        if part == "*":
            continue
        if nxt == "*":
            item: dict[str, Any] = {"url": "http://127.0.0.1:9/", "query": "up", "name": "x", "signal": "p95"}
            node[part] = [item]
            node = item
        else:
            node = node.setdefault(part, {})
    node[path[-1]] = value
    return doc


ALL_KEYS = [p for p, _ in PATTERNED]


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from([*ALL_KEYS, ("rollback", "wait_timeout"), ("cluster", "connect_timeout")]),
    value=st.one_of(text_inputs, st.integers(), st.lists(st.integers(), max_size=2), st.booleans()),
)
def test_config_messages_are_in_words(tmp_path: Path, path: tuple[str, ...], value: Any) -> None:
    f = tmp_path / "messages.yml"
    f.write_text(json.dumps(_set(path, value)))
    try:
        load(f, required=True)
    except ConfigError as err:
        echoed = value if isinstance(value, str) else repr(value)
        scanned = without_echoes(f"{err.message} {err.fix}", echoed)
        for syntax in REGEX_SYNTAX:
            assert syntax not in scanned, f"regex syntax {syntax!r} in: {err}"
        assert err.key and err.line and err.fix, str(err)
        assert "e.g." in err.fix or "use one of" in err.fix or "set it to" in err.fix, str(err)
