"""A throwaway PostgreSQL server for the tests: initdb + pg_ctl in a temporary folder, on 127.0.0.1 and a free port.

initdb refuses to run as root, so as root the server runs as the unprivileged ``postgres`` user (runuser), in a folder
it owns; otherwise it runs as the current user. Superuser access is over the unix socket (trust); the application role
``app`` logs in over TCP with a password (scram-sha-256), as a real pipeline would.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hotfix_actions.sandbox.prometheus_runner import free_port

APP_USER = "app"
# Distinctive, with characters that need escaping in a .pgpass and percent-encoding in a URL.
APP_PASSWORD = "Zq9:pw\\s3cr3t@x%y"


def find_bindir() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    for path in [*candidates, Path("/usr/local/bin")]:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    return None


@dataclass
class PgServer:
    bindir: Path
    base: Path
    port: int
    run_as: str | None

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base / "sock"

    def _as_owner(self, argv: list[str]) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else argv

    def start(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            for path in (self.base, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        pwfile = self.base / "superpw"
        pwfile.write_text("unused-superuser-password\n")
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            self._as_owner(
                [
                    str(self.bindir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=60 -c max_prepared_transactions=10"
        )
        subprocess.run(
            self._as_owner(
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    opts,
                    "-l",
                    str(self.base / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def stop(self) -> None:
        subprocess.run(
            self._as_owner([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )

    def superuser_sql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser over the unix socket; returns unaligned tuples-only output."""
        proc = subprocess.run(
            [
                "psql",
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-f",
                "-",
            ],
            input=sql,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
        )
        if proc.returncode != 0:
            raise RuntimeError(f"psql failed: {proc.stderr}")
        return proc.stdout


def start_server() -> PgServer:
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError(
            "PostgreSQL server binaries not found (Debian: apt-get install -y postgresql; "
            "they live in /usr/lib/postgresql/<major>/bin)"
        )
    run_as = "postgres" if os.geteuid() == 0 else None
    if run_as:
        try:
            pwd.getpwnam(run_as)
        except KeyError as exc:
            raise RuntimeError(
                "running as root needs a 'postgres' system user (the postgresql package makes one)"
            ) from exc
    base = Path(tempfile.mkdtemp(prefix="hotfix-pgtest-"))
    os.chmod(base, 0o755)
    server = PgServer(bindir=bindir, base=base, port=free_port(), run_as=run_as)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    server.superuser_sql(
        f"CREATE ROLE {APP_USER} LOGIN CREATEDB PASSWORD '{APP_PASSWORD.replace(chr(39), chr(39) * 2)}';"
    )
    return server


def remove_server(server: PgServer) -> None:
    server.stop()
    shutil.rmtree(server.base, ignore_errors=True)
