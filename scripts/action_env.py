"""The job's environment for scripts/action-setup.sh (standard library only): where its packages come from, and the
proof that nothing changed it.

    place     every locked wheel this Python needs is imported from its unpacked folder (one per wheel, named by the
              wheel's SHA-256, shared by the jobs of a runner), checked file by file against the RECORD inside the
              checked wheel (every file's SHA-256, no file more or less, none writable by others) and unpacked anew
              from the checked wheel when it differs; the folders are listed in the environment's deps .pth
    manifest  one line per entry of the environment (type, mode, SHA-256 or link target); its digest is printed
    check     why the job's environment cannot be reused by a later action of the job: owner, mode, the manifest,
              and every placed folder checked again

A wheel's own RECORD is trusted only because the wheel's bytes hash to a value of the lock (checked by
action_wheels.py while copying it into the job's folder); nothing in a shared folder is trusted without that check.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import csv
import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from action_wheels import CHUNK, _markers, _sha256, read_lock, shown, wheel_key, wheel_tags


def _record(wheel: zipfile.ZipFile) -> dict[str, str]:
    """The wheel's RECORD: path -> SHA-256 hex ('' for the entries without a hash, RECORD itself)."""
    name = next((n for n in wheel.namelist() if re.fullmatch(r"[^/]+\.dist-info/RECORD", n)), None)
    if name is None:
        return {}
    found: dict[str, str] = {}
    for row in csv.reader(io.StringIO(wheel.read(name).decode("utf-8"))):
        if not row:
            continue
        digest = ""
        if len(row) > 1 and row[1].startswith("sha256="):
            raw = row[1].removeprefix("sha256=")
            digest = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).hex()
        found[row[0]] = digest
    return found


