#!/usr/bin/env python3
"""The lock files of the actions' set-up: generate them, and say where they disagree with pyproject.toml.

    .venv/bin/python scripts/action_lock.py          # regenerate requirements/action.lock and action-tools.lock
    .venv/bin/python scripts/action_lock.py --check  # exit 1 and say why when a lock no longer matches pyproject.toml

`requirements/action.lock` pins every runtime dependency of the package (the closure of `[project].dependencies`)
with the SHA-256 of every file PyPI has for that version, for every platform and Python >= 3.11 (`uv pip compile
--universal --generate-hashes`). `requirements/action-tools.lock` pins the installer, uv, the same way, at the version
of the `dev` extra. scripts/action-setup.sh installs from them with --require-hashes only.

The check needs no network: the lock's header records a digest of the dependency list it was made from, every
dependency named in pyproject.toml must be pinned at a version its specifier allows, every pin must carry hashes, and
every pin must be needed by something (uv's `# via` notes lead back to the package).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "action.lock"
TOOLS_LOCK = ROOT / "requirements" / "action-tools.lock"
PROJECT = "hotfix-actions"
DIGEST_LINE = "# pyproject-dependencies-sha256: "
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    name: str
    version: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def dependencies(pyproject_text: str) -> list[str]:
    return list(tomllib.loads(pyproject_text)["project"]["dependencies"])


def dev_requirement(pyproject_text: str, name: str) -> str | None:
    for req in tomllib.loads(pyproject_text)["project"].get("optional-dependencies", {}).get("dev", []):
        match = _NAME.match(req)
        if match and normalize(match.group(1)) == normalize(name):
            return str(req)
    return None


def dependencies_digest(deps: list[str]) -> str:
    canonical = sorted(re.sub(r"\s+", "", d) for d in deps)
    return hashlib.sha256(json.dumps(canonical).encode()).hexdigest()


def parse_lock(text: str) -> dict[str, Pin]:
    """name -> Pin, from a `--generate-hashes` requirements file with uv's `# via` notes."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    in_via = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            note = line.lstrip("#").strip()
            if current is not None and note.startswith("via"):
                rest = note[3:].strip()
                in_via = True
                if rest:
                    current.via.append(rest)
            elif current is not None and in_via and note:
                current.via.append(note)
            continue
        in_via = False
        if line.startswith("--hash="):
            if current is not None:
                current.hashes.append(line.removeprefix("--hash=").rstrip("\\").strip())
            continue
        spec = line.rstrip("\\").strip().split(";", 1)[0].strip()
        if "==" not in spec:
            current = None
            continue
        name, version = spec.split("==", 1)
        current = Pin(name.strip(), version.strip())
        pins[normalize(current.name)] = current
        for part in line.split()[1:]:
            if part.startswith("--hash="):
                current.hashes.append(part.removeprefix("--hash="))
    return pins


def problems(pyproject_text: str, lock_text: str) -> list[str]:
    """Why the lock does not match pyproject.toml's dependencies, in words (empty: it matches)."""
    from packaging.requirements import Requirement

    found: list[str] = []
    deps = dependencies(pyproject_text)
    recorded = next(
        (ln.removeprefix(DIGEST_LINE).strip() for ln in lock_text.splitlines() if ln.startswith(DIGEST_LINE)), ""
    )
    if recorded != dependencies_digest(deps):
        found.append(
            "requirements/action.lock was made from another dependency list than pyproject.toml's "
            "[project].dependencies: run `.venv/bin/python scripts/action_lock.py` and commit the result"
        )
    pins = parse_lock(lock_text)
    if not pins:
        return [*found, "requirements/action.lock pins no package: regenerate it with scripts/action_lock.py"]
    for dep in deps:
        req = Requirement(dep)
        pin = pins.get(normalize(req.name))
        if pin is None:
            found.append(f"pyproject.toml needs {req.name} but requirements/action.lock does not pin it")
        elif req.specifier and not req.specifier.contains(pin.version, prereleases=True):
            found.append(
                f"requirements/action.lock pins {pin.name}=={pin.version}, "
                f"outside pyproject.toml's {req.name}{req.specifier}"
            )
    for key, pin in pins.items():
        if not pin.hashes or not all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in pin.hashes):
            found.append(
                f"requirements/action.lock pins {pin.name} without SHA-256 hashes (--require-hashes needs them)"
            )
        if not _needed(key, pins, set()):
            found.append(f"requirements/action.lock pins {pin.name}, which nothing in pyproject.toml needs")
    return found


