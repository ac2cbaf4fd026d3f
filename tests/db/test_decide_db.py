"""The pure rules of `hotfix db`: one table row per rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotfix_actions.decide.db import (
    MANIFEST_FORMAT,
    BackupKind,
    Manifest,
    RetentionEntry,
    Verification,
    backup_name_problem,
    check_checksum,
    check_rows,
    check_sql_result,
    check_versions,
    database_name_problem,
    major_of,
    make_backup_name,
    plan_retention,
    table_ident_problem,
)
from hotfix_actions.decide.verdict import Status

SHA = "a" * 64


@pytest.mark.parametrize(
    ("text", "major"),
    [("15.18 (Debian 15.18-0+deb12u1)", 15), ("16.4", 16), ("9.6.24", 9), ("17beta1", 17), ("", None), ("x", None)],
)
def test_major_of(text: str, major: int | None) -> None:
    assert major_of(text) == major


@pytest.mark.parametrize(
    ("operation", "kwargs", "status", "needle"),
    [
        ("backup", {"client": "15.18", "server": "15.18"}, Status.PASS, "compatible for backup"),
        ("backup", {"client": "16.2", "server": "15.18"}, Status.PASS, "client 16.2"),
        ("backup", {"client": "14.9", "server": "15.18"}, Status.ERROR, "older than the server"),
        ("backup", {"client": "14.9", "server": "15.18"}, Status.ERROR, "postgresql-client-15"),
        ("verify", {"client": "15.1", "dumped_by": "15.18"}, Status.PASS, "dump by 15.18"),
        ("verify", {"client": "15.1", "dumped_by": "16.1"}, Status.ERROR, "cannot read a dump written by pg_dump 16.1"),
        (
            "restore",
            {"client": "15.2", "server": "15.18", "dumped_from": "15.18", "dumped_by": "15.2"},
            Status.PASS,
            "",
        ),
        ("restore", {"client": "16.1", "server": "15.18", "dumped_from": "15.18"}, Status.ERROR, "do not match"),
        ("restore", {"client": "15.2", "server": "15.18", "dumped_from": "14.3"}, Status.ERROR, "cross-major"),
        ("restore", {"client": "15.2", "server": "16.0", "dumped_from": "15.2"}, Status.ERROR, "older than the server"),
        ("restore", {"client": "garbage", "server": "15.18"}, Status.ERROR, "cannot read the client version"),
        ("restore", {"client": "15.2", "server": "?"}, Status.ERROR, "cannot read the server version"),
    ],
)
def test_check_versions(operation: str, kwargs: dict[str, str], status: Status, needle: str) -> None:
    check = check_versions(operation, **kwargs)
    assert check.status is status
    assert needle in check.reason


@pytest.mark.parametrize(
    ("size", "sha", "status", "needle"),
    [
        (100, SHA, Status.PASS, "match the manifest"),
        (0, SHA, Status.FAIL, "empty"),
        (99, SHA, Status.FAIL, "size 99 bytes != 100"),
        (100, "b" * 64, Status.FAIL, "SHA-256 bbbbbbbbbbbbbbbb... != aaaaaaaaaaaaaaaa..."),
    ],
)
def test_check_checksum(size: int, sha: str, status: Status, needle: str) -> None:
    check = check_checksum(100, SHA, size, sha)
    assert check.status is status and needle in check.reason


@pytest.mark.parametrize(
    ("actual", "status", "needle"),
    [
        ({"public.a": 3, "public.b": 0}, Status.PASS, "2 tables, 3 rows match"),
        ({"public.a": 3, "public.b": 0, "public.extra": 9}, Status.PASS, "2 tables"),
        ({"public.a": 2, "public.b": 0}, Status.FAIL, "1 of 2 tables differ from X: public.a 2 != 3"),
        ({"public.a": 3}, Status.FAIL, "public.b missing"),
    ],
)
def test_check_rows(actual: dict[str, int], status: Status, needle: str) -> None:
    check = check_rows("rows", {"public.a": 3, "public.b": 0}, actual, against="X")
    assert check.status is status and needle in check.reason


def test_check_rows_lists_at_most_five_differences() -> None:
    expected = {f"public.t{i}": i for i in range(8)}
    check = check_rows("rows", expected, {}, against="X")
    assert "8 of 8 tables differ" in check.reason and "3 more" in check.reason


@pytest.mark.parametrize(
    ("value", "status"),
    [("t", Status.PASS), ("true", Status.PASS), ("1", Status.PASS), ("f", Status.FAIL), ("", Status.FAIL)],
)
def test_check_sql_result(value: str, status: Status) -> None:
    assert check_sql_result(value).status is status


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("app-20250101T000000Z-abc123", True),
        ("a", True),
        ("../etc/passwd", False),
        ("-rf", False),
        ("x..y", False),
        ("x.dump", False),
        ("x y", False),
        ("", False),
        ("a" * 129, False),
    ],
)
def test_backup_name_problem(name: str, ok: bool) -> None:
    assert (backup_name_problem(name) is None) is ok


@pytest.mark.parametrize(
    ("name", "ok"),
    [("appdb", True), ("app_db-2", True), ("host=evil", False), ("postgresql://x", False), ("-d", False), ("", False)],
)
def test_database_name_problem(name: str, ok: bool) -> None:
    assert (database_name_problem(name) is None) is ok


@pytest.mark.parametrize(
    ("ident", "ok"),
    [
        ("public.accounts", True),
        ('public."Audit Log"', True),
        ('"My Schema"."a""b"', True),
        ("accounts", False),
        ("public.a; DROP TABLE x", False),
        ('public."unterminated', False),
    ],
)
def test_table_ident_problem(ident: str, ok: bool) -> None:
    assert (table_ident_problem(ident) is None) is ok


def test_backup_names_sort_by_time_and_are_safe() -> None:
    early = make_backup_name("my db/x", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), BackupKind.MANUAL, "aa11bb")
    late = make_backup_name("my db/x", datetime(2025, 1, 2, 3, 4, 6, tzinfo=UTC), BackupKind.PRE_RESTORE, "001122")
    assert early == "my_db_x-20250102T030405Z-aa11bb"
    assert late == "my_db_x-20250102T030406Z-pre-restore-001122"
    assert backup_name_problem(early) is None and backup_name_problem(late) is None


def _manifest(**changes: object) -> dict[str, object]:
    data = Manifest(
        name="n",
        file="n.dump",
        database="app",
        server_version="15.18",
        pg_dump_version="15.18",
        created_at="2025-01-01T00:00:00.000000Z",
        hotfix_version="1.0.0",
        git_sha="abc",
        size=10,
        sha256=SHA,
        tables=(("public.a", 3),),
        verification=Verification(ok=True, at="t", deep=True, checks=("x",)),
    ).to_dict()
    data.update(changes)
    return data


def test_manifest_round_trip() -> None:
    parsed = Manifest.parse(_manifest())
    assert isinstance(parsed, Manifest)
    assert parsed.rows == {"public.a": 3} and parsed.verified and parsed.verification and parsed.verification.deep
    assert parsed.to_dict()["format"] == MANIFEST_FORMAT


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"format": "other/1"}, "format"),
        ({"sha256": "XYZ"}, "sha256"),
        ({"size": -1}, "size"),
        ({"size": True}, "size"),
        ({"database": ""}, "database"),
        ({"tables": {"public.a": "3"}}, "tables"),
        ({"kind": "weekly"}, "kind"),
    ],
)
def test_manifest_parse_rejects(changes: dict[str, object], needle: str) -> None:
    problem = Manifest.parse(_manifest(**changes))
    assert isinstance(problem, str) and needle in problem


def test_manifest_without_verification_is_not_verified() -> None:
    parsed = Manifest.parse(_manifest(verification=None))
    assert isinstance(parsed, Manifest) and not parsed.verified


def _e(name: str, day: int | None, verified: bool = True) -> RetentionEntry:
    return RetentionEntry(name, None if day is None else f"2025-01-{day:02d}T00:00:00.000000Z", verified)


@pytest.mark.parametrize(
    ("entries", "keep", "deleted", "needle"),
    [
        ([_e("a", 1), _e("b", 2), _e("c", 3)], 2, ("a",), "keeping the newest 2 of 3"),
        ([_e("a", 1), _e("b", 2), _e("c", 3)], 5, (), "keeping the newest 3 of 3"),
        # the newest verified copy survives although it is not among the newest N
        ([_e("a", 1), _e("b", 2, False), _e("c", 3, False)], 1, ("b",), "also keeping a: the newest verified copy"),
        ([_e("a", 1, False), _e("b", 2, False)], 1, ("a",), "no verified backup"),
        # a dump without a readable manifest is never deleted by retention
        ([_e("a", 1), _e("x", None), _e("c", 3)], 1, ("a",), "not touching 1 without a readable manifest: x"),
    ],
)
def test_plan_retention(entries: list[RetentionEntry], keep: int, deleted: tuple[str, ...], needle: str) -> None:
    plan = plan_retention(entries, keep)
    assert plan.delete == deleted
    assert any(needle in r for r in plan.reasons), plan.reasons
    assert not set(plan.keep) & set(plan.delete)


def test_plan_retention_refuses_zero() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        plan_retention([_e("a", 1)], 0)
