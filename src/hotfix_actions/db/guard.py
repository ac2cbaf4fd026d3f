"""The restore's guard: a separate process that puts the database right if `hotfix db restore` dies mid-way.

A restore that blocks new connections (ALTER DATABASE ... ALLOW_CONNECTIONS false) must allow them again on every
path, including SIGKILL, which no process can catch for itself. So before it blocks anything, the restore starts this
guard in its own session (a Ctrl-C or a signal to the restore's process group does not reach it), with its own
server session opened while connections are still allowed. The restore tells it what it did, line by line, on the
guard's stdin; it says ``done`` when it has cleaned up itself. If stdin ends without ``done`` (the restore died),
the guard terminates every server session of the restore, confirms they are gone, counts rows to say whether the
database is unchanged or restored, allows connections again, reads that back, prints what it found, and removes the
restore's private password file.

Run as ``python -c "from hotfix_actions.db.guard import main; ..."``; the first line on stdin is its JSON
configuration.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

from hotfix_actions.db import activity
from hotfix_actions.db.session import PsqlSession
from hotfix_actions.decide.db_live import end_state, inert
from hotfix_actions.errors import DatabaseError

__all__ = ["Guard", "GuardState", "main"]


@dataclass
class GuardState:
    """What the restore told the guard so far."""

    blocked: bool = False
    committed: bool | None = False  # False: no COMMIT sent; None: sent, not acknowledged; True: acknowledged
    before: dict[str, int] | None = None
    target: dict[str, int] | None = None
    before_name: str = "the pre-restore backup"
    target_name: str = "the backup"
    done: bool = False
    log: list[str] = field(default_factory=list)

    def apply(self, line: str) -> None:
        word, _, rest = line.strip().partition(" ")
        if word == "blocked":
            self.blocked = True
        elif word == "allowed":
            self.blocked = False
        elif word == "commit-sent":
            self.committed = None
        elif word == "commit-acked":
            self.committed = True
        elif word in ("before", "target"):
            name, _, counts = rest.partition(" ")
            data = json.loads(counts)
            parsed = {str(k): int(v) for k, v in data.items()}
            if word == "before":
                self.before, self.before_name = parsed, f"the pre-restore backup {name}"
            else:
                self.target, self.target_name = parsed, f"backup {name}"
        elif word == "done":
            self.done = True


class Guard:
    """The restore's side: start the guard, tell it what happened, and end it."""

    def __init__(self, config: Mapping[str, object], *, python: str = sys.executable) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ", "PYTHONPATH")}
        try:
            self.proc = subprocess.Popen(
                [python, "-c", "from hotfix_actions.db.guard import main; raise SystemExit(main())"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                text=True,
                start_new_session=True,  # a signal to our process group must not end the guard too
            )
        except OSError as exc:
            raise DatabaseError(f"the restore guard could not start: {exc.strerror}") from None
        self.pid = self.proc.pid
        self.session_pid = 0
        self.tell(json.dumps(dict(config)))

    def ready(self) -> None:
        """Wait until the guard has its own session open (it is started early, and waited for here)."""
        if self.session_pid:
            return
        try:
            assert self.proc.stdout is not None
            ready = self.proc.stdout.readline().split()
        except OSError:
            ready = []
        if len(ready) != 2 or ready[0] != "ready":
            self.proc.kill()
            self.proc.wait()
            raise DatabaseError("the restore guard did not start (it opens a session to the database first)")
        self.session_pid = int(ready[1])

    def tell(self, line: str) -> None:
        stdin = self.proc.stdin
        if stdin is None or stdin.closed or self.proc.poll() is not None:
            raise DatabaseError("the restore guard is not running")
        try:
            stdin.write(line.replace("\n", " ") + "\n")
            stdin.flush()
        except (BrokenPipeError, OSError):
            raise DatabaseError("the restore guard is not running") from None

    def finish(self, timeout: float = 30.0) -> bool:
        """Say ``done`` (the restore cleaned up itself) and wait for the guard to end; True when it ended."""
        with contextlib.suppress(DatabaseError):
            self.tell("done")
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return False
        return True

    def abandon(self, timeout: float = 60.0) -> bool:
        """Close the guard's input without ``done``: it cleans up as if we had died; wait for it to finish."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            return self.proc.wait(timeout) == 0
        except subprocess.TimeoutExpired:
            return False


def _say(err: IO[str], text: str) -> None:
    err.write(f"hotfix db restore guard: {text}\n")
    err.flush()


def cleanup(session: PsqlSession, config: Mapping[str, object], state: GuardState, err: IO[str]) -> int:
    """The restore died: end its sessions, state what the database is, allow connections again."""
    token = str(config["token"])
    _say(err, f"the restore (pid {config.get('parent', '?')}) ended or gave up before it finished; cleaning up")
    code = 0
    try:
        left = activity.ours(session, token)
        result = activity.terminate(session, left) if left else {}
        for pid, problem in result.items():
            _say(err, f"session {pid} of the restore: " + ("terminated, gone" if problem is None else inert(problem)))
        ours_left: list[int] | None = activity.wait_gone(session, left, timeout=15.0)
    except DatabaseError as exc:
        _say(err, f"could not end the restore's sessions: {inert(exc.message, 200)}")
        ours_left, code = None, 3
    counts: dict[str, int] | None = None
    tables = sorted(set(state.before or {}) | set(state.target or {}))
    try:
        if tables and ours_left == []:
            raw = activity.count_rows(session, tables)
            counts = {k: v for k, v in raw.items() if v is not None}
    except DatabaseError as exc:
        _say(err, f"could not count rows: {inert(exc.message, 200)}")
    if state.before is None and state.target is not None and ours_left == [] and state.committed is False:
        _say(err, "database: unchanged, verified only as far as this: no restore statement had been sent")
    else:
        _, check = end_state(
            committed=state.committed,
            ours_left=ours_left,
            counts=counts,
            before=state.before,
            target=state.target,
            before_name=state.before_name,
            target_name=state.target_name,
        )
        _say(err, f"database: {check.reason}")
        if check.status.value not in ("pass", "warn"):
            code = 3
    if state.blocked:
        code = max(code, _allow_again(session, config, err))
    return code


def _allow_again(session: PsqlSession, config: Mapping[str, object], err: IO[str], *, tries: int = 15) -> int:
    """ALLOW_CONNECTIONS true, read back; if our session is gone (the server restarted, say), from a new session on
    the maintenance database, retrying for a while: the setting outlives a server restart, so must the attempt."""
    database = str(config["database"])
    last = ""
    for attempt in range(tries):
        target: PsqlSession | None = session if attempt == 0 and session.alive() else None
        try:
            if target is None:
                env = {str(k): str(v) for k, v in dict(config["env"]).items()}  # type: ignore[call-overload]
                env["PGDATABASE"] = str(config.get("maintenance_db") or "postgres")
                target = PsqlSession([str(config["psql"])], env, name="guard-maintenance")
            if activity.set_allow_connections(target, database, True):
                _say(err, f"connections to {database} are allowed again (datallowconn is true)")
                return 0
            last = "ALLOW_CONNECTIONS true did not read back"
        except DatabaseError as exc:
            last = exc.message
        finally:
            if target is not None and target is not session:
                target.close()
        time.sleep(2)
    _say(
        err,
        f"could not allow connections to {database} again: {inert(last, 200)}; run ALTER DATABASE {database} "
        "ALLOW_CONNECTIONS true from another database",
    )
    return 3


def main(stdin: IO[str] = sys.stdin, stdout: IO[str] = sys.stdout, err: IO[str] = sys.stderr) -> int:
    config = json.loads(stdin.readline())
    env = {str(k): str(v) for k, v in dict(config["env"]).items()}
    secret_dir = str(config.get("secret_dir") or "")
    state = GuardState()
    try:
        try:
            session = PsqlSession([str(config["psql"])], env, name="guard")
        except DatabaseError as exc:
            _say(err, f"could not open its session: {inert(exc.message, 200)}")
            return 3
        stdout.write(f"ready {session.pid}\n")
        stdout.flush()
        for line in stdin:
            try:
                state.apply(line)
            except (ValueError, TypeError):
                continue
            if state.done:
                break
        if state.done:
            session.close()
            return 0
        started = time.monotonic()
        code = cleanup(session, config, state, err)
        session.close()
        _say(err, f"done in {time.monotonic() - started:.1f}s")
        return code
    finally:
        if secret_dir and not state.done:
            shutil.rmtree(secret_dir, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover - run as a process
    raise SystemExit(main())
