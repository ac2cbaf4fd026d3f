"""decide.merge_back: one row per rule."""

from __future__ import annotations

import pytest

from hotfix_actions.decide import merge_back as mb
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.decide.version import SemVer
from hotfix_actions.ports import Commit

V = SemVer(1, 2, 4)
H = "h" * 40


def _order(
    branches: list[str], configured: tuple[str, ...] = ("develop", "releases"), **kw: bool
) -> list[tuple[str, str, bool]]:
    found = mb.order_targets(
        production="main",
        develop="develop",
        release_glob="release/*",
        configured=configured,
        remote_branches=branches,
        version=V,
        skip_older_releases=kw.get("skip_older", True),
        skip_develop_when_release_open=kw.get("skip_develop", False),
    )
    return [(t.branch, t.kind.value, t.excluded is None) for t in found]


@pytest.mark.parametrize(
    ("branches", "configured", "options", "expected"),
    [
        # production first, then develop, then release branches oldest version first
        (
            ["main", "develop", "release/1.10", "release/1.3", "feature/x"],
            ("develop", "releases"),
            {},
            [
                ("main", "production", True),
                ("develop", "develop", True),
                ("release/1.3", "release", True),
                ("release/1.10", "release", True),
            ],
        ),
        # a release branch not newer than the hotfix was released already
        (
            ["main", "develop", "release/1.2", "release/v1.2.4"],
            ("develop", "releases"),
            {},
            [
                ("main", "production", True),
                ("develop", "develop", True),
                ("release/1.2", "release", False),
                ("release/v1.2.4", "release", False),
            ],
        ),
        # ... unless the rule is off; names without a version are always open
        (
            ["main", "release/1.2", "release/next"],
            ("releases",),
            {"skip_older": False},
            [("main", "production", True), ("release/1.2", "release", True), ("release/next", "release", True)],
        ),
        # nvie's model: an open release branch carries the fix to develop
        (
            ["main", "develop", "release/1.3"],
            ("develop", "releases"),
            {"skip_develop": True},
            [("main", "production", True), ("develop", "develop", False), ("release/1.3", "release", True)],
        ),
        (
            ["main", "develop", "release/1.1"],
            ("develop", "releases"),
            {"skip_develop": True},
            [("main", "production", True), ("develop", "develop", True), ("release/1.1", "release", False)],
        ),
        # configurable order, extra branches, no duplicates
        (
            ["main", "develop", "release/1.3", "support/1.x"],
            ("releases", "develop", "support/1.x", "main"),
            {},
            [
                ("main", "production", True),
                ("release/1.3", "release", True),
                ("develop", "develop", True),
                ("support/1.x", "branch", True),
            ],
        ),
        # production only
        (["main", "develop"], (), {}, [("main", "production", True)]),
    ],
)
def test_order_targets(
    branches: list[str], configured: tuple[str, ...], options: dict[str, bool], expected: list[tuple[str, str, bool]]
) -> None:
    assert _order(branches, configured, **options) == expected


def _plan(
    contains: dict[str, bool],
    heads: dict[str, str] | None = None,
    tag_sha: str | None = None,
    expected: str | None = None,
) -> mb.Plan:
    targets = [
        mb.Target("main", mb.Kind.PRODUCTION),
        mb.Target("develop", mb.Kind.DEVELOP),
        mb.Target("release/1.1", mb.Kind.RELEASE, "older"),
    ]
    return mb.plan(
        version=V,
        tag="v1.2.4",
        hotfix_branch="hotfix/v1.2.4-x",
        hotfix_sha=H,
        targets=targets,
        heads=heads if heads is not None else {"main": "m" * 40, "develop": "d" * 40, "release/1.1": "r" * 40},
        contains=contains,
        tag_sha=tag_sha,
        expected_tag_sha=expected,
    )


@pytest.mark.parametrize(
    ("contains", "heads", "actions"),
    [
        ({}, None, ["merge", "merge", "excluded"]),
        ({"main": True}, None, ["contains", "merge", "excluded"]),
        ({"main": True, "develop": True, "release/1.1": True}, None, ["contains", "contains", "contains"]),
        ({}, {"main": "m" * 40}, ["merge", "missing", "missing"]),
    ],
)
def test_plan_actions(contains: dict[str, bool], heads: dict[str, str] | None, actions: list[str]) -> None:
    plan = _plan(contains, heads)
    assert [p.action.value for p in plan.targets] == actions
    assert plan.problems == ()


