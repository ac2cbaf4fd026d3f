"""Schema errors of `.hotfix.yml` in words: what is wrong, the offending key or character, a corrected example.

The JSON Schemas keep their ``pattern`` keywords for editors; a person never sees one. Every pattern used in a
schema has a rule in ``PATTERN_RULES`` that says in words what it wants (a test keeps the two in step), and
durations are checked by the one parser (``x-duration``: the same bounds as the schema's numbers).
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from hotfix_actions.decide.durations import EXAMPLES, Bounds, DurationError, format_duration, parse_duration
from hotfix_actions.decide.names import CharRule, dns1123_label_problem

__all__ = ["PATTERN_RULES", "describe", "first_error", "validator_for"]

Checker = Callable[[str], "str | None"]

_ALNUM = frozenset(string.ascii_letters + string.digits)
_LOWER = frozenset(string.ascii_lowercase + string.digits)


def _rule(rule: CharRule) -> Checker:
    return rule.problem


def _url(text: str) -> str | None:
    if text.startswith(("http://", "https://")):
        return None
    return "does not start with http:// or https:// (e.g. http://prometheus.monitoring.svc:9090)"


def _email(text: str) -> str | None:
    for i, c in enumerate(text):
        if c.isspace() or c in "<>":
            shown = "a space" if c == " " else repr(c)
            return f"has {shown} at position {i + 1}: an e-mail address is name@host (e.g. hotfix-bot@example.com)"
    if not any(c == "@" for c in text[1:-1]):
        return "is not an e-mail address: it needs a name, '@' and a host (e.g. hotfix-bot@example.com)"
    return None


def _slack_mention(text: str) -> str | None:
    if text in {"", "here", "channel"}:
        return None
    if text.startswith("subteam^"):
        team = text[len("subteam^") :]
        bad = next((c for c in team if c not in string.ascii_uppercase + string.digits), None)
        if bad is not None:
            return f"has {bad!r} in the group id: a Slack user-group id is 5-20 capital letters or digits"
        return None if 5 <= len(team) <= 20 else f"has a group id of {len(team)} characters (5-20)"
    return "is not a Slack mention: use here, channel or subteam^<group id> (e.g. subteam^S012ABCDE)"


_BRANCH = CharRule("a branch name", _ALNUM | set("._/-"), "letters, digits, '.', '_', '/' and '-'", "main", 1, 100)
# pattern (as written in the schemas) -> the rule in words.
PATTERN_RULES: dict[str, Checker] = {
    "^https?://": _url,
    "^-[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$": _rule(
        CharRule("a suffix", _LOWER | {"-"}, "lower-case letters, digits and '-'", "-canary", 1, 22, _LOWER, prefix="-")
    ),
    "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$": dns1123_label_problem,
    "^[A-Za-z0-9]([-A-Za-z0-9_./]{0,61}[A-Za-z0-9])?$": _rule(
        CharRule("a label key", _ALNUM | set("-_./"), "letters, digits, '-', '_', '.' and '/'", "track", 1, 63, _ALNUM)
    ),
    "^[A-Za-z0-9._/-]{1,100}$": _rule(_BRANCH),
    "^[A-Za-z0-9._-]{1,40}/$": _rule(
        CharRule(
            "a branch prefix",
            _ALNUM | set("._-"),
            "letters, digits, '.', '_' and '-'",
            "merge-back/",
            1,
            40,
            suffix="/",
        )
    ),
    "^[^\\s<>]+@[^\\s<>]+$": _email,
    "^(|here|channel|subteam\\^[A-Z0-9]{5,20})$": _slack_mention,
    "^-[a-z0-9-]{1,30}$": _rule(
        CharRule("a suffix", _LOWER | {"-"}, "lower-case letters, digits and '-'", "-canary", 1, 30, prefix="-")
    ),
    "^[A-Za-z0-9._/*-]{1,100}$": _rule(
        CharRule(
            "a branch glob", _ALNUM | set("._/*-"), "letters, digits, '.', '_', '/', '*' and '-'", "release/*", 1, 100
        )
    ),
    "^[A-Za-z0-9._-]{1,64}$": _rule(
        CharRule("a remote name", _ALNUM | set("._-"), "letters, digits, '.', '_' and '-'", "origin", 1, 64)
    ),
    "^[A-Za-z0-9._/-]{0,20}$": _rule(
        CharRule("a tag prefix", _ALNUM | set("._/-"), "letters, digits, '.', '_', '/' and '-'", "v", 0, 20)
    ),
    "^[A-Za-z0-9._/-]{1,200}$": _rule(
        CharRule("a file path", _ALNUM | set("._/-"), "letters, digits, '.', '_', '/' and '-'", "package.json", 1, 200)
    ),
    "^[a-z0-9]([-a-z0-9]*[a-z0-9-])?$": _rule(
        CharRule(
            "a name prefix",
            _LOWER | {"-"},
            "lower-case letters, digits and '-'",
            "hotfix-lock-",
            1,
            None,
            _LOWER,
            first_only=True,
        )
    ),
    "^[a-z]+$": _rule(CharRule("a commit type", frozenset(string.ascii_lowercase), "lower-case letters", "fix")),
    "^[A-Za-z-]+$": _rule(
        CharRule("a trailer key", frozenset(string.ascii_letters) | {"-"}, "letters and '-'", "Severity")
    ),
}


def pattern_problem(pattern: str, text: str) -> str:
    checker = PATTERN_RULES.get(pattern)
    problem = checker(text) if checker else None
    return problem or "is not in the form this key takes (see `hotfix config schema` for its description)"


def _matches(pattern: str, text: str) -> bool:
    """JSON Schema's pattern as editors (ECMA-262) read it: '$' is the end of the text, not a line break before it."""
    if not re.search(pattern, text):
        return False
    return not (pattern.endswith("$") and not pattern.endswith("\\$") and not re.search(pattern[:-1] + r"\Z", text))


