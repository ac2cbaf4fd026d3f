"""`.hotfix.yml` -> validated, frozen dataclasses.

The file comes from ``--config`` or ``HOTFIX_CONFIG`` (resolved by the CLI), else ``.hotfix.yml`` at the repository
root; an absent default file means defaults. Each top-level section has a JSON Schema in ``schemas/<section>.json``
and a frozen dataclass registered in ``SECTIONS``; the schema shipped to editors is their composition.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from hotfix_actions.config._build import SectionConfig, build, to_plain
from hotfix_actions.errors import ConfigError

__all__ = ["SECTIONS", "Config", "SectionConfig", "load", "schema"]

# section name -> "module:Class"; each class has SECTION and is a frozen dataclass with defaults.
SECTIONS: dict[str, str] = {
    "repository": "hotfix_actions.config.repository:RepositoryConfig",
    "validate": "hotfix_actions.config.validate:ValidateConfig",
    "merge_back": "hotfix_actions.config.merge_back:MergeBackConfig",
    "notify": "hotfix_actions.config.notify:NotifyConfig",
    "db": "hotfix_actions.config.db:DbConfig",
    "cluster": "hotfix_actions.config.cluster:ClusterConfig",
    "rollback": "hotfix_actions.config.rollback:RollbackConfig",
    "promote": "hotfix_actions.config.promote:PromoteConfig",
    "canary": "hotfix_actions.config.canary:CanaryConfig",
    "security": "hotfix_actions.config.security:SecurityConfig",
    "fleet": "hotfix_actions.config.fleet:FleetConfig",
}

_SCHEMA_DIR = Path(__file__).with_name("schemas")
S = TypeVar("S", bound=SectionConfig)


@cache
def schema() -> dict[str, Any]:
    """The composed JSON Schema of `.hotfix.yml`."""
    properties: dict[str, Any] = {}
    for name in SECTIONS:
        properties[name] = json.loads((_SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/hotfix-actions/hotfix-actions/schemas/hotfix.schema.json",
        "title": ".hotfix.yml",
        "description": "Configuration of hotfix-actions. Every key is optional; absent keys take the defaults.",
        "type": "object",
        "additionalProperties": False,
        "properties": {"version": {"const": 1, "description": "Format version of this file."}, **properties},
    }


def _section_class(name: str) -> type[SectionConfig]:
    module, _, attr = SECTIONS[name].partition(":")
    cls: type[SectionConfig] = getattr(importlib.import_module(module), attr)
    return cls


@dataclass(frozen=True)
class Config:
    """The validated document; sections are built (and cached) on first use."""

    path: str | None = None
    document: Mapping[str, Any] = field(default_factory=dict)
    _cache: dict[str, SectionConfig] = field(default_factory=dict, compare=False, repr=False)

    def section(self, cls: type[S]) -> S:
        name = cls.SECTION
        if name not in self._cache:
            self._cache[name] = build(cls, self.document.get(name) or {})
        found = self._cache[name]
        assert isinstance(found, cls)
        return found

    def effective(self) -> dict[str, Any]:
        """Every section with its defaults filled in: what `hotfix config show` prints."""
        result: dict[str, Any] = {"version": 1}
        for name in SECTIONS:
            result[name] = to_plain(self.section(_section_class(name)))
        return result


def load(path: str | Path | None, *, required: bool = False, overrides: Mapping[str, Any] | None = None) -> Config:
    """Load and validate `.hotfix.yml`. ``required`` is set when the path was named explicitly."""
    document: dict[str, Any] = {}
    shown: str | None = None
    if path is not None:
        p = Path(path)
        shown = str(path)
        if p.is_file():
            from hotfix_actions.config._yaml import parse_and_validate

            document = parse_and_validate(p, schema())
        elif required:
            raise ConfigError(
                "file not found", file=shown, fix="pass an existing file with --config or HOTFIX_CONFIG, or omit it"
            )
        else:
            shown = None
    for key, value in (overrides or {}).items():
        section, _, name = key.partition(".")
        document.setdefault(section, {})[name] = value
    return Config(path=shown, document=document)
