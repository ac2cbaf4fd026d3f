"""Build frozen section dataclasses from validated mappings, and back to plain data."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from hotfix_actions.decide.durations import parse_duration

__all__ = ["SectionConfig", "build", "to_plain"]


class SectionConfig:
    """Marker base: a frozen dataclass for one top-level key of `.hotfix.yml`."""

    SECTION: ClassVar[str] = ""


T = TypeVar("T")


def _convert(tp: Any, value: Any) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return build(tp, value or {})
    if origin is tuple:
        args = typing.get_args(tp)
        inner = args[0] if args else Any
        return tuple(_convert(inner, v) for v in value)
    if origin in (dict, Mapping) or tp is dict:
        args = typing.get_args(tp)
        inner = args[1] if len(args) == 2 else Any
        return types.MappingProxyType({k: _convert(inner, v) for k, v in value.items()})
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        for arg in typing.get_args(tp):
            if arg is not type(None):
                return _convert(arg, value)
    if tp is float and isinstance(value, int):
        return float(value)
    if tp in (float, int) and isinstance(value, str):
        # a duration ("90s", "5m", "1h30m"): the schema's x-duration already checked its form and bounds
        seconds = parse_duration(value)
        return seconds if tp is float else int(seconds)
    return value


def build(cls: type[T], mapping: Mapping[str, Any]) -> T:
    """Build ``cls`` from a mapping that already passed the schema; absent keys keep their defaults."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in mapping:
            kwargs[f.name] = _convert(hints[f.name], mapping[f.name])
    return cls(**kwargs)


def to_plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [to_plain(v) for v in obj]
    return obj
