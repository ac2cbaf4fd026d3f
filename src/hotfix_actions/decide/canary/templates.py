"""PromQL templates per metric (``{{ variable }}`` placeholders) and durations like ``15s``, ``10m``, ``1h30m``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from hotfix_actions.decide.durations import parse_duration  # the one duration parser, re-exported for the canary

__all__ = [
    "DEFAULT_QUERIES",
    "DEFAULT_SELECTOR",
    "VARIABLES",
    "ArmLabels",
    "parse_duration",
    "prom_duration",
    "render",
    "template_problem",
]

VARIABLES = ("namespace", "deployment", "track", "window", "selector")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9_.:/-]*$")

DEFAULT_SELECTOR = 'namespace="{{ namespace }}",deployment="{{ deployment }}"'
# counter queries: cumulative values per process (``instance``); the judge differences them and handles resets.
# The errors query adds a zero for every process that has served no error yet, so "no error so far" is a 0,
# not an empty vector, and an error counter that first appears mid-run is counted from its first sample.
DEFAULT_QUERIES: Mapping[str, str] = {
    "requests": "sum by (instance) (http_requests_total{ {{ selector }} })",
    "errors": (
        'sum by (instance) (http_requests_total{ {{ selector }},code=~"5.." })'
        " or sum by (instance) (http_requests_total{ {{ selector }} }) * 0"
    ),
    "latency": "sum by (instance, le) (http_request_duration_seconds_bucket{ {{ selector }} })",
}


@dataclass(frozen=True)
class ArmLabels:
    """What a template may refer to for one arm."""

    namespace: str
    deployment: str
    track: str
    window: str  # a PromQL duration: the poll interval
    selector: str = DEFAULT_SELECTOR

    def variables(self) -> dict[str, str]:
        values = {"namespace": self.namespace, "deployment": self.deployment, "track": self.track}
        for name, value in values.items():
            if not _LABEL_VALUE.fullmatch(value):
                raise ValueError(f"{name} {value!r} has characters not allowed in a label value here")
        values["window"] = self.window
        values["selector"] = _substitute(self.selector, values)
        return values


def _substitute(template: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(f"unknown variable {{{{ {name} }}}} (known: {', '.join(VARIABLES)})")
        return values[name]

    return _PLACEHOLDER.sub(one, template)


def render(template: str, labels: ArmLabels) -> str:
    return _substitute(template, labels.variables())


def template_problem(template: str) -> str | None:
    """Why a template cannot be used (unknown variables, unbalanced braces), or None."""
    names = _PLACEHOLDER.findall(template)
    unknown = sorted({n for n in names if n not in VARIABLES})
    if unknown:
        return f"unknown variable(s) {', '.join(unknown)} (known: {', '.join(VARIABLES)})"
    stripped = _PLACEHOLDER.sub("x", template)
    for opening, closing in ("()", "[]", "{}"):
        if stripped.count(opening) != stripped.count(closing):
            return f"unbalanced {opening}{closing}"
    if not stripped.strip():
        return "empty query"
    return None


def prom_duration(seconds: float) -> str:
    """A PromQL range duration (whole milliseconds, at least 1 ms)."""
    millis = max(1, round(seconds * 1000))
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"
