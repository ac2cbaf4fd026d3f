"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386) on plain JSON values.

Both return new values and never mutate their inputs. A bad patch raises ``PatchError`` (the server answers 422 or
400, as kube-apiserver does).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["PatchError", "json_patch", "merge_patch"]


class PatchError(ValueError):
    """The patch cannot be applied; ``code`` is the HTTP status the API server uses."""

    def __init__(self, message: str, code: int = 422) -> None:
        super().__init__(message)
        self.code = code


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result: dict[str, Any] = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}: must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, pointer: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token.startswith("0") and token != "0"):
        raise PatchError(f"invalid array index {token!r} in {pointer!r}")
    idx = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if idx > limit:
        raise PatchError(f"array index {idx} out of bounds in {pointer!r}")
    return idx


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    tokens = _tokens(pointer)
    if not tokens:
        raise PatchError("the whole document cannot be the target here")
    cur = doc
    for token in tokens[:-1]:
        if isinstance(cur, dict):
            if token not in cur:
                raise PatchError(f"missing path {pointer!r}: no key {token!r}")
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_index(cur, token, pointer, allow_end=False)]
        else:
            raise PatchError(f"path {pointer!r} goes through a scalar")
    return cur, tokens[-1]


def _get(doc: Any, pointer: str) -> Any:
    cur = doc
    for token in _tokens(pointer):
        if isinstance(cur, dict):
            if token not in cur:
                raise PatchError(f"missing path {pointer!r}")
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_index(cur, token, pointer, allow_end=False)]
        else:
            raise PatchError(f"missing path {pointer!r}")
    return cur


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return value
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        parent[token] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, pointer, allow_end=True), value)
    else:
        raise PatchError(f"cannot add at {pointer!r}: parent is a scalar")
    return doc


def _remove(doc: Any, pointer: str) -> Any:
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"unable to remove nonexistent key: {token}: missing value")
        return parent.pop(token)
    if isinstance(parent, list):
        return parent.pop(_index(parent, token, pointer, allow_end=False))
    raise PatchError(f"cannot remove {pointer!r}")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 add/remove/replace/move/copy/test, applied in order to a copy of ``target``."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations", code=400)
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}", code=400)
        kind, path = op["op"], op["path"]
        if kind in {"add", "replace", "test"} and "value" not in op:
            raise PatchError(f"operation {kind} at {path!r} has no value", code=400)
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            if path == "":
                doc = copy.deepcopy(op["value"])
                continue
            _get(doc, path)  # must exist
            parent, token = _parent(doc, path)
            if isinstance(parent, list):
                parent[_index(parent, token, path, allow_end=False)] = copy.deepcopy(op["value"])
            else:
                parent[token] = copy.deepcopy(op["value"])
        elif kind in {"move", "copy"}:
            source = op.get("from")
            if source is None:
                raise PatchError(f"operation {kind} has no 'from'", code=400)
            if kind == "move" and (path + "/").startswith(source + "/") and path != source:
                raise PatchError(f"cannot move {source!r} into its own child {path!r}")
            value = copy.deepcopy(_get(doc, source))
            if kind == "move":
                _remove(doc, source)
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}", code=400)
    return doc
