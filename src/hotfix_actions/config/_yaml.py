"""Parse `.hotfix.yml` with pyyaml, keep line numbers, validate against the JSON Schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hotfix_actions.config._limits import check_nodes, clip, quote_limited, read_limited
from hotfix_actions.errors import ConfigError

__all__ = ["parse_and_validate"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _line_of(node: yaml.Node | None, path: list[str | int]) -> tuple[int | None, yaml.Node | None]:
    """The 1-based line of the value at ``path``; the deepest node found when the path goes further."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == part:
                    node = value_node
                    line = key_node.start_mark.line + 1
                    break
            else:
                return line, node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line, node
    return line, node


def parse_and_validate(path: Path, schema: dict[str, Any]) -> dict[str, Any]:
    shown = str(path)
    text = read_limited(path, shown)
    try:
        root = yaml.compose(text, Loader=_Loader)
        if root is not None:
            check_nodes(root, shown)  # before anything expands its aliases
        document = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(
            f"is not valid YAML: {clip(str(exc.problem or exc))}",
            file=shown,
            line=line,
            fix="fix the YAML syntax on that line",
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"is not valid YAML: {clip(str(exc))}", file=shown, fix="fix the YAML syntax") from exc
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError("must be a mapping of sections", file=shown, line=1, fix="start with e.g. 'validate:'")

    from hotfix_actions.config._schema_errors import describe, first_error

    error = first_error(schema, document)
    if error is not None:
        path_parts, message, fix = describe(error)
        line, _ = _line_of(root, path_parts)
        key = clip(".".join(map(str, path_parts)), 100) or None
        message, fix = quote_limited(message, error.instance), quote_limited(fix, error.instance)
        raise ConfigError(message, file=shown, line=line, key=key, fix=fix)
    return document
