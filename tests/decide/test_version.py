from __future__ import annotations

import pytest

from hotfix_actions.decide.globs import matches
from hotfix_actions.decide.names import dns1123_label_problem, image_problem, url_problem
from hotfix_actions.decide.verdict import Status, Verdict, exit_code_for, worst, worst_status
from hotfix_actions.decide.version import SemVer, bump_declared, declared_version, highest_release


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.3", SemVer(1, 2, 3)),
        ("0.0.0", SemVer(0, 0, 0)),
        ("01.2.3", None),
        ("1.2", None),
        ("1.2.3-rc1", None),
        ("v1.2.3", None),
        ("", None),
    ],
)
def test_semver_parse(text: str, expected: SemVer | None) -> None:
    assert SemVer.parse(text) == expected


def test_highest_release_ignores_prereleases_and_other_prefixes() -> None:
    tags = ["v1.2.3", "v1.10.0", "v1.9.9", "v2.0.0-rc1", "release-9.9.9", "v1.10.0.1"]
    assert highest_release(tags, "v") == (SemVer(1, 10, 0), "v1.10.0")
    assert highest_release(["release-9.9.9"], "release-") == (SemVer(9, 9, 9), "release-9.9.9")
    assert highest_release([], "v") is None


FILES = [
    ("pyproject.toml", '[project]\nname = "x"\nversion = "1.0.0"\n', "1.0.0"),
    ("pyproject.toml", '[tool.poetry]\nname = "x"\nversion = "2.1.0"\n', "2.1.0"),
    ("pyproject.toml", '[project]\nname = "x"\ndynamic = ["version"]\n', None),
    ("package.json", '{\n  "name": "x",\n  "version": "3.0.0"\n}\n', "3.0.0"),
    ("VERSION", "4.0.0\n", "4.0.0"),
    ("setup.cfg", "[metadata]\nname = x\nversion = 5.0.0\n", "5.0.0"),
    ("deploy/Chart.yaml", 'apiVersion: v2\nversion: 0.1.0\nappVersion: "6.0.0"\n', "6.0.0"),
]


@pytest.mark.parametrize(("path", "text", "version"), FILES)
def test_declared_version_and_bump(path: str, text: str, version: str | None) -> None:
    assert declared_version(path, text) == version
    bumped = bump_declared(path, text, "9.9.9")
    if version is None:
        assert bumped is None
    else:
        assert bumped is not None
        assert declared_version(path, bumped) == "9.9.9"
        assert bumped.replace("9.9.9", version) == text  # formatting kept


def test_unparseable_declaration_is_reported_not_ignored() -> None:
    assert declared_version("package.json", "{not json") == "<unparseable>"
    assert bump_declared("package.json", "{not json", "1.0.1") is None


@pytest.mark.parametrize(
    ("path", "glob", "expected"),
    [
        ("a/b/c.sql", "**/*.sql", True),
        ("c.sql", "**/*.sql", True),
        ("a/migrations/b/c", "**/migrations/**", True),
        ("migrationsx/a", "**/migrations/**", False),
        ("src/Dockerfile", "Dockerfile", True),
        ("src/a.py", "src/*.py", True),
        ("src/x/a.py", "src/*.py", False),
        ("src/x/a.py", "src/**", True),
    ],
)
def test_globs(path: str, glob: str, expected: bool) -> None:
    assert matches(path, glob) is expected


def test_worst_wins_and_no_evidence_is_not_a_pass() -> None:
    assert worst([Verdict.PASS, Verdict.INCONCLUSIVE]) is Verdict.INCONCLUSIVE
    assert worst([Verdict.ERROR, Verdict.FAIL, Verdict.PASS]) is Verdict.FAIL
    assert worst([]) is Verdict.INCONCLUSIVE
    assert worst_status([Status.PASS, Status.WARN, Status.SKIP]) is Verdict.PASS
    assert worst_status([Status.PASS, Status.ERROR]) is Verdict.ERROR
    assert worst_status([Status.ERROR, Status.FAIL]) is Verdict.FAIL
    assert [int(exit_code_for(v)) for v in Verdict] == [0, 3, 3, 1]


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("web", True),
        ("web-canary", True),
        ("Web", False),
        ("-web", False),
        ("a" * 64, False),
        ("web_1", False),
        ("web.1", False),
    ],
)
def test_dns1123_label(name: str, ok: bool) -> None:
    assert (dns1123_label_problem(name) is None) is ok


@pytest.mark.parametrize(
    ("image", "digest", "ok"),
    [
        ("nginx:1.27", False, True),
        ("ghcr.io/acme/shop:v1.0.1", False, True),
        ("registry.local:5000/a/b@sha256:" + "a" * 64, True, True),
        ("ghcr.io/acme/shop:v1", True, False),
        ("shop:$(id)", False, False),
        ("UPPER/case:1", False, False),
        ("", False, False),
    ],
)
def test_image_reference(image: str, digest: bool, ok: bool) -> None:
    assert (image_problem(image, require_digest=digest) is None) is ok


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://api.github.com", True),
        ("https://hooks.slack.com/services/T/B/X", True),
        ("http://127.0.0.1:8080/api/v3", True),
        ("http://localhost:9000", True),
        ("http://127.0.0.1.evil.example/api", False),  # starts like loopback, is not: a token must never go there
        ("http://localhost.evil.example", False),
        ("http://api.github.com", False),
        ("https://user:pw@api.github.com", False),
        ("https://a b", False),
        ("", False),
    ],
)
def test_url_allowlist(url: str, ok: bool) -> None:
    assert (url_problem(url) is None) is ok
