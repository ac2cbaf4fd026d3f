"""Durations: the one parser for `.hotfix.yml` and every command-line option (pure).

Accepted forms (the JSON Schemas accept exactly these, see ``SCHEMA_PATTERN``):

- a number of seconds: ``90``, ``2.5``, ``"90"`` (YAML numbers and quoted numbers alike);
- one or more parts ``<number><unit>``, units ``h``, ``m``, ``s``, ``ms``, each at most once and largest first:
  ``90s``, ``5m``, ``1h30m``, ``1m30s``, ``500ms``.

Fractions: every number may have a decimal part (``1.5m`` is 90 seconds, ``0.5s`` half a second); a field that
needs whole seconds (a Lease TTL, a database timeout) says so and refuses ``1.5s``. Zero (``0``, ``0s``) parses to 0;
whether a field allows it is that field's bound (a timeout must be more than 0, a settle time may be 0). Negative
values, spaces, signs, other units (``min``, ``d``) and infinity are refused with the reason in words and a
corrected example (``5min`` -> ``5m``, ``30m1h`` -> ``1h30m``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "EXAMPLES",
    "MAX_LENGTH",
    "MAX_SECONDS",
    "SCHEMA_PATTERN",
    "Bounds",
    "DurationError",
    "format_duration",
    "parse_duration",
]

MAX_LENGTH = 40
MAX_SECONDS = 100 * 24 * 3600.0  # longer than any wait a hotfix has; keeps every value finite and printable
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_ORDER = ("h", "m", "s", "ms")
# Unit spellings people write, and the unit meant (used only to suggest the corrected form).
_ALIASES = {
    "hour": "h",
    "hours": "h",
    "hr": "h",
    "hrs": "h",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "sec": "s",
    "secs": "s",
    "second": "s",
    "seconds": "s",
    "msec": "ms",
    "millis": "ms",
    "milliseconds": "ms",
}
_NUM = r"[0-9]+(\.[0-9]+)?"
# For editors (JSON Schema "pattern", ECMA-262 and Python alike): the grammar above, nothing else.
SCHEMA_PATTERN = f"^({_NUM}|({_NUM}h)?({_NUM}m)?({_NUM}s)?({_NUM}ms)?)$"
EXAMPLES = "90, 90s, 5m or 1h30m"


class DurationError(ValueError):
    """A value that is not a duration, or is out of its field's bounds: what is wrong, and a corrected example."""

    def __init__(self, shown: str, problem: str, example: str, *, out_of_bounds: bool = False) -> None:
        self.shown = shown
        self.problem = problem
        self.example = example
        self.out_of_bounds = out_of_bounds  # a well-formed duration outside what the field allows
        super().__init__(f"{shown} {problem} (e.g. {example})")


@dataclass(frozen=True)
class Bounds:
    """What one field allows: a least value (``above``: strictly more than it), a most, and whole seconds."""

    minimum: float = 0.0
    above: bool = False
    maximum: float | None = None
    whole: bool = False

    def problem(self, seconds: float) -> tuple[str, str] | None:
        """(what is wrong, a corrected example) or None."""
        if self.above and seconds <= self.minimum:
            least = "0" if self.minimum == 0 else format_duration(self.minimum)
            return f"must be more than {least}", format_duration(max(self.minimum * 2, 1.0))
        if seconds < self.minimum:
            return f"must be at least {format_duration(self.minimum)}", format_duration(self.minimum)
        if self.maximum is not None and seconds > self.maximum:
            return f"is more than the {format_duration(self.maximum)} allowed", format_duration(self.maximum)
        if self.whole and not float(seconds).is_integer():
            return "must be a whole number of seconds", format_duration(max(1.0, math.ceil(seconds)))
        return None


def format_duration(seconds: float) -> str:
    """The canonical text of a duration, which ``parse_duration`` reads back: 90 -> 1m30s, 0.5 -> 500ms."""
    if seconds < 0 or not math.isfinite(seconds):
        raise ValueError(f"not a duration: {seconds!r}")
    millis = round(seconds * 1000)
    if millis == 0:
        return "0s" if seconds == 0 else f"{seconds:g}s"
    if millis < 1000:
        return f"{millis}ms"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    if secs or ms:
        text += f"{secs}.{ms:03d}".rstrip("0").rstrip(".") + "s"
    return text


def _char_name(c: str) -> str:
    names = {" ": "a space", "\t": "a tab", "\n": "a line break", "-": "a minus sign", "+": "a plus sign"}
    return names.get(c, repr(c))


def _is_number(text: str) -> bool:
    whole, dot, frac = text.partition(".")
    return whole.isascii() and whole.isdigit() and (not dot or (frac.isascii() and frac.isdigit()))


def _split(raw: str) -> list[tuple[str, str]] | tuple[int, str]:
    """``raw`` as (number, unit) parts, or (position, character) of the first character that belongs to neither."""
    parts: list[tuple[str, str]] = []
    i = 0
    while i < len(raw):
        start = i
        while i < len(raw) and (raw[i].isascii() and (raw[i].isdigit() or raw[i] == ".")):
            i += 1
        number = raw[start:i]
        start = i
        while i < len(raw) and raw[i].isascii() and raw[i].isalpha():
            i += 1
        unit = raw[start:i]
        if not number and not unit:
            return i, raw[i]
        parts.append((number, unit))
    return parts


