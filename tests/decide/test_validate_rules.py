from __future__ import annotations

import pytest

from hotfix_actions.config.validate import DEFAULT_BRANCH_PATTERN, DEFAULT_RISKY_PATHS
from hotfix_actions.decide import validate as rules
from hotfix_actions.decide.verdict import Status
from hotfix_actions.decide.version import SemVer
from hotfix_actions.ports import Commit, FileChange

BAD_BRANCHES = [
    ('hotfix/v1.0.1-x";echo${IFS}pwned;#', "has '\"' at position 16"),
    ("hotfix/v1.0.1-$({curl,-sSfL,x}${IFS}|${IFS}bash)", "has '$' at position 15"),
    ("hotfix/../../etc", "has '..', which git does not allow"),
    ("-hotfix/--upload-pack=x", "has '=' at position 22"),
    ("hotfix/v1.0.1-" + "a" * 286, "300 characters long"),
    ("hotfix/v1.0.1-caf\u00e9", "(U+00E9) at position 18"),
    ("hotfix/v1.0-x", "the version '1.0', which has 2 numbers"),
    ("hotfix/v01.0.1-x", "leading zero: write 1.0.1"),
    ("hotfix/v1.0.1", "no '-<slug>' after the version"),
    ("feature/v1.0.1-x", "does not start with 'hotfix/'"),
    ("hotfix/v1.0.1-Fix", "the slug 'Fix', which is not a hotfix slug: it has 'F' at position 1"),
    ("hotfix/v1.0.1-x.lock", "ends with '.lock'"),
    ("hotfix/-v1.0.1-x", "starting with '-'"),
    ("", "is empty"),
]


@pytest.mark.parametrize(("name", "why"), BAD_BRANCHES)
def test_bad_branch_names_are_rejected_with_a_reason(name: str, why: str) -> None:
    facts = rules.check_branch(name, DEFAULT_BRANCH_PATTERN)
    assert facts.check.status is Status.FAIL
    assert why in facts.check.reason
    assert facts.version is None
    assert "hotfix/vX.Y.Z-<slug>" in facts.check.reason


@pytest.mark.parametrize(
    ("name", "version", "slug"),
    [
        ("hotfix/v1.0.1-fix-login", SemVer(1, 0, 1), "fix-login"),
        ("hotfix/v10.20.300-x", SemVer(10, 20, 300), "x"),
        ("hotfix/v0.0.1-a1-b2", SemVer(0, 0, 1), "a1-b2"),
    ],
)
def test_good_branch_names(name: str, version: SemVer, slug: str) -> None:
    facts = rules.check_branch(name, DEFAULT_BRANCH_PATTERN)
    assert facts.check.status is Status.PASS
    assert (facts.version, facts.slug) == (version, slug)


def test_custom_pattern_is_used() -> None:
    pattern = r"^hotfix/(?P<version>\d+\.\d+\.\d+)_(?P<slug>[a-z]+)$"
    assert rules.check_branch("hotfix/1.2.3_abc", pattern).version == SemVer(1, 2, 3)
    assert rules.check_branch("hotfix/v1.2.3-abc", pattern).check.status is Status.FAIL


@pytest.mark.parametrize(
    ("branch", "highest", "tag_exists", "declared", "status", "text"),
    [
        ("1.0.1", "1.0.0", False, {}, Status.PASS, "patch after v1.0.0"),
        ("1.0.1", "1.0.0", False, {"package.json": "1.0.1"}, Status.PASS, "declared in package.json"),
        ("1.0.2", "1.0.0", False, {}, Status.FAIL, "skips 1 version"),
        ("1.0.0", "1.0.0", False, {}, Status.FAIL, "goes backwards"),
        ("0.9.9", "1.0.0", False, {}, Status.FAIL, "goes backwards"),
        ("1.1.0", "1.0.0", False, {}, Status.FAIL, "bumps the major or minor"),
        ("2.0.1", "1.0.0", False, {}, Status.FAIL, "bumps the major or minor"),
        ("1.0.1", "1.0.0", True, {}, Status.FAIL, "already exists"),
        ("1.0.1", "1.0.0", False, {"pyproject.toml": "1.0.0"}, Status.FAIL, "pyproject.toml says 1.0.0"),
        ("1.0.1", None, False, {}, Status.FAIL, "no release tag"),
    ],
)
def test_version_rule(
    branch: str, highest: str | None, tag_exists: bool, declared: dict[str, str], status: Status, text: str
) -> None:
    top = (SemVer.parse(highest), f"v{highest}") if highest else None
    check = rules.check_version(
        SemVer.parse(branch),
        top,
        production="main",
        tag_prefix="v",  # type: ignore[arg-type]
        tag_exists=tag_exists,
        declared=declared,
    )
    assert check.status is status
    assert text in check.reason


