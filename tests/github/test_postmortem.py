"""The post-mortem issue: its text (pure) and `hotfix postmortem` against the emulator, once per incident."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hotfix_actions.cli import cli
from hotfix_actions.decide import postmortem as pm
from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.github_emulator.fixtures import REPOSITORY, TOKEN
from tests.gitrepos import make_project

T0 = datetime(2025, 3, 1, 14, 0, tzinfo=UTC)


def test_body_has_the_timeline_checklist_and_seven_questions() -> None:
    incident = pm.Incident(
        incident_id="INC-42",
        title="login <crash> | @oncall",
        severity="high",
        detected_at=T0 + timedelta(minutes=2),
        canary_at=T0 + timedelta(minutes=5),
        canary_verdict="FAIL",
        canary_reasons=("error rate 3.1% > max 2.0% (3 of 5 checks)",),
        rolled_back_at=T0 + timedelta(minutes=7, seconds=12),
        bad_version="1.0.1",
        good_version="1.0.0",
        events=(pm.Entry(T0, "canary 1.0.1 started at 10%"),),
        run_url="https://github.com/acme/shop/actions/runs/1",
        links=(("Dashboard", "https://grafana.example/d/1"), ("Bad", "javascript:alert(1)")),
    )
    body = pm.issue_body(incident)
    assert body.startswith("<!-- hotfix-postmortem incident=INC-42 -->")
    assert [line for line in body.splitlines() if line.startswith("| 2025-03-01")] == [
        "| 2025-03-01 14:00:00 UTC | canary 1.0.1 started at 10% |",
        "| 2025-03-01 14:02:00 UTC | Problem detected |",
        "| 2025-03-01 14:05:00 UTC | Canary verdict FAIL: error rate 3.1% &gt; max 2.0% (3 of 5 checks) |",
        "| 2025-03-01 14:07:12 UTC | Rolled back to 1.0.0 |",
    ]
    assert "| Detection to rollback | 5m 12s |" in body
    assert "login &lt;crash&gt; \\| @\u200boncall" in body
    for heading, items in pm.CHECKLIST:
        assert f"### {heading}" in body and all(f"- [ ] {item}" in body for item in items)
    assert [h for h, _ in pm.CHECKLIST] == ["Within 1 hour", "Within 24 hours", "Within 1 week"]
    assert len(pm.QUESTIONS) == 7 and all(f"{i}. {q}" in body for i, q in enumerate(pm.QUESTIONS, 1))
    assert "- [Dashboard](https://grafana.example/d/1)" in body and "javascript:" not in body
    assert pm.needs_update([body], incident) is False
    later = pm.Incident(**{**incident.__dict__, "recovered_at": T0 + timedelta(minutes=9)})
    assert pm.needs_update([body], later) is True
    assert pm.needs_update([body, pm.update_comment(later)], later) is False


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0m 0s"), (432, "7m 12s"), (3 * 3600 + 5, "3h 0m 5s"), (-60, "-1m 0s")]
)
def test_duration(seconds: int, text: str) -> None:
    assert pm.duration(T0, T0 + timedelta(seconds=seconds)) == text


@pytest.fixture
def repo(tmp_path: Path, emulator: GitHubEmulator) -> None:
    origin, _ = make_project(tmp_path)
    emulator.add_repo(REPOSITORY, git_dir=origin)


def _run(emulator: GitHubEmulator, *args: str, token: str = TOKEN) -> Result:
    env = {
        "HOTFIX_GITHUB_TOKEN": token,
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": emulator.api_url,
        "HOTFIX_GITHUB_WRITE_INTERVAL": "0",
    }
    base = ["postmortem", "--json", "--incident-id", "INC-42", "--title", "login crash", "--severity", "high"]
    return CliRunner().invoke(cli, [*base, *args], env=env)


TIMES = [
    "--detected-at",
    "2025-03-01T14:02:00Z",
    "--rolled-back-at",
    "2025-03-01T14:07:12+00:00",
    "--bad-version",
    "1.0.1",
]


def test_one_issue_per_incident_however_often_it_runs(emulator: GitHubEmulator, repo: None) -> None:
    first = _run(emulator, *TIMES, "--canary-verdict", "FAIL", "--canary-reason", "error rate 3.1% > 2.0%")
    assert first.exit_code == 0, first.output
    outputs = json.loads(first.stdout)["outputs"]
    assert outputs["state"] == "created"
    state = emulator.repo(REPOSITORY)
    issue = state.issues[int(outputs["issue-number"])]
    assert issue["title"] == "Post-mortem INC-42: login crash"
    assert [label["name"] for label in issue["labels"]] == ["post-mortem"]
    assert "| Detection to rollback | 5m 12s |" in issue["body"]

    same = _run(emulator, *TIMES, "--canary-verdict", "FAIL", "--canary-reason", "error rate 3.1% > 2.0%")
    assert json.loads(same.stdout)["outputs"]["state"] == "unchanged"
    more = [
        *TIMES,
        "--canary-verdict",
        "FAIL",
        "--canary-reason",
        "error rate 3.1% > 2.0%",
        "--recovered-at",
        "2025-03-01T14:09:00Z",
    ]
    assert json.loads(_run(emulator, *more).stdout)["outputs"]["state"] == "updated"
    assert json.loads(_run(emulator, *more).stdout)["outputs"]["state"] == "unchanged"
    assert len(state.issues) == 1
    (comment,) = state.comments[issue["number"]]
    assert "Service recovered" in comment["body"]
    assert len(emulator.calls("issues/create")) == 1


def test_dry_run_needs_no_token_and_writes_the_summary(emulator: GitHubEmulator, gha: dict[str, Path]) -> None:
    result = _run(emulator, *TIMES, "--dry-run", token="")
    assert result.exit_code == 0, result.output
    assert "### The seven questions" in gha["summary"].read_text()
    assert emulator.requests == []


@pytest.mark.parametrize(
    ("args", "token", "problem"),
    [
        ([], "", "--github-token"),
        (["--detected-at", "2025-03-01T14:02:00"], TOKEN, "has no time zone"),
        (["--detected-at", "yesterday"], TOKEN, "not an ISO 8601 time"),
        (["--event", "no time"], TOKEN, "--event"),
        (["--link", "x=http://insecure"], TOKEN, "--link"),
    ],
)
def test_usage_errors(emulator: GitHubEmulator, args: list[str], token: str, problem: str) -> None:
    result = _run(emulator, *args, token=token)
    assert result.exit_code == 2
    assert problem in json.loads(result.stdout)["reasons"][0]
    assert emulator.requests == []


def test_a_hostile_incident_id_is_refused(emulator: GitHubEmulator) -> None:
    result = CliRunner().invoke(cli, ["postmortem", "--incident-id", "x --> <script>", "--dry-run"])
    assert result.exit_code == 2 and "--incident-id" in result.output
