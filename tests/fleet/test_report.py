"""services.fleet_report: results as data and back, merging several jobs' results, the table and the message."""

from __future__ import annotations

import pytest

from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.services import fleet_report as fr


def result(target: str, wave: int, **steps: tuple[Verdict, str, float]) -> fr.TargetResult:
    r = fr.TargetResult(target, f"w{wave + 1}", wave)
    for name, (verdict, reason, started) in steps.items():
        setattr(r, name, fr.StepResult(verdict, reason, started, 1.5))
    return r


P, F, E = Verdict.PASS, Verdict.FAIL, Verdict.ERROR


def test_results_survive_the_trip_through_json() -> None:
    before = [result("a", 0, gate=(P, "ok", 10.0), promote=(P, "ok", 12.0), rollback=(P, "rolled back on x", 30.0))]
    before[0].note = "n"
    after = fr.from_data(fr.to_data(before))
    assert fr.to_data(after) == fr.to_data(before)
    assert after[0].rollback is not None and after[0].rollback.reason == "rolled back on x"


@pytest.mark.parametrize(
    "bad", [{}, [{"target": "a"}], [{"target": "a", "steps": {"deploy": {}}}], [{"target": "a", "steps": {"gate": 1}}]]
)
def test_what_is_not_a_result_is_refused(bad: object) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        fr.from_data(bad)


@pytest.mark.parametrize(
    ("first", "second", "kept"),
    [
        # the target went back in its own job; the rollback job later found it there: it was rolled back
        ((P, "rolled back on x", 10.0), (P, "unchanged, already on x", 20.0), "rolled back on x; found there again"),
        # a later rollback that changed it wins
        ((P, "unchanged, already on x", 10.0), (P, "rolled back on x", 20.0), "rolled back on x"),
        # a later failure is never hidden by an earlier success
        ((P, "rolled back on x", 10.0), (E, "could not be read", 20.0), "could not be read"),
    ],
)
def test_merge_of_two_jobs_rollbacks(
    first: tuple[Verdict, str, float], second: tuple[Verdict, str, float], kept: str
) -> None:
    merged = fr.merge([result("b", 1, rollback=first), result("b", 1, rollback=second)])
    step = merged["b"].rollback
    assert step is not None and step.reason.startswith(kept)


def test_rows_say_what_was_checked_and_the_message_names_every_target() -> None:
    results = [
        result("a", 0, promote=(P, "ok", 1.0), rollback=(P, "rolled back on web:1.0 (rollout verified)", 9.0)),
        result("b", 1, promote=(P, "ok", 3.0), bake=(F, "guardrail error rate", 5.0)),
        fr.TargetResult("c", "w3", 2, note="not reached; runs web=web:1.0 (read at the end)"),
    ]
    rows = fr.rows(results)
    assert [r.status for r in rows] == [Status.PASS, Status.FAIL, Status.SKIP]
    assert "bake: guardrail error rate" in rows[1].reason and "not reached" in rows[2].reason
    event = fr.event("failed", "t", results, version="1", verdict=F, run_url="", actor="")
    assert [line.split(" ")[0] for line in event.reasons] == ["a", "b", "c"]
    assert "rollback PASS: rolled back" in event.reasons[0] and "(not reached" in event.reasons[2]
    md = fr.markdown(results, "Fleet run x")
    assert "| a | w1 | - | PASS 1.5s | - | PASS |" in md and "crit, b-bake" in md and "section c" not in md
