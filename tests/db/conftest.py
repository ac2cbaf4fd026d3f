from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner, Result

from hotfix_actions.cli import cli
from tests.db.pgserver import APP_PASSWORD, APP_USER, PgServer, remove_server, start_server

SEED = """
SET ROLE app;
CREATE TABLE accounts (id int PRIMARY KEY, email text NOT NULL UNIQUE, balance numeric(12,2) NOT NULL DEFAULT 0);
CREATE TABLE orders (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts(id), note text);
CREATE TABLE "Audit Log" (id serial PRIMARY KEY, "Message" text);
CREATE INDEX orders_account_idx ON orders (account_id);
INSERT INTO accounts SELECT g, 'user' || g || '@example.com', g * 1.5 FROM generate_series(1, 200) g;
INSERT INTO orders (account_id, note) SELECT 1 + (g % 200), 'order ' || g FROM generate_series(1, 500) g;
INSERT INTO "Audit Log" ("Message") VALUES (E'first line\\nsecond line'), (E'tab\\there'), (E'back\\\\slash');
"""
SEED_ROWS = {"public.accounts": 200, "public.orders": 500, 'public."Audit Log"': 3}


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    server = start_server()
    try:
        yield server
    finally:
        remove_server(server)


@dataclass
class AppDb:
    server: PgServer
    name: str
    backups: Path

    def url(self, *, password: bool = False) -> str:
        secret = f":{quote(APP_PASSWORD, safe='')}" if password else ""
        return f"postgresql://{APP_USER}{secret}@127.0.0.1:{self.server.port}/{self.name}"

    def env(self) -> dict[str, str]:
        """How a pipeline passes it: the URL without the password, the password in PGPASSWORD."""
        return {"DATABASE_URL": self.url(), "PGPASSWORD": APP_PASSWORD, "HOTFIX_DB_BACKUP_DIR": str(self.backups)}

    def sql(self, query: str) -> str:
        return self.server.superuser_sql(query, self.name)

    def fingerprint(self) -> dict[str, str]:
        """Catalog, event triggers, sequences and an md5 of every public table's rows: equal means the same data."""
        out = {
            "relations": self.sql(
                "SELECT string_agg(c.relname || ':' || c.relkind::text, ',' ORDER BY c.relname) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public';"
            ).strip(),
            "event_triggers": self.sql(
                "SELECT string_agg(evtname, ',' ORDER BY evtname) FROM pg_event_trigger;"
            ).strip(),
            "sequences": self.sql(
                "SELECT string_agg(sequencename || '=' || coalesce(last_value, 0), ',' ORDER BY sequencename) "
                "FROM pg_sequences WHERE schemaname = 'public';"
            ).strip(),
        }
        tables = self.sql(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1;"
        ).splitlines()
        for table in tables:
            out[table] = self.sql(
                f"SELECT count(*) || ' ' || md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM {table} x;"
            ).strip()
        return out

    def count(self, table: str) -> int:
        return int(self.sql(f"SELECT count(*) FROM {table};").strip())


@pytest.fixture
def appdb(pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppDb]:
    """A fresh database owned by the application role, with three tables of data, and an empty backup folder."""
    name = f"app_{secrets.token_hex(4)}"
    pg_server.superuser_sql(f"CREATE DATABASE {name} OWNER {APP_USER} TEMPLATE template0;")
    db = AppDb(server=pg_server, name=name, backups=tmp_path / "backups")
    db.sql(SEED)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # no .hotfix.yml from the repository
    for var in ("DATABASE_URL", "HOTFIX_DATABASE_URL", "PGPASSWORD", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield db
    finally:
        pg_server.superuser_sql(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname LIKE 'hotfix_verify_%' OR datname = '{name}';"
            f"DROP DATABASE IF EXISTS {name};"
        )


def hotfix(args: list[str], env: dict[str, str], input_text: str | None = None) -> Result:
    """Run the real CLI in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(cli, args, env=env, input=input_text, catch_exceptions=False)


def run_json(args: list[str], env: dict[str, str]) -> tuple[int, dict[str, object], Result]:
    result = hotfix([*args, "--json"], env)
    return result.exit_code, json.loads(result.stdout), result


def manifests(folder: Path) -> list[dict[str, object]]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.manifest.json"))]
