"""The part of `hotfix db restore` that touches the live database.

1. Look: the other sessions on the database and the locks they hold, printed.
2. Settle them as the operator chose: refuse (default), wait up to N seconds, or terminate (recorded).
3. The restore session starts its transaction and locks every table it may write against writers (EXCLUSIVE:
   readers and pg_dump go on), so the pre-restore backup taken next is exactly the data the restore replaces.
4. New connections are blocked (ALTER DATABASE ... ALLOW_CONNECTIONS false; a guard process undoes it if we die);
   the sessions are settled again.
5. The dump's script runs in that transaction with our own lock_timeout set after the dump's ``SET lock_timeout = 0``;
   while it waits for a lock we print who blocks it every few seconds; row counts are checked before COMMIT.
6. On any failure, timeout or signal: our sessions are ended and confirmed gone, then the database is checked
   (row counts against both backups) before anything is said about it; connections are allowed again.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hotfix_actions.decide.db import BackupKind, Check, Manifest, check_rows
from hotfix_actions.decide.db_live import EndState, end_state, inert
from hotfix_actions.decide.verdict import Status
from hotfix_actions.errors import DatabaseError, ExitCode, HotfixError, Interrupted
from hotfix_actions.ports import BackupStore, StoredBackup
from hotfix_actions.services._dbsteps import DumpedFile, Provenance, dump_file, publish_file, total
from hotfix_actions.services.db_settle import Abort, LiveOptions, SessionKeeper, plan_text

__all__ = ["PRE_RESTORE_COMPRESS", "LiveOptions", "LiveRestoreFlow", "plan_text"]

PRE_RESTORE_COMPRESS = 1  # the pre-restore dump is on the incident's clock: zlib level 1, a few % larger, ~3x faster


@dataclass
class LiveRestoreFlow(SessionKeeper):
    """One restore of ``entry`` into the live database ``db``; ``run`` fills ``steps`` and ``outputs``."""

    entry: StoredBackup = field(kw_only=True)
    manifest: Manifest = field(kw_only=True)
    pre_store: BackupStore = field(kw_only=True)
    prov: Provenance = field(kw_only=True)
    versions: tuple[str, str] = field(kw_only=True)
    outputs: dict[str, str] = field(kw_only=True)
    pre: Manifest | None = field(default=None, kw_only=True)
    before: dict[str, int] | None = field(default=None, kw_only=True)  # row counts the restore replaces
    began: bool = field(default=False, kw_only=True)  # the restore session was opened (locks may have been taken)
    loading: bool = field(default=False, kw_only=True)
    committed: bool | None = field(default=False, kw_only=True)
    state: EndState | None = field(default=None, kw_only=True)
    exit_code: ExitCode | None = field(default=None, kw_only=True)  # set when a signal stopped the run
    _verifier: _Verifier | None = field(default=None, kw_only=True)
    _pre_name: str = field(default="", kw_only=True)

    def dump_pre(self) -> DumpedFile:
        """pg_dump of the current data (writers are held off, so it is exactly what the restore replaces), and the
        row counts the restore session sees: what 'unchanged' is checked against if anything goes wrong."""
        try:
            dumped = dump_file(
                self.db, self.pre_store, BackupKind.PRE_RESTORE, self.prov, self.steps, compress=PRE_RESTORE_COMPRESS
            )
        except HotfixError as exc:
            raise Abort(Check("pre-restore backup", Status.ERROR, f"{exc.message}; restore aborted")) from None
        self._pre_name = dumped.name
        self.before = _known(self.live.counts_in_transaction(sorted(self.manifest.rows)))
        self.live.tell_guard(f"before {dumped.name} {json.dumps(self.before)}")
        return dumped

    def verify_pre(self, dumped: DumpedFile) -> _Verifier:
        """Read the pre-restore dump back and publish it while the restore runs; COMMIT waits for it."""
        verifier = _Verifier(lambda: publish_file(self.db, self.pre_store, dumped, self.prov, self.versions))
        verifier.start()
        self._verifier = verifier
        return verifier

    def accept_pre(self, verifier: _Verifier) -> Manifest:
        self._verifier = None
        pre = verifier.result()
        if isinstance(pre, str):
            raise Abort(Check("pre-restore backup", Status.ERROR, f"{pre}; not committed"))
        self.pre = pre
        self.outputs["pre-restore-backup"] = pre.name
        replaced = {t: n for t, n in pre.rows.items() if t in (self.before or {})}
        differ = check_rows("pre-restore backup", self.before or {}, replaced, against="what the restore replaces")
        if differ.status is not Status.PASS and set(self.before or {}) <= set(pre.rows):
            raise Abort(dataclasses.replace(differ, reason=differ.reason + "; not committed"))
        self.steps.add(
            Check(
                "pre-restore backup",
                Status.PASS,
                f"{pre.name} in {self.pre_store.describe()}: {total(pre.rows)}, read back in full; writes were held "
                "off from before it began, so it is exactly the data the restore replaces",
            )
        )
        return pre

    def note_in_manifest(self) -> None:
        """Record in the pre-restore backup's manifest the sessions found and what was done to them."""
        if self.pre is None:
            return
        data = self.pre.to_dict()
        data["restore"] = {
            "target": self.manifest.name,
            "sessions_mode": self.opts.mode.value,
            "connections_blocked": self.blocked,
            "sessions": [r.to_dict() for r in self.records.values()],
        }
        try:
            self.pre_store.update_manifest(self.pre.name, data)
        except HotfixError as exc:
            self.steps.add(
                Check("record", Status.WARN, f"could not record the sessions in {self.pre.name}: {exc.message}")
            )

    # -- the whole run ------------------------------------------------------------------------------
    def run(self) -> None:
        name = self.db.name
        tables = sorted(self.manifest.rows)
        try:
            self.settle("sessions")
            self.live.start_guard(name)
            self.live.tell_guard(f"target {self.manifest.name} {json.dumps(self.manifest.rows)}")
            self.began = True
            self.watch(self.live.begin(), "lock against writes", self.opts.lock_timeout + 60)
            self.steps.add(
                Check(
                    "lock against writes",
                    Status.PASS,
                    "every table the restore may write is locked "
                    "against writers (readers go on) until the restore ends",
                )
            )
            verifier = self.verify_pre(self.dump_pre())
            if self.opts.block_connections:
                if not self.live.block_connections(name):
                    raise Abort(Check("block connections", Status.ERROR, "ALLOW_CONNECTIONS false did not read back"))
                self.blocked = True
                self.steps.add(
                    Check(
                        "block connections",
                        Status.PASS,
                        f"new connections to {name} are refused until the "
                        "restore ends (ALLOW_CONNECTIONS false, read back)",
                    )
                )
            self.settle("sessions before restore")
            self.loading = True
            self.watch(self.live.load(self.entry.dump_path), "restore", self.opts.restore_timeout)
            self.accept_pre(verifier)
            self.note_in_manifest()
            counts = self.live.counts_in_transaction(tables)
            check = check_rows("row counts", self.manifest.rows, _known(counts), against=f"backup {self.manifest.name}")
            if check.status is not Status.PASS:
                raise Abort(dataclasses.replace(check, reason=check.reason + " (before COMMIT: not committed)"))
            self.committed = self.live.commit(300.0)
            if self.committed is not True:
                raise Abort(Check("restore", Status.ERROR, "COMMIT was sent but not acknowledged"))
        except Abort as stop:
            self.steps.add(stop.check)
            self._clean_up(tables)
            return
        except DatabaseError as exc:
            self.steps.add(Check("restore", Status.ERROR, inert(exc.message, 400)))
            self._clean_up(tables)
            return
        except (Interrupted, KeyboardInterrupt) as exc:
            sig = exc.signal_name if isinstance(exc, Interrupted) else "SIGINT"
            self.exit_code = exc.exit_code if isinstance(exc, Interrupted) else ExitCode.SIGINT
            self.steps.add(Check("stopped", Status.ERROR, f"stopped by {sig}; cleaning up before saying anything"))
            self._clean_up(tables)
            return
        self.outputs["restored"] = "true"
        self.state = EndState.RESTORED
        self.steps.add(
            Check(
                "restore",
                Status.PASS,
                f"{self.manifest.name} restored into {name} in one transaction (commit acknowledged)",
            )
        )
        self.steps.add(check)
        self.live.close_restore_session()
        self._finish_connections(clean=True)

    def _clean_up(self, tables: list[str]) -> None:
        """End our sessions, confirm they are gone, then state what the database is; allow connections again."""
        try:
            left: list[int] | None = self.live.end_restore_session()
        except (DatabaseError, Interrupted, KeyboardInterrupt):
            left = None
        if self._verifier is not None:  # the pre-restore backup was being read back: published, or set aside?
            pre = self._verifier.result(600)
            self._verifier = None
            if isinstance(pre, Manifest):
                self.pre = pre
                self.outputs["pre-restore-backup"] = pre.name
                self.steps.add(Check("pre-restore backup", Status.PASS, f"{pre.name}: {total(pre.rows)}, read back"))
            else:
                self.steps.add(Check("pre-restore backup", Status.WARN, f"not published: {inert(pre, 300)}"))
        if not self.began and left == []:
            self.state = EndState.UNCHANGED
            self.steps.add(
                Check(
                    "end state",
                    Status.PASS,
                    "data untouched: refused before any change to it (no lock taken, no "
                    "backup, no connection blocked); no session of ours is left",
                )
            )
        elif not self.loading and left == [] and self.committed is False:
            self.state = EndState.UNCHANGED
            self.steps.add(
                Check(
                    "end state",
                    Status.PASS,
                    "unchanged: the restore session ended (confirmed gone) before any restore statement was sent",
                )
            )
        else:
            counts: dict[str, int] | None = None
            pre_rows = self.before
            if left == []:
                try:
                    counts = _known(self.live.count_rows(sorted(set(tables) | set(pre_rows or {}))))
                except (DatabaseError, Interrupted, KeyboardInterrupt):
                    counts = None
            self.state, check = end_state(
                committed=self.committed,
                ours_left=left,
                counts=counts,
                before=pre_rows,
                target=self.manifest.rows,
                before_name=f"the data before the restore (pre-restore backup {self._pre_name})",
                target_name=f"backup {self.manifest.name}",
            )
            self.steps.add(check)
        if self.state is EndState.RESTORED:
            self.outputs["restored"] = "true"
        self._finish_connections(clean=left == [])

    def _finish_connections(self, *, clean: bool) -> None:
        ok = True
        if self.blocked:
            try:
                ok = self.live.allow_connections(self.db.name)
            except (DatabaseError, Interrupted, KeyboardInterrupt) as exc:
                ok = False
                detail = exc.message if isinstance(exc, DatabaseError) else "interrupted"
                self.steps.add(
                    Check(
                        "allow connections",
                        Status.ERROR,
                        f"could not allow connections again: {detail}; the guard process retries",
                    )
                )
            else:
                self.steps.add(
                    Check(
                        "allow connections",
                        Status.PASS if ok else Status.ERROR,
                        f"connections to {self.db.name} allowed again (read back)"
                        if ok
                        else "ALLOW_CONNECTIONS true did not read back; the guard process retries",
                    )
                )
        left: list[int] | None
        try:
            left = self.live.wait_gone(self.live.ours(), 10.0)
        except (DatabaseError, Interrupted, KeyboardInterrupt):
            left = None
        if left == []:
            self.steps.add(Check("sessions of ours", Status.PASS, "none left on the server"))
        else:
            self.steps.add(Check("sessions of ours", Status.ERROR, f"still there: {left}" if left else "unknown"))
        self.live.release_guard(cleaned_up=clean and ok and left == [])
        self.outputs["sessions"] = self.sessions_json()
        self.outputs["end-state"] = self.state.value if self.state else ""


class _Verifier:
    """Run one function in a thread; ``result`` is its value, or the reason it failed, in words."""

    def __init__(self, fn: Callable[[], Manifest]) -> None:
        self._fn = fn
        self._value: Manifest | str = "did not run"
        self._thread = threading.Thread(target=self._run, name="pre-restore-verify", daemon=True)

    def _run(self) -> None:
        try:
            self._value = self._fn()
        except HotfixError as exc:
            self._value = exc.message
        except Exception as exc:  # a bug here must fail the restore, not pass silently
            self._value = f"verification failed: {type(exc).__name__}: {exc}"

    def start(self) -> None:
        self._thread.start()

    def result(self, timeout: float = 3600.0) -> Manifest | str:
        self._thread.join(timeout)
        return "still reading it back" if self._thread.is_alive() else self._value


def _known(counts: dict[str, int | None]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v is not None}
