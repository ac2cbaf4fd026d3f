"""The BackupStore port on a local folder (on a runner: upload the folder as an artifact afterwards).

Layout: ``<name>.dump`` and ``<name>.manifest.json`` side by side; temporary files ``.<name>.<random>.partial``;
failed dumps in ``quarantine/``. A dump becomes a backup only when its manifest lands, and the manifest is written
last, by write-to-temp, fsync, rename, fsync of the folder. Files are 0600 and the folder 0700: dumps hold data.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from hotfix_actions.decide.db import backup_name_problem
from hotfix_actions.errors import DatabaseError, UsageError
from hotfix_actions.ports import QuarantinedFile, StoredBackup

__all__ = ["LocalBackupStore"]

_DUMP = ".dump"
_MANIFEST = ".manifest.json"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalBackupStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.quarantine_dir = self.root / "quarantine"

    def describe(self) -> str:
        return f"local folder {self.root}"

    def _ensure(self) -> None:
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.quarantine_dir.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot create the backup folder {self.root}: {exc.strerror}") from exc

    def _paths(self, name: str) -> tuple[Path, Path]:
        if problem := backup_name_problem(name):
            raise UsageError(f"{name[:80]!r} {problem}", input_name="backup name")
        return self.root / f"{name}{_DUMP}", self.root / f"{name}{_MANIFEST}"

    def reserve(self, name: str) -> str:
        dump, manifest = self._paths(name)
        self._ensure()
        if dump.exists() or manifest.exists():
            raise DatabaseError(f"backup {name} already exists in {self.root}")
        temp = self.root / f".{name}.{secrets.token_hex(4)}.partial"
        try:
            os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except OSError as exc:
            raise DatabaseError(f"cannot create {temp}: {exc.strerror}") from exc
        return str(temp)

    def digest(self, path: str) -> tuple[int, str]:
        sha = hashlib.sha256()
        size = 0
        try:
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
                while chunk := fh.read(1 << 20):
                    sha.update(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise DatabaseError(f"cannot read {path}: {exc.strerror}") from exc
        return size, sha.hexdigest()

    def _write_json(self, target: Path, data: dict[str, object]) -> None:
        temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(json.dumps(data, indent=2, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise DatabaseError(f"cannot write {target}: {exc.strerror}") from exc

    def publish(self, temp: str, name: str, manifest: dict[str, object]) -> StoredBackup:
        dump, manifest_path = self._paths(name)
        try:
            with open(temp, "rb") as fh:
                os.fsync(fh.fileno())
            size = os.stat(temp).st_size
            os.replace(temp, dump)
            _fsync_dir(self.root)
        except OSError as exc:
            raise DatabaseError(f"cannot move the dump into place as {dump}: {exc.strerror}") from exc
        try:
            self._write_json(manifest_path, manifest)
        except DatabaseError:
            # Without its manifest the dump is not a backup: move it aside so nothing mistakes it for one.
            self.quarantine(str(dump), name, "the manifest could not be written")
            raise
        return StoredBackup(name=name, dump_path=str(dump), size=size, manifest=dict(manifest))

    def quarantine(self, temp: str, name: str, reason: str) -> str | None:
        source = Path(temp)
        if not source.exists():
            return None
        target = self.quarantine_dir / f"{name}.{secrets.token_hex(4)}.partial"
        try:
            self.quarantine_dir.mkdir(mode=0o700, exist_ok=True)
            os.replace(source, target)
        except OSError:
            with contextlib.suppress(OSError):
                source.unlink()
            return None
        with contextlib.suppress(OSError):  # best effort: the disk may be full
            target.with_suffix(".reason.txt").write_text(reason[:2000] + "\n", encoding="utf-8")
        return str(target)

    def list_quarantine(self) -> Sequence[QuarantinedFile]:
        """The failed dumps moved aside (``quarantine/*.partial``), each with the reason written beside it."""
        if not self.quarantine_dir.is_dir():
            return []
        found = []
        for path in sorted(self.quarantine_dir.glob("*.partial")):
            try:
                stat = path.stat()
            except OSError:
                continue
            reason_path = path.with_suffix(".reason.txt")
            try:
                reason = reason_path.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                reason = "no reason recorded"
            found.append(
                QuarantinedFile(
                    name=path.name, path=str(path), size=stat.st_size, mtime=stat.st_mtime, reason=reason[:500]
                )
            )
        return found

    def delete_quarantined(self, name: str) -> None:
        path = self.quarantine_dir / name
        if path.parent != self.quarantine_dir or not name.endswith(".partial") or "/" in name:
            raise DatabaseError(f"{name!r} is not a quarantined file")
        try:
            path.unlink(missing_ok=True)
            path.with_suffix(".reason.txt").unlink(missing_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot delete quarantined {name}: {exc.strerror}") from exc

    def update_manifest(self, name: str, manifest: dict[str, object]) -> None:
        _, manifest_path = self._paths(name)
        self._write_json(manifest_path, manifest)

    def _load(self, name: str) -> StoredBackup | None:
        dump, manifest_path = self._paths(name)
        if not dump.is_file():
            return None
        manifest: dict[str, object] | None = None
        if manifest_path.is_file():
            try:
                loaded = json.loads(manifest_path.read_text(encoding="utf-8"))
                manifest = loaded if isinstance(loaded, dict) else None
            except (OSError, ValueError):
                manifest = None
        return StoredBackup(name=name, dump_path=str(dump), size=dump.stat().st_size, manifest=manifest)

    def get(self, name: str) -> StoredBackup | None:
        return self._load(name)

    def list(self) -> list[StoredBackup]:
        if not self.root.is_dir():
            return []
        found = []
        for path in sorted(self.root.glob(f"*{_DUMP}")):
            name = path.name[: -len(_DUMP)]
            if backup_name_problem(name) is None and (entry := self._load(name)) is not None:
                found.append(entry)
        return found

    def delete(self, name: str) -> None:
        dump, manifest_path = self._paths(name)
        try:
            manifest_path.unlink(missing_ok=True)  # first: from here on it is no longer a backup
            _fsync_dir(self.root)
            dump.unlink(missing_ok=True)
        except OSError as exc:
            raise DatabaseError(f"cannot delete backup {name}: {exc.strerror}") from exc
