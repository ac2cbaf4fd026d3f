"""Semantic versions, release tags and the version a repository declares."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["SemVer", "bump_declared", "declared_version", "highest_release"]

_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")


@dataclass(frozen=True, order=True)
class SemVer:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> SemVer | None:
        m = _SEMVER.match(text)
        if not m:
            return None
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)))

    def next_patch(self) -> SemVer:
        return SemVer(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def highest_release(tag_names: Iterable[str], prefix: str) -> tuple[SemVer, str] | None:
    """The highest tag that is exactly ``<prefix>X.Y.Z`` (pre-releases and other tags are ignored)."""
    best: tuple[SemVer, str] | None = None
    for name in tag_names:
        if not name.startswith(prefix):
            continue
        v = SemVer.parse(name[len(prefix) :])
        if v is not None and (best is None or v > best[0]):
            best = (v, name)
    return best


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def declared_version(path: str, text: str) -> str | None:
    """The version a file declares, or None when this file declares none (dynamic, absent)."""
    name = _basename(path)
    import tomllib

    try:
        if name == "pyproject.toml":
            data = tomllib.loads(text)
            project = data.get("project") or {}
            if isinstance(project.get("version"), str):
                return str(project["version"])
            poetry = (data.get("tool") or {}).get("poetry") or {}
            return str(poetry["version"]) if isinstance(poetry.get("version"), str) else None
        if name == "package.json":
            data = json.loads(text)
            return str(data["version"]) if isinstance(data, dict) and isinstance(data.get("version"), str) else None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeError):
        return "<unparseable>"
    if name == "VERSION":
        stripped = text.strip()
        return stripped or None
    if name == "setup.cfg":
        m = re.search(r"^\s*version\s*=\s*([^\s#]+)\s*$", text, re.MULTILINE)
        return m.group(1) if m and not m.group(1).startswith(("attr:", "file:")) else None
    if name == "Chart.yaml":
        m = re.search(r"^appVersion:\s*[\"']?([^\"'\s#]+)", text, re.MULTILINE)
        return m.group(1) if m else None
    return None


def bump_declared(path: str, text: str, new: str) -> str | None:
    """``text`` with its declared version replaced by ``new``, keeping its formatting; None if not found."""
    old = declared_version(path, text)
    if old is None or old == "<unparseable>":
        return None
    name = _basename(path)
    esc = re.escape(old)
    patterns = {
        "pyproject.toml": rf"(?m)^(version\s*=\s*[\"']){esc}([\"'])",
        "package.json": rf"(\"version\"\s*:\s*\"){esc}(\")",
        "setup.cfg": rf"(?m)^(\s*version\s*=\s*){esc}()",
        "Chart.yaml": rf"(?m)^(appVersion:\s*[\"']?){esc}()",
    }
    if name == "VERSION":
        return text.replace(old, new, 1)
    pattern = patterns.get(name)
    if pattern is None:
        return None
    result, n = re.subn(pattern, lambda m: f"{m.group(1)}{new}{m.group(2)}", text, count=1)
    return result if n == 1 else None
