#!/usr/bin/env python3
"""Wheel handling for scripts/action-setup.sh (standard library only: it runs before the package is installed).

    gather   1. copy every wheel of the runner's shared wheelhouse whose SHA-256 the lock lists into the job's own
                folder (hashed while copied, so what was checked is what gets installed); ignore everything else;
             2. download from the index, in parallel, the wheels this Python needs that are still missing (the file
                pip would pick: best tag), each kept only when it hashes to a value of the lock;
             3. with --bin, unpack the uv program from the checked uv wheel (only when uv is needed)
    keep     copy the job's checked wheels into the shared wheelhouse for later jobs (atomically)
    place, manifest, check: see action_env.py (the job's environment)

Nothing found in the shared wheelhouse is trusted: another job on the same runner can write there. A file counts only
when its bytes hash to a value the lock (kept in the action's own checkout) lists for that name and version; names
are printed only when they are plain wheel names, never raw.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import html
import os
import re
import socket
import stat
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

WHEEL = re.compile(
    r"^(?P<name>[A-Za-z0-9_.]+)-(?P<version>[A-Za-z0-9_.!+]+)(-\d[A-Za-z0-9_.]*)?"
    r"-(?P<tags>[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+)\.whl$"
)
ANCHOR = re.compile(rb'href="(?P<href>[^"#]+)#sha256=(?P<digest>[0-9a-f]{64})"[^>]*>(?P<text>[^<]*)</a>')
PLAIN = re.compile(r"^[A-Za-z0-9._+/=-]+$")
MAX_WHEEL = 200 * 1024 * 1024
CHUNK = 1024 * 1024


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def shown(name: str) -> str:
    """A name from an untrusted folder, printable only when it is plain (no ':', '#', '%', '[' or line breaks)."""
    return name if PLAIN.match(name) and len(name) < 200 else "<a file with an unusual name>"


def read_lock(paths: Iterable[Path]) -> dict[tuple[str, str], set[str]]:
    """(normalized name, version) -> allowed sha256 hex digests."""
    allowed: dict[tuple[str, str], set[str]] = {}
    for path in paths:
        current: set[str] | None = None
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip().rstrip("\\").strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("--hash=sha256:"):
                if current is not None:
                    current.add(line.removeprefix("--hash=sha256:").lower())
                continue
            spec = line.split(";", 1)[0].split()[0] if line.split(";", 1)[0].split() else ""
            if "==" in spec:
                name, version = spec.split("==", 1)
                current = allowed.setdefault((normalize(name), version), set())
            else:
                current = None
    return allowed


def wheel_key(filename: str) -> tuple[str, str] | None:
    match = WHEEL.match(filename)
    return (normalize(match["name"]), match["version"]) if match else None


def wheel_tags(filename: str) -> frozenset[str]:
    match = WHEEL.match(filename)
    if not match:
        return frozenset()
    py, abi, plat = match["tags"].split("-")
    return frozenset(f"{a}-{b}-{c}" for a in py.split(".") for b in abi.split(".") for c in plat.split("."))


def copy_checked(source: Path, dest_dir: Path, allowed: set[str]) -> str | None:
    """Copy `source` into `dest_dir` when its bytes hash to an allowed digest; the reason when not."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return "cannot be opened as a plain file (a symbolic link?)"
    with os.fdopen(fd, "rb") as src:
        info = os.fstat(src.fileno())
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file"
        if info.st_size > MAX_WHEEL:
            return "is larger than any wheel of the lock"
        digest = hashlib.sha256()
        handle, tmp = tempfile.mkstemp(dir=dest_dir, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if digest.hexdigest() not in allowed:
                os.unlink(tmp)
                return "has a SHA-256 the lock does not list (changed or planted)"
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest_dir / source.name)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return None


def take(allowed: dict[tuple[str, str], set[str]], shared: Path, job: Path) -> tuple[int, int]:
    """Copy the checked wheels of `shared` into `job`; (taken, rejected)."""
    job.mkdir(parents=True, exist_ok=True)
    taken = rejected = 0
    try:
        names = sorted(os.listdir(shared)) if shared.is_dir() and not shared.is_symlink() else []
    except OSError:
        names = []
    for name in names:
        key = wheel_key(name)
        if key is None or key not in allowed:
            continue  # not a wheel of this lock (another version, another project): never installed
        reason = copy_checked(shared / name, job, allowed[key])
        if reason is None:
            taken += 1
        else:
            rejected += 1
            print(f"ignored {shown(name)} from the shared wheelhouse: it {reason}")
    return taken, rejected