@pytest.mark.parametrize(
    ("contains", "tag_sha", "expected", "problem"),
    [
        ({"main": True}, "t" * 40, "t" * 40, None),  # the same tag on the same commit is fine
        ({"main": True}, "x" * 40, "t" * 40, "points at xxxxxxxxxx, not at tttttttttt"),
        ({}, "x" * 40, None, "does not contain the hotfix"),
        ({}, None, None, None),
    ],
)
def test_the_tag_is_checked_before_anything_is_written(
    contains: dict[str, bool], tag_sha: str | None, expected: str | None, problem: str | None
) -> None:
    plan = _plan(contains, tag_sha=tag_sha, expected=expected)
    if problem is None:
        assert plan.problems == ()
    else:
        assert len(plan.problems) == 1 and problem in plan.problems[0]


def test_a_missing_production_branch_is_a_problem() -> None:
    assert "production branch main does not exist" in _plan({}, heads={"develop": "d" * 40}).problems[0]


@pytest.mark.parametrize(
    ("results", "keep", "verdict", "complete", "delete"),
    [
        ([("main", mb.Result.MERGED), ("develop", mb.Result.CONTAINED)], False, Verdict.PASS, True, True),
        ([("main", mb.Result.MERGED), ("develop", mb.Result.CONTAINED)], True, Verdict.PASS, True, False),
        ([("main", mb.Result.MERGED), ("develop", mb.Result.PULL_REQUEST)], False, Verdict.PASS, False, False),
        ([("main", mb.Result.MERGED), ("develop", mb.Result.BLOCKED)], False, Verdict.FAIL, False, False),
        ([("main", mb.Result.FAILED), ("develop", mb.Result.MERGED)], False, Verdict.ERROR, False, False),
    ],
)
def test_conclude_deletes_the_branch_only_when_every_target_has_it(
    results: list[tuple[str, mb.Result]], keep: bool, verdict: Verdict, complete: bool, delete: bool
) -> None:
    plan = _plan({})
    found = mb.conclude(
        plan, [mb.TargetResult(b, r, "") for b, r in [*results, ("release/1.1", mb.Result.SKIPPED)]], keep_branch=keep
    )
    assert (found.verdict, found.complete, found.delete_branch) == (verdict, complete, delete)


def test_pull_request_body_lists_the_files_and_the_steps() -> None:
    body = mb.pr_body(
        tag="v1.2.4",
        hotfix_branch="hotfix/v1.2.4-x",
        target="develop",
        head="merge-back/1.2.4-into-develop",
        remote="origin",
        conflicts=["src/app.py", "README.md"],
        refused=None,
    )
    assert "<!-- hotfix-merge-back: v1.2.4 into develop -->" in body
    assert "- `src/app.py`\n- `README.md`" in body
    assert "`git merge --no-ff origin/develop`" in body
    assert "**with a merge commit**" in body
    assert "hotfix merge-back --branch hotfix/v1.2.4-x" in body
    refused = mb.pr_body(
        tag="v1.2.4",
        hotfix_branch="hotfix/v1.2.4-x",
        target="main",
        head="merge-back/1.2.4-into-main",
        remote="origin",
        conflicts=[],
        refused="pre-receive hook declined",
    )
    assert "refused a direct push (pre-receive hook declined)" in refused and "git merge" not in refused
    assert mb.pr_branch("merge-back/", V, "release/1.3") == "merge-back/1.2.4-into-release/1.3"


def test_release_notes_list_own_commits_with_trailers_and_no_mentions() -> None:
    commits = [
        Commit("a" * 40, "fix: crash for @everyone", (("Severity", "high"), ("Fixes", "INC-1"))),
        Commit("b" * 40, "Merge branch main", parents=2),
    ]
    notes = mb.release_notes("v1.2.4", "hotfix/v1.2.4-x", "main", commits, "v1.2.3")
    assert "Changes since v1.2.3" in notes
    assert "- fix: crash for @\u200beveryone (aaaaaaaaaa) - Severity: high, Fixes: INC-1" in notes
    assert "Merge branch" not in notes
