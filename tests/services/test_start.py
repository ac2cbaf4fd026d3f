"""`hotfix start` on real git repositories (a bare origin and clones): one open hotfix per version, the upstream
set on --push, and a clear exit 2 outside a git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from hotfix_actions.cli import cli
from tests.gitrepos import Repo, clone, hotfix_branch, make_project


def start(repo: Path, *args: str) -> tuple[int, dict[str, object], str]:
    result = CliRunner().invoke(cli, ["start", *args, "--repo", str(repo), "--json"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1]), result.output


def state(repo: Repo) -> tuple[str, str]:
    return repo.head(), repo.git("for-each-ref", "--format=%(refname)", "refs/heads")


def test_a_second_hotfix_of_the_same_version_is_refused_when_the_first_is_local(tmp_path: Path) -> None:
    _, work = make_project(tmp_path)
    hotfix_branch(work, version="1.0.1", slug="login-crash", push=False)
    work.git("switch", "-q", "main")
    before = state(work)
    code, doc, _ = start(work.path, "other-fix")
    assert code == 1, doc
    reason = str(doc["reasons"])
    assert "hotfix 1.0.1 is already open as hotfix/v1.0.1-login-crash (here)" in reason
    assert "git switch hotfix/v1.0.1-login-crash" in reason and "git branch -D hotfix/v1.0.1-login-crash" in reason
    assert state(work) == before  # nothing created, nothing moved


def test_a_second_hotfix_is_refused_when_the_first_is_only_on_the_remote(tmp_path: Path) -> None:
    origin, work = make_project(tmp_path)
    mine = clone(origin, tmp_path / "mine", branch="main")  # cloned before the other hotfix was pushed
    hotfix_branch(work, version="1.0.1", slug="login-crash", push=True)
    assert not mine.git("branch", "-a", "--list", "*hotfix*")  # this clone has never heard of it
    before = state(mine)
    code, doc, _ = start(mine.path, "other-fix", "--push")
    assert code == 1, doc
    reason = str(doc["reasons"])
    assert "already open as hotfix/v1.0.1-login-crash (on origin)" in reason
    assert "git push origin --delete hotfix/v1.0.1-login-crash" in reason
    assert state(mine) == before
    assert Repo(origin).git("for-each-ref", "--format=%(refname)", "refs/heads/hotfix") == (
        "refs/heads/hotfix/v1.0.1-login-crash"
    )


def test_once_the_open_hotfix_ships_the_next_one_gets_the_next_patch(tmp_path: Path) -> None:
    origin, work = make_project(tmp_path)
    branch = hotfix_branch(work, version="1.0.1", slug="login-crash", push=True)
    work.git("switch", "-q", "main")
    work.git("merge", "-q", "--no-ff", "-m", "merge", branch)
    work.git("tag", "-a", "v1.0.1", "-m", "release v1.0.1")
    work.git("push", "-q", "origin", "main", "v1.0.1")
    work.git("push", "-q", "origin", "--delete", branch)
    work.git("branch", "-q", "-D", branch)
    code, doc, _ = start(work.path, "other-fix")
    assert code == 0, doc
    assert doc["outputs"]["branch"] == "hotfix/v1.0.2-other-fix"  # type: ignore[index]


def test_push_sets_the_upstream_so_a_plain_git_push_works(tmp_path: Path) -> None:
    origin, work = make_project(tmp_path)
    dev = clone(origin, tmp_path / "dev", branch="main")
    code, doc, output = start(dev.path, "login-crash", "--severity", "critical", "--fixes", "INC-1234", "--push")
    assert code == 0, doc
    branch = "hotfix/v1.0.1-login-crash"
    assert dev.git("rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}") == f"origin/{branch}"
    assert '--trailer "Severity: critical" --trailer "Fixes: INC-1234"' in output  # the next step, spelled out
    dev.write({"src/app.py": "def handler():\n    return 'fixed'\n"})
    dev.git("commit", "-q", "-am", "fix(auth): reject empty passwords", "--trailer", "Severity: critical")
    push = subprocess.run(["git", "push", "-q"], cwd=dev.path, capture_output=True, text=True, check=False)
    assert push.returncode == 0, push.stderr
    assert Repo(origin).git("rev-parse", f"refs/heads/{branch}") == dev.head()


def test_outside_a_git_repository_exits_2_with_the_fix(tmp_path: Path) -> None:
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    code, doc, output = start(plain, "login-crash")
    assert code == 2
    reason = str(doc["reasons"])
    assert "is not inside a git work tree" in reason and "--repo <clone>" in reason
    assert "fatal:" not in output


def test_push_without_a_remote_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    _, work = make_project(tmp_path)
    work.git("remote", "remove", "origin")
    before = state(work)
    code, doc, _ = start(work.path, "login-crash", "--push")
    assert code == 2
    assert "has no remote origin to push to" in str(doc["reasons"]) and "git remote add origin" in str(doc["reasons"])
    assert state(work) == before