def extract_uv(allowed: dict[tuple[str, str], set[str]], job: Path, dest: Path) -> Path | None:
    """Unpack the uv program from a checked uv wheel in `job` into `dest`."""
    for path in sorted(job.glob("uv-*.whl")):
        key = wheel_key(path.name)
        if key is None or key not in allowed or _sha256(path) not in allowed[key]:
            continue
        with zipfile.ZipFile(path) as wheel:
            member = next((n for n in wheel.namelist() if re.fullmatch(r"uv-[^/]+\.data/scripts/uv", n)), None)
            if member is None:
                continue
            target = dest / "uv"
            target.parent.mkdir(parents=True, exist_ok=True)
            with wheel.open(member) as src, open(target, "wb") as out:
                while chunk := src.read(CHUNK):
                    out.write(chunk)
            target.chmod(0o755)
            return target
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _markers(paths: Iterable[Path]) -> dict[tuple[str, str], str]:
    """(normalized name, version) -> the environment marker of that pin ('' when none)."""
    found: dict[tuple[str, str], str] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8").replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith(("#", "--")):
                continue
            spec, _, rest = line.partition(";")
            words = spec.split()
            if words and "==" in words[0]:
                name, version = words[0].split("==", 1)
                found[(normalize(name), version)] = rest.split("--hash", 1)[0].strip()
    return found


_RESOLVED: dict[tuple[object, ...], list[object]] = {}
_RESOLVING = threading.Lock()
_GETADDRINFO = socket.getaddrinfo


def _resolve_once(*args: Any, **kwargs: Any) -> Any:
    """socket.getaddrinfo, asked once per host: parallel lookups from the download threads stalled for the
    resolver's 5 s retry on runners whose DNS drops bursts of queries (measured here: 5.2 s of 7 s)."""
    key = (*args, *sorted(kwargs.items()))
    with _RESOLVING:
        if key not in _RESOLVED:
            _RESOLVED[key] = _GETADDRINFO(*args, **kwargs)
        return _RESOLVED[key]


def _index_files(index: str, name: str, allowed: set[str]) -> list[tuple[str, str]]:
    """(filename, url) of the files on the index's page of `name` whose SHA-256 the lock allows: the simple HTML
    page (PEP 503, what every index serves), searched for the lock's hashes instead of parsed whole (pages list every
    version: megabytes)."""
    url = f"{index.rstrip('/')}/{name}/"
    request = urllib.request.Request(url, headers={"Accept": "text/html"})  # noqa: S310 (https, or http to this machine)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        raw = response.read(128 * 1024 * 1024)
        base = response.geturl()
    found: list[tuple[str, str]] = []
    for match in ANCHOR.finditer(raw):  # one pass in C; the page can be megabytes
        if match["digest"].decode() in allowed:
            link = html.unescape(match["href"].decode("utf-8", "replace"))
            filename = html.unescape(match["text"].decode("utf-8", "replace")).strip()
            found.append((filename, urllib.parse.urljoin(base, link)))
    return found


def _fetch(index: str, key: tuple[str, str], allowed: set[str], rank: dict[str, int], dest: Path) -> str:
    """Download the wheel of `key` that pip would pick for this interpreter (best tag) and keep it when it checks."""
    name, version = key
    best: tuple[int, str, str] | None = None
    for filename, link in _index_files(index, name, allowed):
        if wheel_key(filename) != key:
            continue
        score = min((rank[tag] for tag in wheel_tags(filename) if tag in rank), default=None)
        if score is not None and (best is None or score < best[0]):
            best = (score, filename, link)
    if best is None:
        return f"{name} {version}: the index has no wheel for this platform with a hash from the lock"
    _, filename, url = best
    if not url.startswith("https://") and not url.startswith(index):
        return f"{name} {version}: the index pointed to a plain-http address"
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        part = Path(tmp) / filename
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:  # noqa: S310
            while chunk := response.read(CHUNK):
                out.write(chunk)
        if copy_checked(part, dest, allowed) is not None:
            return f"{name} {version}: the download does not match the lock"
    return ""


