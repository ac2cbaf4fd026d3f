from __future__ import annotations

import io
import json
from pathlib import Path

from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome, Reporter, Row
from tests.conftest import read_outputs
from tests.runner_commands import commands_in


def reporter(
    tmp_path: Path, *, actions: bool = True, json_mode: bool = False
) -> tuple[Reporter, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    (tmp_path / "out").touch()
    (tmp_path / "sum").touch()
    r = Reporter(
        github_actions=actions,
        output_path=str(tmp_path / "out"),
        summary_path=str(tmp_path / "sum"),
        json_mode=json_mode,
        out=out,
        err=err,
    )
    return r, out, err


def test_outputs_are_multiline_safe_with_a_random_delimiter(tmp_path: Path) -> None:
    r, _, _ = reporter(tmp_path)
    hostile = "line1\nghadelimiter_x\nEOF\nname<<EOF"
    r.set_output("reasons", hostile)
    r.set_output("plain", "x")
    text = (tmp_path / "out").read_text()
    assert read_outputs(tmp_path / "out") == {"reasons": hostile, "plain": "x"}
    first, second = text.split("\n")[0], text.split("\n")[6]
    assert first.startswith("reasons<<ghadelimiter_") and second.startswith("plain<<ghadelimiter_")
    assert first.split("<<")[1] != second.split("<<")[1]


def test_masks_are_emitted_first_and_applied_everywhere(tmp_path: Path) -> None:
    r, out, _ = reporter(tmp_path)
    r.mask("s3cret-token\nsecond-line")
    r.step("using s3cret-token now")
    r.set_output("x", "value s3cret-token")
    r.finish(Outcome(command="t", verdict=Verdict.FAIL, reasons=["bad second-line"]))
    printed = out.getvalue()
    assert printed.index("::add-mask::s3cret-token") < printed.index("using *** now")
    assert "::add-mask::second-line" in printed
    assert "s3cret-token" not in printed.replace("::add-mask::s3cret-token", "")
    assert "s3cret-token" not in (tmp_path / "out").read_text()
    assert "second-line" not in (tmp_path / "sum").read_text()


def test_annotations_groups_and_untrusted_lines(tmp_path: Path) -> None:
    r, out, _ = reporter(tmp_path)
    r.annotate("error", "bad: 100%\nnext", file="a,b.py", line=3, title="x:y")
    with r.group("Group"):
        r.untrusted("::set-output name=x::evil\n  ##[add-mask]true")
    text = out.getvalue()
    # the message stays one line: the newline is shown as \n (readable), '%' is escaped for the runner
    assert "::error file=a%2Cb.py,line=3,title=x%3Ay::bad: 100%25\\nnext" in text
    assert "::group::Group" in text and "::endgroup::" in text
    lines = text.splitlines()
    assert "  \\::set-output name=x::evil" in lines and "    ##\\[add-mask]true" in lines
    assert [c.name for c in commands_in(text)] == ["error", "group", "endgroup"]


def test_plain_text_outside_actions(tmp_path: Path) -> None:
    r, out, err = reporter(tmp_path, actions=False)
    r.mask("tok-123")
    r.annotate("warning", "careful")
    code = r.finish(Outcome(command="validate", verdict=Verdict.PASS, rows=[Row("size", Status.WARN, "close")]))
    assert int(code) == 0
    assert "::" not in out.getvalue() + err.getvalue()
    assert "warning: careful" in err.getvalue()
    assert "size   WARN    close" in out.getvalue()


def test_json_mode_prints_one_object_and_keeps_progress_on_stderr(tmp_path: Path) -> None:
    r, out, err = reporter(tmp_path, actions=False, json_mode=True)
    r.step("working")
    code = r.finish(Outcome(command="c", verdict=Verdict.ERROR, reasons=["prometheus down"], outputs={"a": "1"}))
    assert int(code) == 3
    doc = json.loads(out.getvalue())
    assert doc["verdict"] == "ERROR" and doc["reasons"] == ["prometheus down"] and doc["outputs"] == {"a": "1"}
    assert "working" in err.getvalue()


def test_summary_escapes_untrusted_text(tmp_path: Path) -> None:
    r, _, _ = reporter(tmp_path)
    r.finish(Outcome(command="v", verdict=Verdict.FAIL, rows=[Row("name", Status.FAIL, "<script>|x\ny")]))
    summary = (tmp_path / "sum").read_text()
    assert "&lt;script&gt;\\|x\\ny" in summary and "<script>" not in summary


def test_fail_reports_the_error_and_fix(tmp_path: Path) -> None:
    r, out, _ = reporter(tmp_path)
    code = r.fail("rollback", UsageError("not DNS-1123", input_name="--deployment", fix="use lower case"))
    assert int(code) == 2
    assert "::error::--deployment: not DNS-1123 (fix: use lower case)" in out.getvalue()
    assert read_outputs(tmp_path / "out")["verdict"] == "ERROR"


def test_library_warnings_go_through_the_gate(tmp_path: Path) -> None:
    """A library's log warning (urllib3 quoting a URL, PyGithub a server answer) is scrubbed and inert as well."""
    import logging

    r, out, err = reporter(tmp_path)
    r.mask("hooks-T0ken-0123456789abcdef")
    saved = logging.lastResort
    library = logging.getLogger("urllib3.test")
    library.propagate = False  # no handler anywhere (pytest adds one to the root): as in the command line
    try:
        r.capture_logging()
        library.warning("retrying /services/%s\n::stop-commands::x ##[add-mask]true", "hooks-T0ken-0123456789abcdef")
    finally:
        logging.lastResort = saved
    assert "warning: urllib3.test: retrying /services/***\\n::stop-commands::x ##\\[add-mask]true" in err.getvalue()
    assert [c.name for c in commands_in(out.getvalue(), err.getvalue())] == ["add-mask"]
