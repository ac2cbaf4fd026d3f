"""Semantic versions, release tags and the version a repository declares."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["SemVer", "bump_declared", "declared_version", "highest_release", "version_problem"]

_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")


@dataclass(frozen=True, order=True)
class SemVer:
    major: int
    minor: int
    patch: int

    @classmethod
    def parse(cls, text: str) -> SemVer | None:
        m = _SEMVER.fullmatch(text)
        if not m:
            return None
        return cls(int(m.group(1)), int(m.group(2)), int(m.group(3)))

    def next_patch(self) -> SemVer:
        return SemVer(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


def version_problem(text: str) -> str | None:
    """Why ``text`` is not a release version X.Y.Z, in words with a corrected example, or None."""
    if SemVer.parse(text) is not None:
        return None
    if not text:
        return "is empty: a version is three numbers X.Y.Z (e.g. 1.4.3)"
    if text[0] in "vV" and SemVer.parse(text[1:]) is not None:
        return f"starts with {text[0]!r}: write the version without it (e.g. {text[1:]})"
    parts = text.split(".")
    for i, c in enumerate(text):
        if not (c.isascii() and (c.isdigit() or c == ".")):
            shown = repr(c) if c.isprintable() and not c.isspace() else f"U+{ord(c):04X}"
            return f"has {shown} at position {i + 1}: a version is three numbers X.Y.Z, digits and dots (e.g. 1.4.3)"
    if len(parts) != 3:
        fixed = ".".join([*parts, "0", "0"][:3]) if all(p.isdigit() for p in parts) else "1.4.3"
        many = f"{len(parts)} number{'s' if len(parts) != 1 else ''}"
        return f"has {many}: a version is three numbers X.Y.Z (e.g. {fixed})"
    if any(not p for p in parts):
        return "has an empty number between dots: a version is three numbers X.Y.Z (e.g. 1.4.3)"
    fixed = ".".join(str(int(p)) for p in parts)
    return f"has a number with a leading zero: write {fixed}"


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
