"""Untrusted text can never become a workflow command: every reporter path, read with the runner's own rules.

Arbitrary strings (Hypothesis, biased towards the runner's syntax: ``::``, ``##[``, line breaks, percent escapes,
characters culture-sensitive .NET comparison skips) go through log lines, annotations (message, file, title),
groups, multi-line text, documents, the final table, errors, ``--json``, the validate rules and notifications. The
output is parsed with ``tests/runner_commands.py`` (a transcription of actions/runner's parser, stricter than it):
the commands found must be exactly the ones the same calls make with harmless text.
"""

from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotfix_actions.config.notify import NotifyConfig
from hotfix_actions.decide import validate as rules
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import InfraError
from hotfix_actions.guard import inert, json_line
from hotfix_actions.notify import WebhookUrls, build, messages
from hotfix_actions.ports import Commit, Event, FileChange
from hotfix_actions.report import Outcome, Reporter, Row
from hotfix_actions.services import notify as notify_service
from tests.notify.receiver import Answer, Receiver
from tests.runner_commands import Command, lines_of, parse_line, unescape_data

FRAGMENTS = [
    "::", "##[", "\n", "\r", "\r\n", "%0A", "%0D", "%25", "%", "]", ",", ":", "=", " ", "\t", "\u00a0", "\u2028",
    "\u0085", "\u00ad", "\u200b", "\ufeff", "\u202e", "\x1b[31m", "\x00", "\ud800", "stop-commands", "add-mask",
    "set-output name=valid", "warning", "endgroup", "::stop-commands::tok", "::add-mask::true", "##[set-output name=x]y",
    "  ::error::forged", "\n::warning file=a::x", "::tok::", "ghadelimiter_", "<br>", "|", "`", "<!channel>",
]  # fmt: skip
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=12).map("".join)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def every_line_command(*streams: str) -> list[Command]:
    """Every line that parses as a command, stop state ignored (stricter than the runner)."""
    return [c for text in streams for line in lines_of(text) if (c := parse_line(line)) is not None]


def shape(commands: list[Command]) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.name, tuple(sorted(c.properties))) for c in commands]


def run_paths(text: str, tmp: Path, *, json_mode: bool = False) -> tuple[str, str, str, str]:
    """Every Reporter path with ``text`` wherever text from outside can reach; returns stdout, stderr, the
    GITHUB_OUTPUT file and the step summary."""
    out, err = io.StringIO(), io.StringIO()
    output, summary = tmp / "output", tmp / "summary"
    output.write_text("")
    summary.write_text("")
    r = Reporter(
        github_actions=True,
        output_path=str(output),
        summary_path=str(summary),
        json_mode=json_mode,
        out=out,
        err=err,
    )
    r.mask("s3cr3t-t0ken")
    r.step(f"checking {text}")
    r.step(text)
    r.info(text)
    r.annotate("warning", text, file=f"src/{text}", line=3, title=f"t {text}")
    r.annotate("notice", f"{text}: {text}")
    with r.group(text):
        r.untrusted(text)
    r.document(f"key: {text}\n{text}\n")
    outcome = Outcome(
        command="validate",
        verdict=Verdict.FAIL,
        reasons=[text, f"size: {text}"],
        outputs={"branch": text, "risky-files": json.dumps([text])},
        rows=[Row(text or "x", Status.FAIL, text), Row("size", Status.WARN, f"{text} and more")],
        title=text,
        markdown=f"- {text}\n",
    )
    r.finish(outcome)
    r.fail("notify", InfraError(f"server said: {text}", fix=text))
    return out.getvalue(), err.getvalue(), output.read_text(), summary.read_text()


BENIGN: dict[bool, list[tuple[str, tuple[str, ...]]]] = {}


def benign_shape(tmp: Path, json_mode: bool) -> list[tuple[str, tuple[str, ...]]]:
    if json_mode not in BENIGN:
        out, err, _, _ = run_paths("plain words", tmp, json_mode=json_mode)
        BENIGN[json_mode] = shape(every_line_command(out, err))
    return BENIGN[json_mode]


@pytest.mark.parametrize("json_mode", [False, True], ids=["text", "json"])
@SETTINGS
@given(text=hostile)
def test_no_reporter_path_lets_text_become_a_command(tmp_path: Path, json_mode: bool, text: str) -> None:
    out, err, _, _ = run_paths(text, tmp_path, json_mode=json_mode)
    found = every_line_command(out, err)
    assert shape(found) == benign_shape(tmp_path, json_mode), "\n".join(c.line for c in found)
    for command in found:
        if command.name == "add-mask":
            assert command.data == "s3cr3t-t0ken"
            continue
        # our own commands: their data, once the runner unescapes it, is still one inert line
        assert len(lines_of(command.data)) == 1 and parse_line(command.data) is None
        for value in command.properties.values():
            assert len(lines_of(value)) == 1
    if json_mode:
        # the last two lines are the two commands' JSON objects; what comes before is data the paths print (the
        # document's lines, which may themselves start with "{" when the text does)
        documents = [json.loads(line) for line in out.splitlines()[-2:]]
        assert [d["command"] for d in documents] == ["validate", "notify"]
        assert documents[0]["reasons"][0] == inert(text)  # the same text as in the log
        assert documents[0]["outputs"]["branch"] == text  # outputs are data: exact (secrets aside)


