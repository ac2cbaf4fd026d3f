"""Label and field selectors: the query-string syntax and the ``LabelSelector`` object."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hotfix_actions.sandbox.status import ApiError

__all__ = [
    "FIELD_PATHS",
    "Requirement",
    "field_matcher",
    "label_matcher",
    "object_selector_matcher",
    "parse_labels",
    "selector_string",
]

_KEY = r"(?:[A-Za-z0-9.\-]+/)?[A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?)?"
_KEY_RE = re.compile(rf"^{_KEY}$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "=":
            return present and value == self.values[0]
        if self.op == "!=":
            return not present or value != self.values[0]
        if self.op == "in":
            return present and value in self.values
        if self.op == "notin":
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in {"gt", "lt"}:
            try:
                number, bound = int(value or ""), int(self.values[0])
            except ValueError:
                return False
            return number > bound if self.op == "gt" else number < bound
        return False


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


def _check_key(key: str, raw: str) -> str:
    if not _KEY_RE.match(key) or len(key.rpartition("/")[2]) > 63:
        raise ApiError(400, f"unable to parse requirement: invalid label key {key!r} in {raw!r}")
    return key


def _check_value(value: str, raw: str) -> str:
    if not _VALUE_RE.match(value) or len(value) > 63:
        raise ApiError(400, f"unable to parse requirement: invalid label value {value!r} in {raw!r}")
    return value


_SET_RE = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)$")


def parse_labels(text: str | None) -> list[Requirement]:
    """Parse ``a=b,c!=d,e in (x,y),f notin (z),g,!h,i>3``; a malformed selector is a 400."""
    if not text:
        return []
    reqs: list[Requirement] = []
    for part in _split_top(text):
        m = _SET_RE.match(part)
        if m:
            values = tuple(_check_value(v.strip(), part) for v in m["values"].split(",") if v.strip())
            reqs.append(Requirement(_check_key(m["key"], part), m["op"], values))
            continue
        for op, name in (("!=", "!="), ("==", "="), ("=", "="), (">", "gt"), ("<", "lt")):
            if op in part:
                key, _, value = part.partition(op)
                reqs.append(Requirement(_check_key(key.strip(), part), name, (_check_value(value.strip(), part),)))
                break
        else:
            if part.startswith("!"):
                reqs.append(Requirement(_check_key(part[1:].strip(), part), "!"))
            else:
                reqs.append(Requirement(_check_key(part, part), "exists"))
    return reqs


def label_matcher(text: str | None) -> Callable[[Mapping[str, Any]], bool]:
    reqs = parse_labels(text)

    def match(obj: Mapping[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(r.matches(labels) for r in reqs)

    return match


def object_selector_matcher(selector: Mapping[str, Any] | None) -> Callable[[Mapping[str, str]], bool]:
    """A ``LabelSelector`` object (matchLabels + matchExpressions) as a predicate on a label map.

    An empty or missing selector matches nothing, as for Deployments and ReplicaSets.
    """
    if not selector or (not selector.get("matchLabels") and not selector.get("matchExpressions")):
        return lambda labels: False
    reqs = [Requirement(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        reqs.append(Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ())))
    return lambda labels: all(r.matches(labels) for r in reqs)


def selector_string(selector: Mapping[str, Any] | None) -> str:
    """``app=web,tier in (a,b)``: the string form kubectl sends and Scale.status.selector carries."""
    parts = [f"{k}={v}" for k, v in sorted((selector or {}).get("matchLabels", {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op = expr["operator"]
        if op == "Exists":
            parts.append(expr["key"])
        elif op == "DoesNotExist":
            parts.append(f"!{expr['key']}")
        else:
            parts.append(f"{expr['key']} {op.lower()} ({','.join(sorted(expr.get('values') or []))})")
    return ",".join(parts)


# Fields the API server indexes; any other field in a selector is a 400, as on a real cluster.
FIELD_PATHS = {
    "*": ("metadata.name", "metadata.namespace"),
    "pods": ("status.phase", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "status.podIP"),
    "events": (
        "involvedObject.kind",
        "involvedObject.name",
        "involvedObject.namespace",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "secrets": ("type",),
    "namespaces": ("status.phase",),
    "services": ("spec.clusterIP", "spec.type"),
    "replicasets": ("status.replicas",),
}


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, Mapping) else None
    if path == "source" and cur is None:
        cur = ((obj.get("source") or {}).get("component")) or ""
    return "" if cur is None else str(cur)


def field_matcher(text: str | None, plural: str) -> Callable[[Mapping[str, Any]], bool]:
    """``metadata.name=web,status.phase!=Running``; unknown fields are a 400 naming the field."""
    if not text:
        return lambda obj: True
    allowed = set(FIELD_PATHS["*"]) | set(FIELD_PATHS.get(plural, ()))
    terms: list[tuple[str, bool, str]] = []
    for part in _split_top(text):
        op = next((o for o in ("!=", "==", "=") if o in part), None)
        if op is None:
            raise ApiError(400, f"invalid selector: '{text}'; can't understand '{part}'")
        key, _, value = part.partition(op)
        key = key.strip()
        if key not in allowed:
            raise ApiError(400, f'field label not supported: "{key}"')
        terms.append((key, op != "!=", value.strip()))

    def match(obj: Mapping[str, Any]) -> bool:
        return all((_field_value(obj, k) == v) == positive for k, positive, v in terms)

    return match