def _seconds_of(parts: list[tuple[str, str]]) -> float:
    return sum(float(n) * _UNITS[u] for n, u in parts)


def _parse_text(raw: str, shown: str) -> float:
    if not raw:
        raise DurationError(shown, "is not a duration: it is empty", EXAMPLES)
    if len(raw) > MAX_LENGTH:
        raise DurationError(shown, f"is not a duration: {len(raw)} characters, at most {MAX_LENGTH}", EXAMPLES)
    if _is_number(raw):
        return float(raw)
    split = _split(raw)
    if isinstance(split, tuple):
        pos, char = split
        cleaned = "".join(c for c in raw if c.isascii() and (c.isalnum() or c == "."))
        example = _suggest(cleaned) or EXAMPLES
        if char == "-" and pos == 0:
            problem = "is negative: a duration counts forward (no sign)"
        else:
            problem = (
                f"is not a duration: {_char_name(char)} at position {pos + 1} (write digits and units only, "
                "no spaces or signs)"
            )
        raise DurationError(shown, problem, example)
    for number, unit in split:
        if not number:
            raise DurationError(
                shown, f"is not a duration: the unit {unit!r} has no number before it", _suggest(raw) or EXAMPLES
            )
        if not _is_number(number):
            raise DurationError(shown, f"is not a duration: {number!r} is not a number", EXAMPLES)
        if unit not in _UNITS:
            if not unit:
                problem = f"is not a duration: the last number, {number}, has no unit"
            elif unit.lower() in _UNITS or unit.lower() in _ALIASES:
                problem = f"is not a duration: write the unit {unit!r} as {_ALIASES.get(unit.lower(), unit.lower())}"
            elif unit.lower() in {"d", "day", "days"}:
                problem = f"is not a duration: {unit!r} (days) is not a unit here, write hours"
            else:
                problem = f"is not a duration: {unit!r} is not a unit (the units are h, m, s and ms)"
            raise DurationError(shown, problem, _suggest(raw) or EXAMPLES)
    units = [u for _, u in split]
    if len(set(units)) != len(units) or units != sorted(units, key=_ORDER.index):
        raise DurationError(
            shown, "is not a duration: each unit at most once, largest first", _suggest(raw) or EXAMPLES
        )
    return _seconds_of(split)


def _suggest(raw: str) -> str | None:
    """The corrected form of a near-miss (``5min`` -> ``5m``, ``30m1h`` -> ``1h30m``, ``5m30`` -> ``5m30s``)."""
    split = _split(raw)
    if isinstance(split, tuple) or not split:
        return None
    parts: list[tuple[str, str]] = []
    for index, (number, unit) in enumerate(split):
        if not _is_number(number):
            return None
        meant = _ALIASES.get(unit.lower(), unit.lower())
        if unit.lower() in {"d", "day", "days"}:
            number, meant = f"{float(number) * 24:g}", "h"
        if not meant and index == len(split) - 1 and index > 0:
            previous = parts[-1][1]
            meant = _ORDER[_ORDER.index(previous) + 1] if previous in ("h", "m") else ""
        if meant not in _UNITS:
            return None
        parts.append((number, meant))
    return format_duration(_seconds_of(parts))


def parse_duration(value: str | float, bounds: Bounds | None = None, *, name: str | None = None) -> float:
    """Seconds from ``90``, ``"90"``, ``"90s"``, ``"5m"``, ``"1h30m"`` or ``"500ms"``, within ``bounds`` when given.

    Raises DurationError (a ValueError) whose message says what is wrong, in words, with a corrected example;
    ``name`` (a key or an option) is put in front of the value in the message.
    """
    shown = f"{name} {value!r}" if name else repr(value)
    if isinstance(value, bool):
        raise DurationError(shown, "is not a duration: it is true or false", EXAMPLES)
    if isinstance(value, int | float):
        seconds = float(value)
        if math.isnan(seconds) or math.isinf(seconds):
            raise DurationError(shown, "is not a duration: it is not a finite number", EXAMPLES)
        if seconds < 0:
            example = format_duration(-seconds) if -seconds <= MAX_SECONDS else EXAMPLES
            raise DurationError(shown, "is negative: a duration counts forward", example)
    elif isinstance(value, str):
        seconds = _parse_text(value, shown)
    else:
        raise DurationError(shown, f"is not a duration: it is a {type(value).__name__}", EXAMPLES)
    if seconds > MAX_SECONDS:
        longest = format_duration(MAX_SECONDS)
        raise DurationError(shown, f"is longer than {longest}, the longest wait allowed", "1h", out_of_bounds=True)
    if bounds is not None and (problem := bounds.problem(seconds)) is not None:
        raise DurationError(shown, problem[0], problem[1], out_of_bounds=True)
    return seconds