@SETTINGS
@given(text=hostile)
def test_inert_is_one_harmless_line_however_it_is_joined(text: str) -> None:
    shown = inert(text)
    assert lines_of(shown) == [shown]
    assert "##[" not in shown
    assert all(c.isprintable() or unicodedata.category(c) == "Zs" for c in shown)
    for joined in (shown, "  " + shown, "\t" + shown, shown + shown, inert(":") + shown, "\u00a0" + shown):
        assert parse_line(joined) is None, joined
    # the runner's percent decoding (of command data) cannot make a line break out of it once report.py has
    # escaped '%'; and decoding the bare text gives a line break only where the text spelt one as %0A itself
    assert len(lines_of(unescape_data(shown.replace("%", "%25")))) == 1


@pytest.mark.parametrize(
    "text",
    ["fix(auth): reject empty passwords", "src/app/migrations/0042_add.sql", "1.4.3", "Ünïcödé – “quotes” ✓", "a::b"],
)
def test_inert_leaves_ordinary_text_alone(text: str) -> None:
    assert inert(text) == text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("evil\n::stop-commands::tok", "evil\\n::stop-commands::tok"),
        ("::add-mask::true", "\\::add-mask::true"),
        ("  ::error::x", "  \\::error::x"),
        ("fix: ##[set-output name=valid]true", "fix: ##\\[set-output name=valid]true"),
        ("\u00ad::warning::x", "\\xad::warning::x"),
        ("bell\x07 and \u202eevil", "bell\\x07 and \\u202eevil"),
    ],
)
def test_inert_shows_what_it_neutralised(text: str, shown: str) -> None:
    assert inert(text) == shown


@SETTINGS
@given(value=st.dictionaries(st.text(max_size=5), hostile, max_size=3))
def test_json_line_is_exact_json_and_no_command(value: dict[str, str]) -> None:
    line = json_line(value)
    assert json.loads(line) == value and lines_of(line) == [line] and parse_line(line) is None


# -- the validate rules: file names, commit subjects, trailers, declared versions, folders ---------------------------
def validate_rows(text: str) -> list[Row]:
    changes = [FileChange(f"{text}/migrations/{text}.sql", 3, 1), FileChange(f"{text}", 1, 0), FileChange("a/b", 1, 1)]
    risky, _ = rules.check_risky(changes, ["**/migrations/**", "**/*.sql", f"{text}"])
    commits = [Commit("0" * 40, text, (("Severity", text), ("Fixes", text)))]
    bad_subject, _ = rules.check_commits(
        commits,
        types=["fix"],
        release_subject=None,
        severity_trailer="Severity",
        ticket_trailers=["Fixes"],
        require_severity=True,
        require_ticket=True,
    )
    good = [Commit("1" * 40, "fix: x", (("Severity", text), ("Fixes", text)))]
    trailers, _ = rules.check_commits(
        good,
        types=["fix"],
        release_subject=None,
        severity_trailer="Severity",
        ticket_trailers=["Fixes"],
        require_severity=True,
        require_ticket=True,
    )
    checks = [
        risky,
        bad_subject,
        trailers,
        rules.check_concern(changes, 0),
        rules.check_branch(text, r"^hotfix/.*$").check,
    ]
    return [Row(c.name, c.status, c.reason) for c in checks]


@SETTINGS
@given(text=hostile)
def test_validate_reasons_from_the_branch_are_inert(tmp_path: Path, text: str) -> None:
    rows = validate_rows(text)
    for row in rows:
        assert lines_of(row.reason) == [row.reason] and "##[" not in row.reason, row
    out, err = io.StringIO(), io.StringIO()
    r = Reporter(github_actions=True, out=out, err=err)
    r.finish(Outcome("validate", Verdict.FAIL, reasons=[row.text for row in rows], rows=rows))
    assert shape(every_line_command(out.getvalue(), err.getvalue())) == [("error", ())]


# -- notifications: the payloads, and the receiver's error body in our warning ---------------------------------------
@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


FORMATTERS: list[Callable[[Event], dict[str, object]]] = [
    messages.slack,
    messages.discord,
    messages.teams,
    messages.generic,
]


def strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


@SETTINGS
@given(text=hostile)
def test_notification_texts_are_inert(text: str) -> None:
    event = Event("failed", text, version=text, verdict=text, reasons=(text, text), actor=text, fields=((text, text),))
    for formatter in FORMATTERS:
        for value in strings_in(formatter(event)):
            assert every_line_command(value) == [], (formatter.__name__, value)


def test_the_receivers_error_body_reaches_the_log_inert_and_without_the_url() -> None:
    bodies = [
        "\n::stop-commands::tok\n",
        "::add-mask::true",
        "bad request ##[set-output name=delivered]true",
        "echo: POST /services/T000/B000/XXXXSECRETXXXX\n::warning::forged",
    ]
    with running_receiver() as receiver:
        for body in bodies:
            receiver.script = [Answer(400, body)]
            out, err = io.StringIO(), io.StringIO()
            r = Reporter(github_actions=True, out=out, err=err)
            notifier = build(WebhookUrls(webhook=receiver.url()), NotifyConfig(), mask=r.mask)
            outcome = notify_service.run(Event("failed", f"title {body}"), NotifyConfig(), notifier, r)
            r.finish(outcome)
            printed = out.getvalue() + err.getvalue()
            names = [c.name for c in every_line_command(printed)]
            masks = names.count("add-mask")
            assert masks >= 3 and names == ["add-mask"] * masks + ["warning"], printed
            shown = "\n".join(line for line in printed.splitlines() if not line.startswith("::add-mask::"))
            assert "XXXXSECRETXXXX" not in shown and "T000/B000" not in shown
            assert "HTTP 400" in shown


# -- the review's findings, end to end: `hotfix validate` on a real repository in a pretend Actions step -------------
def test_hostile_branch_content_cannot_silence_the_risky_paths_warning(tmp_path: Path, gha: dict[str, Path]) -> None:
    """A changed file whose name carries a newline and ::stop-commands::, a commit subject with a legacy ##[ command,
    a folded trailer, a package.json version with a newline and top-level folders named like commands: the output
    holds exactly our commands, and the risky-paths warning is among them."""
    from click.testing import CliRunner

    from hotfix_actions.cli import cli
    from tests.gitrepos import hotfix_branch, make_project

    _, work = make_project(tmp_path)
    files = {
        "db/migrations/0001\n::stop-commands::tok\n.sql": "select 1;\n",
        "::add-mask::true/x.py": "x = 1\n",
        "##[set-output name=valid]true/y.py": "y = 1\n",
        "  ::warning::forged/z.py": "z = 1\n",
    }
    branch = hotfix_branch(
        work,
        files=files,
        subject="fix: ##[set-output name=needs-approval]false",
        trailers="Severity: critical\nFixes: INC-1\n ::error::folded into the trailer",
        bump=False,
    )
    work.commit({"package.json": '{"name": "shop", "version": "1.0.1\\n::add-mask::true"}\n'}, "fix: version")
    result = CliRunner().invoke(cli, ["validate", "--repo", str(work.path), "--branch", branch])
    found = every_line_command(result.output)
    assert [c.name for c in found] == ["warning", "error"], result.output
    warning = found[0]
    assert warning.properties == {"title": "risky paths"}
    assert "db/migrations/0001\\n::stop-commands::tok\\n.sql" in warning.data  # readable, on one line
    outputs = (gha["output"]).read_text()
    assert "needs-approval<<" in outputs and "\ntrue\n" in outputs.split("needs-approval<<", 1)[1][:80]


@pytest.mark.parametrize(
    "argv",
    [
        ["notify", "--event", "x\n::stop-commands::tok"],
        ["notify", "--event", "##[set-output name=valid]true"],
        ["notify", "--bogus\n::warning::forged"],
        ["rollback", "--timeout", "1\r::add-mask::true"],
    ],
)
def test_click_refusals_quote_the_value_inertly(argv: list[str]) -> None:
    """click's usage errors quote the refused value; `hotfix` prints them through the same gate (exit 2)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "hotfix_actions", *argv], capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Error:" in proc.stderr
    assert every_line_command(proc.stdout, proc.stderr) == [], proc.stderr


def test_config_show_prints_the_document_inertly_in_actions(tmp_path: Path, gha: dict[str, Path]) -> None:
    from click.testing import CliRunner

    from hotfix_actions.cli import cli

    (tmp_path / ".hotfix.yml").write_text('repository:\n  production_branch: "main"\nvalidate:\n'
                                          '  risky_paths: ["##[set-output name=valid]true", "a"]\n')  # fmt: skip
    result = CliRunner().invoke(cli, ["config", "show", "--repo", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "risky_paths:" in result.output and every_line_command(result.output) == []