def _needed(key: str, pins: dict[str, Pin], seen: set[str]) -> bool:
    if key in seen:
        return False
    seen.add(key)
    for via in pins[key].via:
        for item in via.split(","):
            words = item.split()
            source = normalize(words[0]) if words else ""
            if source == PROJECT or (source in pins and _needed(source, pins, set(seen))):
                return True
    return False


def tools_problems(pyproject_text: str, tools_text: str) -> list[str]:
    found: list[str] = []
    pins = parse_lock(tools_text)
    uv = pins.get("uv")
    dev = dev_requirement(pyproject_text, "uv") or ""
    if uv is None:
        return ["requirements/action-tools.lock does not pin uv: regenerate it with scripts/action_lock.py"]
    if dev != f"uv=={uv.version}":
        found.append(
            f"requirements/action-tools.lock pins uv=={uv.version} but the dev extra asks for {dev or 'no uv'}: "
            "pin the same version in both (scripts/action_lock.py writes the dev version)"
        )
    if not uv.hashes:
        found.append("requirements/action-tools.lock pins uv without hashes")
    if set(pins) != {"uv"}:
        found.append("requirements/action-tools.lock must pin uv alone (its wheel has no dependencies)")
    return found


HEADER = """\
# {name}: {what}
# Generated by scripts/action_lock.py from pyproject.toml; do not edit by hand. scripts/action-setup.sh installs
# from it with --require-hashes; tests/test_action_setup.py checks it still matches pyproject.toml.
"""


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if not found:
        raise SystemExit("uv is not installed: pip install -e '.[dev]' (the dev extra has it)")
    return found


def _compile(source: Path, *extra: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.txt"
        subprocess.run(
            [_uv(), "pip", "compile", "--quiet", "--no-config", "--universal", "--generate-hashes",
             "--python-version", "3.11", "--no-header", "--annotation-style", "line", *extra,
             "-o", str(out), str(source)],
            cwd=ROOT, check=True,
        )  # fmt: skip
        return out.read_text()


def generate() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    body = _compile(Path("pyproject.toml"))
    LOCK.parent.mkdir(exist_ok=True)
    LOCK.write_text(
        HEADER.format(
            name="requirements/action.lock", what="the runtime dependencies of hotfix-actions, pinned with hashes"
        )
        + DIGEST_LINE
        + dependencies_digest(dependencies(text))
        + "\n"
        + body
    )
    uv = dev_requirement(text, "uv")
    if uv is None or "==" not in uv:
        raise SystemExit("pin uv in the dev extra of pyproject.toml (uv==X.Y.Z): the actions install that version")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "tools.in"
        spec.write_text(uv + "\n")
        tools = _compile(spec)
    tools = re.sub(r"\s*# via -r \S+", "", tools)
    TOOLS_LOCK.write_text(
        HEADER.format(name="requirements/action-tools.lock", what="the installer (uv), pinned with hashes") + tools
    )
    print(
        f"wrote {LOCK.relative_to(ROOT)} ({len(parse_lock(LOCK.read_text()))} packages) "
        f"and {TOOLS_LOCK.relative_to(ROOT)}"
    )


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        text = (ROOT / "pyproject.toml").read_text()
        found = problems(text, LOCK.read_text()) + tools_problems(text, TOOLS_LOCK.read_text())
        for line in found:
            print(line)
        return 1 if found else 0
    if argv[1:]:
        print("usage: scripts/action_lock.py [--check]", file=sys.stderr)
        return 2
    generate()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
