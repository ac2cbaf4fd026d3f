"""Limits that keep reading `.hotfix.yml` fast and small whatever the file holds.

A configuration is a few hundred values. A hostile or broken file must not hang the loader or fill the memory:
- the file is read up to 1 MiB (a larger one is refused before it is parsed);
- the composed document may hold at most 10,000 values *after* anchors and aliases are expanded, so an alias bomb
  (``a: &a [x, x]``, ``b: &b [*a, *a]``, ...) is refused before the JSON Schema walks it (the schema validator, and
  its messages, would expand every alias: exponential time and memory);
- at most 32 levels of nesting, and no alias that contains itself;
- a key written twice in one mapping is an error naming both lines (YAML loaders silently keep the last one);
- a message quotes at most ``QUOTE_LIMIT`` characters of any value or key.
The walk over the composed nodes is iterative and visits each node once.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from hotfix_actions.errors import ConfigError

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "QUOTE_LIMIT",
    "check_nodes",
    "clip",
    "quote_limited",
    "read_limited",
]

MAX_BYTES = 1 << 20
MAX_VALUES = 10_000
MAX_DEPTH = 32
QUOTE_LIMIT = 200


def clip(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def quote_limited(message: str, value: object) -> str:
    """A message about ``value`` with at most ``QUOTE_LIMIT`` characters of it (as written or as repr shows it), and
    at most 500 characters in all."""
    if isinstance(value, str) and len(value) > QUOTE_LIMIT:
        for form in (repr(value)[1:-1], value):
            message = message.replace(form, clip(form))
    return clip(message, 500)


def read_limited(path: Path, shown: str) -> str:
    """The file's text, read up to ``MAX_BYTES`` (a larger file is refused without reading it all)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot be read: {exc}", file=shown, fix="make it a readable UTF-8 file") from exc
    if len(data) > MAX_BYTES:
        raise ConfigError(
            f"is larger than {MAX_BYTES // 1024} KiB",
            file=shown,
            fix="a configuration is a few kilobytes: keep only the keys you change from the defaults",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"is not UTF-8 text (byte {exc.start + 1})", file=shown, fix="save it as UTF-8") from exc


def _key_text(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


def _path_text(path: tuple[str, ...]) -> str:
    return clip(".".join(path), 100)


def check_nodes(root: yaml.Node, shown: str) -> None:
    """Refuse duplicate keys, self-containing aliases, deep nesting and documents that expand (through aliases)
    to more than ``MAX_VALUES`` values. Iterative; each node is examined once, its expanded size memoised."""
    size: dict[int, int] = {}
    on_path: set[int] = set()
    # (node, key path, depth, children pushed?)
    stack: list[tuple[yaml.Node, tuple[str, ...], int, bool]] = [(root, (), 0, False)]
    while stack:
        node, path, depth, expanded = stack.pop()
        ident = id(node)
        line = node.start_mark.line + 1
        if expanded:
            on_path.discard(ident)
            children = _children(node)
            total = 1 + sum(size[id(child)] for _, child in children)
            if total > MAX_VALUES:
                raise ConfigError(
                    f"holds more than {MAX_VALUES:,} values once its anchors and aliases (&name, *name) are expanded",
                    file=shown,
                    line=line,
                    key=_path_text(path) or None,
                    fix="write the values out; a configuration needs a few hundred at most",
                )
            size[ident] = total
            continue
        if ident in on_path:
            raise ConfigError(
                "contains itself through an alias (*name inside its own &name)",
                file=shown,
                line=line,
                key=_path_text(path) or None,
                fix="remove the alias",
            )
        if ident in size:
            continue  # an alias of a node already examined: its size is known
        if depth > MAX_DEPTH:
            raise ConfigError(
                f"is nested more than {MAX_DEPTH} levels deep",
                file=shown,
                line=line,
                key=_path_text(path) or None,
                fix="a configuration is a few levels deep; flatten it",
            )
        if isinstance(node, yaml.MappingNode):
            _check_duplicates(node, path, shown)
        on_path.add(ident)
        stack.append((node, path, depth, True))
        for key, child in _children(node):
            stack.append((child, (*path, key) if key is not None else path, depth + 1, False))


def _children(node: yaml.Node) -> list[tuple[str | None, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        pairs: list[tuple[str | None, yaml.Node]] = []
        for key_node, value_node in node.value:
            pairs += [(None, key_node), (_key_text(key_node), value_node)]
        return pairs
    if isinstance(node, yaml.SequenceNode):
        return [(str(i), child) for i, child in enumerate(node.value)]
    return []


def _check_duplicates(node: yaml.MappingNode, path: tuple[str, ...], shown: str) -> None:
    first_line: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue
        ident = (key_node.tag, key_node.value)
        line = key_node.start_mark.line + 1
        if ident in first_line:
            raise ConfigError(
                f"is written twice, on lines {first_line[ident]} and {line}; YAML would silently keep the second",
                file=shown,
                line=line,
                key=_path_text((*path, str(key_node.value))),
                fix="keep one of them",
            )
        first_line[ident] = line
