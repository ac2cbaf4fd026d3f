"""Where the database is and how to log in: from a URL or the PG* variables the command read.

The password never goes into argv: the adapter writes it to a private 0600 .pgpass and points PGPASSFILE at it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from hotfix_actions.decide.db import database_name_problem
from hotfix_actions.errors import UsageError

__all__ = ["ConnInfo", "conn_from_env", "conn_from_url"]

# URL query keys -> libpq environment variables (the ones a hotfix pipeline needs).
_QUERY_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
}
# PG* variables passed through from the environment as they are (besides host/port/user/database/password).
PASSTHROUGH = (
    *(v for k, v in _QUERY_ENV.items() if k not in {"host", "port", "user", "dbname"}),
    "PGPASSFILE",
    "PGSERVICE",
    "PGSERVICEFILE",
)


@dataclass(frozen=True)
class ConnInfo:
    database: str
    host: str | None = None
    port: str | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    settings: tuple[tuple[str, str], ...] = ()  # other libpq variables: (PGSSLMODE, require), ...

    def describe(self) -> str:
        """user@host:port/database, never the password."""
        who = f"{self.user}@" if self.user else ""
        where = self.host or "local socket"
        port = f":{self.port}" if self.port else ""
        return f"{who}{where}{port}/{self.database}"

    def env(self, database: str | None = None) -> dict[str, str]:
        """libpq variables for a child (without the password: the adapter adds PGPASSFILE)."""
        out = dict(self.settings)
        out["PGDATABASE"] = database or self.database
        for key, value in (("PGHOST", self.host), ("PGPORT", self.port), ("PGUSER", self.user)):
            if value:
                out[key] = value
        return out


def _check_db(name: str, source: str) -> str:
    if problem := database_name_problem(name):
        raise UsageError(f"database name {name[:70]!r} {problem}", input_name=source)
    return name


def _check_port(port: str | None, source: str) -> str | None:
    if port is None or port == "":
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"port {port[:20]!r} is not a number from 1 to 65535", input_name=source)
    return port


def conn_from_url(url: str, *, source: str = "DATABASE_URL") -> ConnInfo:
    """postgresql://user:password@host:port/dbname?sslmode=require (the password may be percent-encoded)."""
    try:
        parts = urlsplit(url.strip())
        port_text = str(parts.port) if parts.port is not None else None
    except ValueError:
        # from None: the original message may quote the URL, password included.
        raise UsageError("is not a valid URL (check the port)", input_name=source) from None
    if parts.scheme not in ("postgres", "postgresql"):
        raise UsageError(
            f"scheme {parts.scheme[:20]!r} is not postgresql://",
            input_name=source,
            fix="use postgresql://user@host:5432/dbname and put the password in PGPASSWORD or the URL",
        )
    settings: dict[str, str] = {}
    query_db = query_host = query_port = query_user = query_password = None
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "password":
            query_password = value
        elif key == "dbname":
            query_db = value
        elif key == "host":
            query_host = value
        elif key == "port":
            query_port = value
        elif key == "user":
            query_user = value
        elif key in _QUERY_ENV:
            settings[_QUERY_ENV[key]] = value
        else:
            raise UsageError(
                f"unsupported URL parameter {key[:40]!r}",
                input_name=source,
                fix="supported: " + ", ".join(sorted(k for k in _QUERY_ENV if k not in {"dbname"})) + ", password",
            )
    database = query_db or unquote(parts.path.lstrip("/"))
    if not database:
        raise UsageError("names no database", input_name=source, fix="append /<dbname> to the URL")
    password = unquote(parts.password) if parts.password is not None else query_password
    return ConnInfo(
        database=_check_db(database, source),
        host=query_host or (unquote(parts.hostname) if parts.hostname else None),
        port=_check_port(query_port or port_text, source),
        user=query_user or (unquote(parts.username) if parts.username else None),
        password=password or None,
        settings=tuple(sorted(settings.items())),
    )


def conn_from_env(env: Mapping[str, str], *, url: str | None = None, database: str | None = None) -> ConnInfo:
    """The connection from an explicit URL, else DATABASE_URL, else PGHOST/PGPORT/PGUSER/PGDATABASE.

    PGPASSWORD fills in a password the URL does not carry; a .pgpass (PGPASSFILE or ~/.pgpass) works as libpq reads it.
    """
    settings = {k: env[k] for k in PASSTHROUGH if env.get(k)}
    chosen = url or env.get("DATABASE_URL")
    if chosen:
        info = conn_from_url(chosen, source="--database-url" if url else "DATABASE_URL")
        merged = {**settings, **dict(info.settings)}
        return ConnInfo(
            database=_check_db(database, "--database") if database else info.database,
            host=info.host,
            port=info.port,
            user=info.user,
            password=info.password or env.get("PGPASSWORD") or None,
            settings=tuple(sorted(merged.items())),
        )
    name = database or env.get("PGDATABASE")
    if not name:
        raise UsageError(
            "no database to connect to",
            input_name="DATABASE_URL",
            fix="set DATABASE_URL=postgresql://user@host:5432/dbname (password in PGPASSWORD) or PGHOST and PGDATABASE",
        )
    return ConnInfo(
        database=_check_db(name, "--database" if database else "PGDATABASE"),
        host=env.get("PGHOST") or None,
        port=_check_port(env.get("PGPORT"), "PGPORT"),
        user=env.get("PGUSER") or None,
        password=env.get("PGPASSWORD") or None,
        settings=tuple(sorted(settings.items())),
    )