def fetch(locks: list[Path], index: str, dest: Path) -> tuple[int, int]:
    """Fetch from the index every wheel of the locks this interpreter needs and `dest` lacks; (fetched, failed)."""
    allowed = read_lock(locks)
    markers = _markers(locks)
    have = {wheel_key(p.name) for p in dest.glob("*.whl")}
    if all(key in have for key in allowed if not markers.get(key)):
        # Everything unconditional is here: let uv judge the conditional ones (no pip import, no network).
        return 0, 0
    try:
        from pip._vendor.packaging.markers import Marker  # the same rules pip and uv apply
        from pip._vendor.packaging.tags import sys_tags
    except ImportError:
        print("pip is not installed for this Python: nothing fetched here (uv will ask the index)")
        return 0, 1
    rank = {str(tag): i for i, tag in enumerate(sys_tags())}
    wanted = [key for key in allowed if key not in have and (not markers.get(key) or Marker(markers[key]).evaluate())]
    problems: list[str] = []
    fetched = 0
    socket.getaddrinfo = _resolve_once
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        futures = {pool.submit(_fetch, index, key, allowed[key], rank, dest): key for key in wanted}
        for future, key in futures.items():
            try:
                problem = future.result()
            except (OSError, ValueError) as exc:
                problem = f"{key[0]} {key[1]}: download failed ({type(exc).__name__})"
            if problem:
                problems.append(problem)  # names and versions from the lock, not from a folder
            else:
                fetched += 1
    for problem in problems[:5]:
        print(problem)
    return fetched, len(problems)


def cmd_gather(args: argparse.Namespace) -> int:
    """take, then fetch, then unpack uv: every wheel this job installs ends up checked in its own folder."""
    allowed = read_lock(args.lock)
    job = Path(args.dest)
    taken, rejected = take(allowed, Path(args.shared), job) if args.shared else (0, 0)
    fetched, failed = fetch(args.lock, args.index, job)
    print(f"taken={taken} rejected={rejected} fetched={fetched} failed={failed}")
    if args.bin:
        return 0 if extract_uv(allowed, job, Path(args.bin)) else 3
    return 0


def cmd_keep(args: argparse.Namespace) -> int:
    """Copy this job's checked wheels into the shared wheelhouse (atomically, checked once more)."""
    allowed = read_lock(args.lock)
    job, shared = Path(args.wheels), Path(args.dest)
    shared.mkdir(parents=True, exist_ok=True)
    kept = 0
    for path in sorted(job.glob("*.whl")):
        key = wheel_key(path.name)
        if key is not None and key in allowed and copy_checked(path, shared, allowed[key]) is None:
            kept += 1
    print(f"kept={kept}")
    return 0


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # run with -I: the action's own scripts folder
    from action_env import cmd_check, cmd_manifest, cmd_place

    parser = argparse.ArgumentParser(prog="action_wheels.py")
    sub = parser.add_subparsers(dest="command", required=True)
    gather = sub.add_parser("gather")
    gather.add_argument("--lock", type=Path, action="append", required=True)
    gather.add_argument("--shared", default="")
    gather.add_argument("--to", dest="dest", required=True)
    gather.add_argument("--bin", default="", help="unpack uv here (from a checked wheel of the locks)")
    gather.add_argument("--index", required=True)
    gather.set_defaults(run=cmd_gather)
    placer = sub.add_parser("place")
    placer.add_argument("--lock", type=Path, action="append", required=True)
    placer.add_argument("--wheels", required=True)
    placer.add_argument("--store", required=True)
    placer.add_argument("--out", required=True)
    placer.set_defaults(run=cmd_place)
    keep = sub.add_parser("keep")
    keep.add_argument("--lock", type=Path, action="append", required=True)
    keep.add_argument("--wheels", required=True)
    keep.add_argument("--to", dest="dest", required=True)
    keep.set_defaults(run=cmd_keep)
    man = sub.add_parser("manifest")
    man.add_argument("--out", required=True)
    man.add_argument("root")
    man.set_defaults(run=cmd_manifest)
    check = sub.add_parser("check")
    check.add_argument("--home", required=True)
    check.add_argument("--digest", required=True)
    check.set_defaults(run=cmd_check)
    args = parser.parse_args(argv[1:])
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