def _bounds(spec: Mapping[str, Any]) -> Bounds:
    return Bounds(
        minimum=float(spec.get("minimum", 0)),
        above=bool(spec.get("above", False)),
        maximum=float(spec["maximum"]) if "maximum" in spec else None,
        whole=bool(spec.get("whole", False)),
    )


@cache
def _validator_class() -> Any:
    import jsonschema
    from jsonschema.exceptions import ValidationError

    def x_duration(validator: Any, spec: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        if instance is None:
            return
        try:
            parse_duration(instance, _bounds(spec))
        except DurationError as exc:
            yield ValidationError(f"{exc.shown} {exc.problem}", instance=instance, cause=exc)

    def pattern(validator: Any, patrn: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
        if isinstance(instance, str) and not _matches(patrn, instance):
            yield ValidationError(f"{instance!r} does not have the form", instance=instance)

    base = jsonschema.Draft202012Validator
    return jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        base, {"x-duration": x_duration, "pattern": pattern}
    )


def validator_for(schema: Mapping[str, Any]) -> Any:
    return _validator_class()(schema)


def first_error(schema: Mapping[str, Any], document: Any) -> Any | None:
    """The error to show: the shallowest, and on one key the duration parser's before the schema's own."""
    errors = list(validator_for(schema).iter_errors(document))
    if not errors:
        return None
    duration_paths = {tuple(e.absolute_path) for e in errors if e.validator == "x-duration"}
    errors = [
        e for e in errors if e.validator == "x-duration" or tuple(e.absolute_path) not in duration_paths
    ]  # the parser's words replace the pattern and the type errors of a duration
    errors.sort(key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path]))
    return errors[0]