def _changes(n: int, lines_each: int = 1, prefix: str = "src") -> list[FileChange]:
    return [FileChange(f"{prefix}/f{i}.py", lines_each, 0) for i in range(n)]


@pytest.mark.parametrize(
    ("changes", "status", "text"),
    [
        (_changes(3, 10), Status.PASS, "3 file(s) (max 20), 30 line(s) (max 400)"),
        (_changes(16), Status.WARN, "close to the limit"),
        (_changes(2, 160), Status.WARN, "close to the limit"),
        (_changes(21), Status.FAIL, "too large"),
        (_changes(1, 401), Status.FAIL, "401 line(s)"),
        ([], Status.WARN, "no file changes"),
    ],
)
def test_size_rule(changes: list[FileChange], status: Status, text: str) -> None:
    check = rules.check_size(changes, max_files=20, max_lines=400, warn_ratio=0.8)
    assert check.status is status
    assert text in check.reason


@pytest.mark.parametrize(
    ("path", "risky"),
    [
        ("db/migrations/0042_add.py", True),
        ("migrations/0001.py", True),
        ("app/schema.graphql", True),
        ("schema.json", True),
        ("sql/fix.sql", True),
        ("alembic/versions/x.py", True),
        ("Dockerfile", True),
        ("infra/main.tf", True),
        (".github/workflows/ci.yml", True),
        ("src/app.py", False),
        ("docs/migrating.md", False),
        ("github/workflows/x.yml", False),
    ],
)
def test_risky_paths(path: str, risky: bool) -> None:
    check, files = rules.check_risky([FileChange(path, 1, 1)], DEFAULT_RISKY_PATHS)
    assert (check.status is Status.WARN) is risky
    assert (files == [path]) is risky
    if risky:
        assert "needs approval" in check.reason


def _commit(subject: str, trailers: tuple[tuple[str, str], ...] = (), parents: int = 1) -> Commit:
    return Commit(sha="a" * 40, subject=subject, trailers=trailers, parents=parents)


GOOD_TRAILERS = (("Severity", "High"), ("Fixes", "INC-1"))


@pytest.mark.parametrize(
    ("commits", "status", "severity", "text"),
    [
        ([_commit("fix: crash", GOOD_TRAILERS)], Status.PASS, "high", "severity high"),
        ([_commit("fix(auth)!: crash", GOOD_TRAILERS)], Status.PASS, "high", "1 commit"),
        ([_commit("fix: crash", GOOD_TRAILERS), _commit("chore(release): v1.0.1")], Status.PASS, "high", "2 commit"),
        ([_commit("feat: new thing", GOOD_TRAILERS)], Status.FAIL, None, "not '<type>: ...'"),
        ([_commit("Fix crash", GOOD_TRAILERS)], Status.FAIL, None, "reword"),
        ([_commit("fix: crash", (("Fixes", "INC-1"),))], Status.FAIL, None, "no 'Severity"),
        ([_commit("fix: crash", (("Severity", "high"),))], Status.FAIL, "high", "no 'Fixes"),
        ([_commit("fix: crash", (("Severity", "urgent"), ("Fixes", "X")))], Status.FAIL, None, "'urgent' is not"),
        ([], Status.FAIL, None, "no commits"),
        ([_commit("Merge branch 'main'", parents=2)], Status.FAIL, None, "no commits"),
    ],
)
def test_commit_rule(commits: list[Commit], status: Status, severity: str | None, text: str) -> None:
    check, found = rules.check_commits(
        commits,
        types=("fix",),
        release_subject="chore(release): v1.0.1",
        severity_trailer="Severity",
        ticket_trailers=("Fixes",),
        require_severity=True,
        require_ticket=True,
    )
    assert check.status is status
    assert found == severity
    assert text in check.reason


@pytest.mark.parametrize(
    ("paths", "status"),
    [
        (["src/a.py", "src/b.py", "README.md"], Status.PASS),
        (["a/x", "b/x", "c/x"], Status.PASS),
        (["a/x", "b/x", "c/x", "d/x"], Status.WARN),
    ],
)
def test_one_concern(paths: list[str], status: Status) -> None:
    check = rules.check_concern([FileChange(p, 1, 0) for p in paths], 3)
    assert check.status is status


@pytest.mark.parametrize(
    ("contains", "status", "text"),
    [
        (True, Status.PASS, "contains the head"),
        (False, Status.FAIL, "rebase onto main"),
        (None, Status.ERROR, "history is missing"),
    ],
)
def test_base_rule(contains: bool | None, status: Status, text: str) -> None:
    check = rules.check_base(contains, production="main", production_sha="b" * 40, behind=3)
    assert check.status is status
    assert text in check.reason