def _members(wheel: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo] | None:
    """The files of a wheel this set-up can place as they are (None: one it cannot, e.g. with a .data folder)."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in wheel.infolist():
        name = info.filename
        parts = name.split("/")
        if name.startswith("/") or ".." in parts or "\\" in name or parts[0].endswith(".data"):
            return None
        if not info.is_dir():
            members[name] = info
    return members


def unpacked_problem(folder: Path, wheel_path: Path) -> str | None:
    """Why `folder` is not exactly the checked wheel `wheel_path` unpacked: every file, its bytes and mode."""
    try:
        info = os.lstat(folder)
    except OSError:
        return "it is missing"
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a plain folder (a symbolic link?)"
    with zipfile.ZipFile(wheel_path) as wheel:
        members = _members(wheel)
        record = _record(wheel)
        if members is None or not record:
            return "the wheel cannot be placed as it is"
        seen: set[str] = set()
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
            for name in [*dirnames, *filenames]:
                path = Path(dirpath) / name
                rel = path.relative_to(folder).as_posix()
                mode = os.lstat(path)
                if stat.S_IMODE(mode.st_mode) & 0o022:
                    return f"{shown(rel)} may be written by others"
                if stat.S_ISDIR(mode.st_mode):
                    continue
                if not stat.S_ISREG(mode.st_mode):
                    return f"{shown(rel)} is not a regular file"
                if rel not in members:
                    return f"{shown(rel)} is not in the wheel"
                expected = record.get(rel) or hashlib.sha256(wheel.read(members[rel])).hexdigest()
                if _sha256(path) != expected:
                    return f"{shown(rel)} differs from the wheel"
                seen.add(rel)
        if seen != set(members):
            return f"{len(set(members) - seen)} file(s) of the wheel are missing"
    return None


def _unpack(wheel_path: Path, store: Path) -> Path:
    tmp = Path(tempfile.mkdtemp(dir=store, prefix=".unpack-"))
    with zipfile.ZipFile(wheel_path) as wheel:
        members = _members(wheel) or {}
        for name, info in members.items():
            target = tmp / name
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            with wheel.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            target.chmod(0o755 if (info.external_attr >> 16) & 0o111 else 0o644)
    tmp.chmod(0o755)
    return tmp


def place(lock: list[Path], wheels: Path, store: Path) -> tuple[list[Path], list[str]]:
    """The unpacked folder of every locked wheel this Python needs, checked file by file against the wheel's RECORD;
    a missing or changed folder is unpacked anew from the checked wheel. ([], reasons) when one cannot be placed."""
    try:
        from pip._vendor.packaging.markers import Marker
        from pip._vendor.packaging.tags import sys_tags
    except ImportError:
        return [], ["pip is not installed for this Python (needed to pick wheels)"]
    allowed = read_lock(lock)
    markers = _markers(lock)
    rank = {str(tag): i for i, tag in enumerate(sys_tags())}
    store.mkdir(parents=True, exist_ok=True)
    by_key: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    for path in wheels.glob("*.whl"):
        key = wheel_key(path.name)
        score = min((rank[tag] for tag in wheel_tags(path.name) if tag in rank), default=None)
        if key in allowed and score is not None:
            by_key.setdefault(key, []).append((score, path))  # type: ignore[arg-type]
    placed: list[Path] = []
    notes: list[str] = []
    for key in sorted(allowed):
        if markers.get(key) and not Marker(markers[key]).evaluate():
            continue
        if key not in by_key:
            return [], [f"no wheel of {key[0]} {key[1]} for this Python in the job's folder"]
        wheel = min(by_key[key])[1]
        digest = _sha256(wheel)
        if digest not in allowed[key]:
            return [], [f"the wheel of {key[0]} {key[1]} in the job's folder changed"]
        folder = store / digest
        problem = unpacked_problem(folder, wheel) if os.path.lexists(folder) else "absent"
        if problem:
            fresh = _unpack(wheel, store)
            if unpacked_problem(fresh, wheel) is not None:
                shutil.rmtree(fresh, ignore_errors=True)
                return [], [f"{key[0]} {key[1]} cannot be placed as it is"]
            if os.path.lexists(folder):
                notes.append(f"unpacked {key[0]} {key[1]} again: the shared copy changed ({problem})")
                aside = Path(tempfile.mkdtemp(dir=store, prefix=".bad-"))
                os.rename(folder, aside / "old")
                shutil.rmtree(aside, ignore_errors=True)
            try:
                os.rename(fresh, folder)
            except OSError:  # another job placed it meanwhile: use theirs only if it checks
                shutil.rmtree(fresh, ignore_errors=True)
                if unpacked_problem(folder, wheel) is not None:
                    return [], [f"{key[0]} {key[1]}: the shared copy changed while this job placed it"]
        placed.append(folder)
    return placed, notes


def cmd_place(args: argparse.Namespace) -> int:
    try:
        placed, notes = place(args.lock, Path(args.wheels), Path(args.store))
    except OSError as exc:  # e.g. a tool cache this job may not write: uv installs into the job's folder instead
        placed, notes = [], [f"could not use the folder of unpacked wheels ({exc.strerror or type(exc).__name__})"]
    for note in notes:
        print(note)
    if not placed:
        return 4
    Path(args.out).write_text("".join(f"{p}\n" for p in placed), encoding="utf-8")
    print(f"placed={len(placed)}")
    return 0


def manifest(root: Path) -> list[str]:
    """One line per entry under `root`, sorted: path, type, mode, and SHA-256 (files) or target (links)."""
    entries: list[tuple[str, str, str, Path | str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted([*dirnames, *filenames]):
            path = Path(dirpath) / name
            rel = json.dumps(path.relative_to(root).as_posix())
            info = os.lstat(path)
            mode = f"{stat.S_IMODE(info.st_mode):04o}"
            if stat.S_ISLNK(info.st_mode):
                entries.append((rel, "link", mode, json.dumps(os.readlink(path))))
            elif stat.S_ISDIR(info.st_mode):
                entries.append((rel, "dir", mode, "-"))
            elif stat.S_ISREG(info.st_mode):
                entries.append((rel, "file", mode, path))
            else:
                entries.append((rel, "other", mode, "-"))
    files = [e[3] for e in entries if isinstance(e[3], Path)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:  # hashlib lets go of the GIL on big reads
        digests = dict(zip(files, pool.map(_sha256, files), strict=True))
    return sorted(
        f"{rel} {kind} {mode} {digests[last] if isinstance(last, Path) else last}" for rel, kind, mode, last in entries
    )


def cmd_manifest(args: argparse.Namespace) -> int:
    """Write the manifest of `root` to `out` and print its SHA-256 (the value a later step checks it against)."""
    text = "".join(line + "\n" for line in manifest(Path(args.root)))
    Path(args.out).write_text(text, encoding="utf-8")
    print(hashlib.sha256(text.encode()).hexdigest())
    return 0


def home_problems(home: Path, digest: str) -> list[str]:
    """Why the job's set-up folder cannot be reused: who owns it, who may write it, and what changed inside."""
    try:
        info = os.lstat(home)
    except OSError:
        return ["it no longer exists"]
    if not stat.S_ISDIR(info.st_mode):
        return ["it is not a plain folder (a symbolic link?)"]
    if info.st_uid != os.geteuid():
        return ["another user owns it"]
    if stat.S_IMODE(info.st_mode) & 0o077:
        return [f"others may enter or write it (mode {stat.S_IMODE(info.st_mode):04o}, expected 0700)"]
    recorded = home / "manifest"
    try:
        text = recorded.read_text(encoding="utf-8")
    except OSError:
        return ["its manifest is missing"]
    if hashlib.sha256(text.encode()).hexdigest() != digest:
        return ["its manifest was changed"]
    before = {ln.split(" ", 1)[0]: ln for ln in text.splitlines() if ln}
    now = {ln.split(" ", 1)[0]: ln for ln in manifest(home / "venv")}
    said: list[str] = []
    for key in sorted(set(before) | set(now)):
        name = shown(json.loads(key))
        if key not in now:
            said.append(f"{name} is missing")
        elif key not in before:
            said.append(f"{name} was added")
        elif before[key] != now[key]:
            old, new = before[key].split(" ")[1:3], now[key].split(" ")[1:3]
            what = "its type" if old[0] != new[0] else "its mode" if old[1] != new[1] else "its content or target"
            said.append(f"{name}: {what} changed")
    if not said:
        said = _placed_problems(home)
    return said


def _placed_problems(home: Path) -> list[str]:
    """Each folder the environment imports from (its deps .pth) is still exactly its wheel from the job's folder."""
    listing = next((home / "venv" / "lib").glob("python3*/site-packages/hotfix_actions_deps.pth"), None)
    if listing is None:
        return []
    by_digest = {_sha256(p): p for p in (home / "wheels").glob("*.whl")}
    for line in listing.read_text(encoding="utf-8").splitlines():
        folder = Path(line)
        wheel = by_digest.get(folder.name)
        if wheel is None:
            return [f"{shown(folder.name)}: no checked wheel for it in the job's folder"]
        problem = unpacked_problem(folder, wheel)
        if problem:
            return [f"the shared copy of {shown(wheel.name)} changed ({problem})"]
    return []


def cmd_check(args: argparse.Namespace) -> int:
    said = home_problems(Path(args.home), args.digest)
    if said:
        print("; ".join(said[:3]) + (f"; and {len(said) - 3} more" if len(said) > 3 else ""))
    return 1 if said else 0
