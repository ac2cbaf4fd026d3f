"""Connection parsing (URL, PG* variables) and the local backup store, without a server."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from hotfix_actions.db import ConnInfo, LocalBackupStore, PgTools, conn_from_env, conn_from_url
from hotfix_actions.errors import DatabaseError, UsageError


def test_url_with_encoded_password_and_settings() -> None:
    info = conn_from_url("postgresql://app:p%40ss%3Aw0rd@db.internal:6543/orders?sslmode=require&application_name=x")
    assert (info.user, info.password, info.host, info.port, info.database) == (
        "app",
        "p@ss:w0rd",
        "db.internal",
        "6543",
        "orders",
    )
    env = info.env()
    assert env["PGSSLMODE"] == "require" and env["PGAPPNAME"] == "x" and env["PGDATABASE"] == "orders"
    assert "p@ss:w0rd" not in repr(info) and "p@ss:w0rd" not in info.describe()
    assert not any("w0rd" in v for v in env.values())  # the password is not an environment variable


def test_url_with_unix_socket_host_in_query() -> None:
    info = conn_from_url("postgres:///appdb?host=/var/run/postgresql&port=5433")
    assert (info.host, info.port, info.database, info.user) == ("/var/run/postgresql", "5433", "appdb", None)


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("mysql://u@h/db", "scheme"),
        ("postgresql://u@h:99999/db", "valid URL"),
        ("postgresql://u@h/", "names no database"),
        ("postgresql://u@h/db?evil=1", "unsupported URL parameter"),
        ("postgresql://u@h/host=evil", "database name"),
        ("postgresql://u@h/-d", "database name"),
    ],
)
def test_bad_urls_are_usage_errors(url: str, needle: str) -> None:
    with pytest.raises(UsageError, match=needle) as info:
        conn_from_url(url)
    assert info.value.input_name == "DATABASE_URL"


def test_bad_url_error_never_quotes_the_password() -> None:
    with pytest.raises(UsageError) as info:
        conn_from_url("postgresql://u:hunter2secret@h:notaport/db")
    assert "hunter2secret" not in str(info.value) and info.value.__cause__ is None


def test_env_precedence() -> None:
    env = {
        "DATABASE_URL": "postgresql://app@h/one",
        "PGPASSWORD": "pw1",
        "PGDATABASE": "two",
        "PGSSLMODE": "verify-full",
    }
    info = conn_from_env(env)
    assert (info.database, info.password, dict(info.settings)["PGSSLMODE"]) == ("one", "pw1", "verify-full")
    assert conn_from_env(env, url="postgresql://x:pw2@h/three").password == "pw2"
    assert conn_from_env(env, database="other").database == "other"
    plain = conn_from_env({"PGHOST": "h", "PGPORT": "5432", "PGUSER": "u", "PGDATABASE": "d", "PGPASSFILE": "/p"})
    assert (plain.host, plain.port, plain.user, plain.database, plain.password) == ("h", "5432", "u", "d", None)
    assert dict(plain.settings)["PGPASSFILE"] == "/p"
    with pytest.raises(UsageError, match="no database"):
        conn_from_env({})
    with pytest.raises(UsageError, match="port"):
        conn_from_env({"PGDATABASE": "d", "PGPORT": "x"})


def test_password_reaches_children_only_through_a_private_pgpass(tmp_path: Path) -> None:
    info = ConnInfo(database="d", host="h", user="u", password="a:b\\c")
    with PgTools(info, base_env={"PATH": os.environ["PATH"], "PGPASSWORD": "leak", "SECRET_TOKEN": "x"}) as tools:
        env = tools._env()
        passfile = Path(env["PGPASSFILE"])
        assert passfile.read_text() == "*:*:*:*:a\\:b\\\\c\n"
        assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
        assert stat.S_IMODE(passfile.parent.stat().st_mode) == 0o700
        assert "PGPASSWORD" not in env and "SECRET_TOKEN" not in env
        assert not any("a:b" in v for k, v in env.items() if k != "PGPASSFILE")
    assert not passfile.exists()


def _publish(store: LocalBackupStore, name: str, payload: bytes = b"PGDMP data") -> None:
    temp = store.reserve(name)
    Path(temp).write_bytes(payload)
    size, sha = store.digest(temp)
    store.publish(temp, name, {"name": name, "size": size, "sha256": sha})


def test_store_publish_list_delete(tmp_path: Path) -> None:
    store = LocalBackupStore(tmp_path / "b")
    _publish(store, "one")
    _publish(store, "two")
    assert [e.name for e in store.list()] == ["one", "two"]
    entry = store.get("one")
    assert entry is not None and entry.manifest is not None and entry.manifest["size"] == 10
    assert stat.S_IMODE((tmp_path / "b" / "one.dump").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "b").stat().st_mode) == 0o700
    with pytest.raises(DatabaseError, match="already exists"):
        store.reserve("one")
    store.delete("one")
    assert [e.name for e in store.list()] == ["two"] and not list((tmp_path / "b").glob("one.*"))
    with pytest.raises(UsageError):
        store.get("../x")


def test_store_partial_and_quarantined_files_are_never_listed(tmp_path: Path) -> None:
    store = LocalBackupStore(tmp_path)
    temp = store.reserve("half")
    Path(temp).write_bytes(b"PGDMP trunc")
    assert store.list() == []  # a file being written is not a backup
    moved = store.quarantine(temp, "half", "pg_dump failed: No space left on device")
    assert moved is not None and Path(moved).parent == tmp_path / "quarantine" and moved.endswith(".partial")
    assert "No space left" in Path(moved).with_suffix(".reason.txt").read_text()
    assert store.list() == [] and not list(tmp_path.glob("*.dump"))


def test_store_dump_without_manifest_is_listed_as_such(tmp_path: Path) -> None:
    store = LocalBackupStore(tmp_path)
    (tmp_path / "orphan.dump").write_bytes(b"x")
    (tmp_path / "broken.dump").write_bytes(b"x")
    (tmp_path / "broken.manifest.json").write_text("{not json")
    assert {e.name: e.manifest for e in store.list()} == {"broken": None, "orphan": None}


def test_store_manifest_write_failure_quarantines_the_dump(tmp_path: Path) -> None:
    store = LocalBackupStore(tmp_path)
    temp = store.reserve("m")
    Path(temp).write_bytes(b"PGDMP")
    (tmp_path / "m.manifest.json").mkdir()  # the manifest cannot be renamed over a folder
    with pytest.raises(DatabaseError, match="cannot write"):
        store.publish(temp, "m", {"name": "m"})
    assert not (tmp_path / "m.dump").exists()
    assert len(list((tmp_path / "quarantine").glob("m.*.partial"))) == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_store_manifest_update_is_atomic(tmp_path: Path) -> None:
    store = LocalBackupStore(tmp_path)
    _publish(store, "u")
    store.update_manifest("u", {"name": "u", "verification": {"ok": False}})
    assert json.loads((tmp_path / "u.manifest.json").read_text())["verification"] == {"ok": False}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quarantine", "u.dump", "u.manifest.json"]