def _kind(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping of keys"
    return type(value).__name__


_TYPE_WORDS = {
    "string": "text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys",
    "null": "null",
}


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _default_at(path: Sequence[str | int]) -> Any:
    from hotfix_actions.config import Config

    node: Any = Config().effective()
    for part in path:
        found = isinstance(node, Mapping) and part in node
        if found or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
        else:
            return None
    return node


def _example(path: Sequence[str | int], schema: Mapping[str, Any]) -> str:
    """A value of the right form for the key at ``path``: its default where there is one."""
    key = next((str(p) for p in reversed(path) if isinstance(p, str)), "value")
    default = _default_at(path)
    if "x-duration" in schema:
        spec = schema["x-duration"]
        try:
            seconds: float | None = parse_duration(default) if default is not None else None
        except DurationError:
            seconds = None
        if seconds is None or _bounds(spec).problem(seconds) is not None:
            seconds = max(float(spec.get("minimum", 0)), 1.0)
        return f"{key}: {format_duration(float(seconds))}"
    if default is not None and not isinstance(default, dict | list):
        shown = str(default).lower() if isinstance(default, bool) else str(default)
        return f"{key}: {shown}" if len(shown) <= 80 else f"{key}: ... (its default is in `hotfix config show`)"
    if isinstance(default, list) and default and not isinstance(default[0], dict):
        return f"{key}: [{', '.join(str(d) for d in default)}]"
    kinds = schema.get("type")
    first = kinds[0] if isinstance(kinds, list) else kinds
    samples = {"integer": "3", "number": "1.5", "boolean": "true", "string": "text", "array": "[a, b]"}
    if "enum" in schema:
        return f"{key}: {schema['enum'][0]}"
    return f"{key}: {samples.get(str(first), '...')}"


def describe(error: Any) -> tuple[list[str | int], str, str]:
    """(path of the key, what is wrong, the fix) for one schema error; no message shows a regular expression."""
    path: list[str | int] = list(error.absolute_path)
    validator = error.validator
    value = error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if validator == "additionalProperties":
        allowed = sorted((schema.get("properties") or {}).keys())
        extra = sorted(set(value) - set(allowed)) if isinstance(value, Mapping) else []
        if extra:
            path = [*path, extra[0]]
            close = difflib.get_close_matches(str(extra[0]), allowed, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}? " if close else ""
            return path, "unknown key", f"{hint}remove it or use one of: " + ", ".join(allowed)
        return path, "has a key that is not allowed here", "remove it; see `hotfix config schema`"
    key = next((str(p) for p in reversed(path) if isinstance(p, str)), "value")
    if validator == "x-duration":
        cause = error.cause
        specific = cause.example if isinstance(cause, DurationError) and cause.example != EXAMPLES else None
        example = f"{key}: {specific}" if specific else _example(path, schema)
        return path, error.message, f"e.g. {example} (a duration: 90, 90s, 5m or 1h30m)"
    example = _example(path, schema)
    if validator == "pattern" and isinstance(value, str):
        problem = pattern_problem(error.validator_value, value)
        words, found, rest = problem.rpartition(" (e.g. ")
        if found and rest.endswith(")"):
            problem, example = words, f"{key}: {rest[:-1]}"
        return path, f"{_shown(value)} {problem}", f"e.g. {example}"
    if validator == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        words = " or ".join(_TYPE_WORDS.get(str(t), str(t)) for t in expected)
        return path, f"{_shown(value)} is {_kind(value)}; this key takes {words}", f"e.g. {example}"
    if validator == "enum":
        options = ", ".join(str(v) for v in error.validator_value)
        close = difflib.get_close_matches(str(value), [str(v) for v in error.validator_value], n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        return path, f"{_shown(value)} is not one of: {options}", f"{hint}use one of: {options}"
    if validator in {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}:
        limit = error.validator_value
        words = {
            "minimum": f"is less than {limit}, the least allowed",
            "exclusiveMinimum": f"must be more than {limit}",
            "maximum": f"is more than {limit}, the most allowed",
            "exclusiveMaximum": f"must be less than {limit}",
        }[validator]
        return path, f"{_shown(value)} {words}", f"e.g. {example}"
    if validator == "minItems":
        n = error.validator_value
        return path, f"needs at least {n} item{'s' if n != 1 else ''}", f"e.g. {example}"
    if validator == "maxItems":
        n = error.validator_value
        return path, f"has more than {n} item{'s' if n != 1 else ''}", f"keep at most {n}"
    if validator == "uniqueItems":
        seen: list[str] = []
        twice = None
        for item in value:
            if repr(item) in seen:
                twice = item
                break
            seen.append(repr(item))
        return path, f"lists {_shown(twice)} more than once", "list each value once"
    if validator == "required":
        missing = [k for k in error.validator_value if isinstance(value, Mapping) and k not in value] or ["?"]
        inner = (schema.get("properties") or {}).get(missing[0]) or {}
        return path, f"needs the key {', '.join(missing)}", f"add {_example([*path, missing[0]], inner)}"
    if validator == "minLength":
        return path, "is empty" if error.validator_value == 1 else "is too short", f"e.g. {example}"
    if validator == "maxLength":
        return path, f"is longer than {error.validator_value} characters", f"e.g. {example}"
    if validator == "const":
        return path, f"{_shown(value)} is not {error.validator_value!r}", f"set it to {error.validator_value}"
    return path, "is not allowed here", "see `hotfix config schema` for the allowed values"
