"""GitHub's OpenAPI description (from the npm package ``@octokit/openapi``) as a request checker.

``Spec.check`` matches a request to its operation by method and path template, then checks the path parameters, the
query (unknown names, required names, types and enums) and the JSON body against the operation's schema. OpenAPI 3.0
schemas are turned into JSON Schema on first use (``nullable``, boolean ``exclusiveMinimum``); object schemas that
list their properties reject unknown keys, so a misspelled field is a violation rather than silently ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

__all__ = ["SPEC_RELATIVE", "Check", "Operation", "Spec", "find_spec"]

SPEC_RELATIVE = Path("node_modules/@octokit/openapi/generated/api.github.com.json")
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
# Parameters GitHub accepts with slashes although the template shows one segment.
_GREEDY = frozenset({"ref", "basehead", "path", "branch", "tag"})
_INT = re.compile(r"^-?[0-9]+$")


def find_spec(start: Path) -> Path | None:
    """``node_modules/@octokit/openapi/...`` in ``start`` or the nearest parent that has it."""
    for base in (start, *start.parents):
        candidate = base / SPEC_RELATIVE
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class Check:
    """The result of matching one request: its operation, its path parameters and every problem found."""

    operation: Operation | None
    params: Mapping[str, str]
    problems: tuple[str, ...]
    status: int = 0  # the status GitHub would answer a non-conforming request with (404, 400 or 422)


@dataclass
class _Route:
    template: str
    segments: tuple[str, ...]
    literal_count: int
    methods: dict[str, Operation]


class Spec:
    """The REST description of api.github.com, indexed for matching and validation."""

    def __init__(self, document: Mapping[str, Any], *, strict_bodies: bool = True) -> None:
        self.document = document
        self.strict_bodies = strict_bodies
        self.version = str(document.get("info", {}).get("version", "?"))
        self._routes: dict[int, list[_Route]] = {}
        self._schemas: dict[str, Any] = {}
        for template, item in document["paths"].items():
            segments = tuple(template.strip("/").split("/"))
            methods = {
                m: Operation(op["operationId"], m.upper(), template, op) for m, op in item.items() if m in _METHODS
            }
            literal = sum(1 for s in segments if not s.startswith("{"))
            self._routes.setdefault(len(segments), []).append(_Route(template, segments, literal, methods))
        for routes in self._routes.values():
            routes.sort(key=lambda r: -r.literal_count)
        self._by_id = {op.operation_id: op for rs in self._routes.values() for r in rs for op in r.methods.values()}

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> Spec:
        with Path(path).open("rb") as fh:
            return cls(json.load(fh), **kwargs)

    def operation(self, operation_id: str) -> Operation:
        return self._by_id[operation_id]

    # -- matching ------------------------------------------------------------------------------------
    def _match(self, path: str) -> tuple[_Route, dict[str, str]] | None:
        parts = path.strip("/").split("/")
        for route in self._routes.get(len(parts), ()):
            params = _bind(route.segments, parts)
            if params is not None:
                return route, params
        # a greedy last parameter: /git/ref/heads/feature/x, /compare/main...release/1.2
        for count in sorted(self._routes):
            if count >= len(parts):
                break
            for route in self._routes[count]:
                last = route.segments[-1]
                if not (last.startswith("{") and last[1:-1] in _GREEDY):
                    continue
                head = _bind(route.segments[:-1], parts[: count - 1])
                if head is not None:
                    head[last[1:-1]] = unquote("/".join(parts[count - 1 :]))
                    return route, head
        return None

    def check(
        self, method: str, path: str, query: Mapping[str, Sequence[str]], body: bytes | None, content_type: str = ""
    ) -> Check:
        found = self._match(path)
        if found is None:
            return Check(None, {}, (f"{method} {path}: no such path in GitHub's REST API",), 404)
        route, params = found
        op = route.methods.get(method.lower())
        if op is None:
            allowed = ", ".join(sorted(m.upper() for m in route.methods))
            return Check(None, params, (f"{method} {route.template}: method not allowed (allowed: {allowed})",), 404)
        problems: list[str] = []
        declared = {}
        for p in op.raw.get("parameters", ()):
            p = self._deref(p)
            declared[(p["in"], p["name"])] = p
        for (where, name), p in declared.items():
            if where == "path":
                problems += self._param_problems(op, name, p, [params.get(name, "")])
        present = {}
        for raw_name, values in query.items():
            name = raw_name[:-2] if raw_name.endswith("[]") else raw_name
            present[name] = list(values)
            if ("query", name) not in declared:
                problems.append(f"{op.operation_id}: unknown query parameter {raw_name!r}")
        for (where, name), p in declared.items():
            if where != "query":
                continue
            if name in present:
                problems += self._param_problems(op, name, p, present[name])
            elif p.get("required"):
                problems.append(f"{op.operation_id}: required query parameter {name!r} is missing")
        body_problems = self._body_problems(op, body, content_type)
        problems += body_problems
        status = 0
        if problems:
            status = 422 if body_problems and len(body_problems) == len(problems) else 400
        return Check(op, params, tuple(problems), status)

    # -- validation ----------------------------------------------------------------------------------
    def _param_problems(self, op: Operation, name: str, p: Mapping[str, Any], values: list[str]) -> list[str]:
        schema = self.to_json_schema(p.get("schema", {}))
        value = _coerce(schema, values)
        errors = _errors(schema, value)
        return [f"{op.operation_id}: parameter {name!r}={values[0][:60]!r}: {e}" for e in errors[:3]]

    def _body_problems(self, op: Operation, body: bytes | None, content_type: str) -> list[str]:
        spec_body = op.raw.get("requestBody")
        if spec_body is None:
            return [f"{op.operation_id}: takes no request body"] if body else []
        spec_body = self._deref(spec_body)
        if not body:
            return [f"{op.operation_id}: a request body is required"] if spec_body.get("required") else []
        media = spec_body.get("content", {}).get("application/json")
        if media is None:
            return []  # raw uploads (text/plain, octet-stream) are not JSON
        if content_type and "json" not in content_type:
            return [f"{op.operation_id}: Content-Type {content_type!r} is not JSON"]
        try:
            document = json.loads(body)
        except ValueError as exc:
            return [f"{op.operation_id}: the body is not JSON: {exc}"]
        schema = self.to_json_schema(media.get("schema", {}))
        return [f"{op.operation_id}: body: {e}" for e in _errors(schema, document)[:5]]

    def _deref(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while "$ref" in node and seen < 20:
            node = self._pointer(node["$ref"])
            seen += 1
        return node

    def _pointer(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#/"):
            raise ValueError(f"external $ref not supported: {ref}")
        node: Any = self.document
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        result: Mapping[str, Any] = node
        return result

    def to_json_schema(self, node: Any, _stack: tuple[str, ...] = (), _in_all_of: bool = False) -> Any:
        """OpenAPI 3.0 schema -> JSON Schema (draft 7), with $refs inlined (a cycle becomes ``{}``)."""
        if isinstance(node, list):
            return [self.to_json_schema(n, _stack) for n in node]
        if not isinstance(node, Mapping):
            return node
        if "$ref" in node:
            ref = node["$ref"]
            if ref in _stack:
                return {}
            key = f"{ref}|{_in_all_of}"
            if key not in self._schemas:
                self._schemas[key] = self.to_json_schema(self._pointer(ref), (*_stack, ref), _in_all_of)
            return self._schemas[key]
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("example", "examples", "description", "externalDocs", "xml", "discriminator") or key.startswith(
                "x-"
            ):
                continue
            if key == "properties":
                out[key] = {k: self.to_json_schema(v, _stack) for k, v in value.items()}
            elif key == "allOf":
                out[key] = [self.to_json_schema(v, _stack, True) for v in value]
            elif key in ("items", "additionalProperties", "not", "anyOf", "oneOf"):
                out[key] = self.to_json_schema(value, _stack)
            else:
                out[key] = value
        if out.pop("nullable", False):
            if isinstance(out.get("type"), str):
                out["type"] = [out["type"], "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
            if not {"type", "enum"} & out.keys() and {"oneOf", "anyOf", "allOf"} & out.keys():
                out = {"anyOf": [out, {"type": "null"}]}
        for bound in ("Minimum", "Maximum"):
            flag = out.get(f"exclusive{bound}")
            if isinstance(flag, bool):
                out.pop(f"exclusive{bound}")
                if flag and bound.lower() in out:
                    out[f"exclusive{bound}"] = out.pop(bound.lower())
        if (
            self.strict_bodies
            and not _in_all_of
            and "properties" in out
            and "additionalProperties" not in out
            and not {"allOf", "anyOf", "oneOf"} & out.keys()
        ):
            out["additionalProperties"] = False
        return out


def _bind(segments: Sequence[str], parts: Sequence[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for seg, part in zip(segments, parts, strict=True):
        if seg.startswith("{") and seg.endswith("}"):
            if not part:
                return None
            params[seg[1:-1]] = unquote(part)
        elif "{" in seg or seg != part:  # e.g. "{owner}.git" never occurs in the REST paths, but be exact
            return None
    return params


def _types(schema: Any) -> set[str]:
    if not isinstance(schema, Mapping):
        return set()
    found: set[str] = set()
    t = schema.get("type")
    if isinstance(t, str):
        found.add(t)
    elif isinstance(t, list):
        found.update(str(x) for x in t)
    for key in ("oneOf", "anyOf", "allOf"):
        for sub in schema.get(key, ()):
            found |= _types(sub)
    return found


def _scalar(types: set[str], raw: str) -> Any:
    if {"integer", "number"} & types and _INT.match(raw):
        return int(raw)
    if "number" in types:
        try:
            return float(raw)
        except ValueError:
            return raw
    if "boolean" in types and raw in ("true", "false"):
        return raw == "true"
    return raw


def _coerce(schema: Any, values: list[str]) -> Any:
    types = _types(schema)
    if "array" in types and (len(values) > 1 or "string" not in types):
        items = schema.get("items", {}) if isinstance(schema, Mapping) else {}
        flat = [v for raw in values for v in raw.split(",")] if len(values) == 1 else values
        return [_scalar(_types(items), v) for v in flat]
    if len(values) > 1:
        return values  # a repeated scalar: the schema check below reports it
    return _scalar(types, values[0] if values else "")


def _errors(schema: Any, instance: Any) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft7Validator(schema)
    result = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
        where = "/".join(str(p) for p in error.absolute_path)
        result.append(f"{where or '(root)'}: {error.message[:200]}")
    return result
