"""decide.history: the revisions as `hotfix status` shows them, from values (no cluster)."""

from __future__ import annotations

from typing import Any

from hotfix_actions.decide.history import lkg_revision, revision_views
from hotfix_actions.decide.lkg import LkgRecord, revisions
from hotfix_actions.decide.tracking import template_digest, with_change_cause


def template(image: str) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": image}]}}


def rs(number: int, image: str, hash_: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"web-{hash_}",
            "labels": {"pod-template-hash": hash_},
            "annotations": {"deployment.kubernetes.io/revision": str(number), **(annotations or {})},
        },
        "spec": {"template": template(image)},
        "status": {"replicas": 1, "readyReplicas": 1},
    }


def record(image: str, hash_: str, revision: int, source: str = "promote", **extra: Any) -> LkgRecord:
    return LkgRecord.build(template(image), template_hash=hash_, revision=revision, time="t", source=source, **extra)


SETS = [
    rs(1, "web:1", "h1"),
    rs(3, "web:3", "h3", with_change_cause({}, "hotfix promote web:2", template("web:2"))),  # inherited
    rs(4, "web:2", "h2", with_change_cause({}, "hotfix rollback", template("web:2"))),
]
DEPLOYMENT = {"metadata": {"annotations": {"deployment.kubernetes.io/revision": "4"}}}


def test_the_lkg_is_found_by_template_and_told_in_todays_numbering() -> None:
    lkg = record("web:2", "h2", 2, source="rollback")
    assert lkg_revision(revisions(SETS), lkg) == (4, "revision 4 (recorded as revision 2): web=web:2")
    assert lkg_revision(revisions(SETS), None) == (None, "none recorded")
    gone = record("web:0", "h0", 1)
    number, words = lkg_revision(revisions(SETS), gone)
    assert number is None and "not in the history any more (revision 1 when recorded" in words


def test_bad_revisions_and_inherited_causes() -> None:
    bad = record("web:2", "h2", 2, source="rollback", replaced=("web=web:3"), why="INC-1",
                 replaced_digest=template_digest(template("web:3")))  # fmt: skip
    views = {v.number: v for v in revision_views(DEPLOYMENT, SETS, bad, [bad, record("web:2", "h2", 2)])}
    assert views[4].live and views[4].lkg and not views[4].bad and views[4].marks() == ["live", "LKG"]
    assert views[3].bad == "rolled back at t by run ?: INC-1" and views[3].marks() == ["BAD"]
    assert views[3].change_cause.startswith("unknown (made by another tool")
    assert views[1].change_cause == "unknown (no change cause recorded)"
    crashing = {v.number: v for v in revision_views(DEPLOYMENT, SETS, bad, [bad], "its pods crash: X")}
    assert crashing[4].bad == "its pods crash: X"


def test_a_release_promoted_again_after_its_rollback_is_not_bad_any_more() -> None:
    bad = record("web:2", "h2", 2, source="rollback", replaced_digest=template_digest(template("web:3")))
    again = record("web:3", "h3", 5)  # newest first: web:3 was fixed up and promoted (verified) later
    views = {v.number: v for v in revision_views(DEPLOYMENT, SETS, again, [again, bad])}
    assert views[3].bad == "" and views[3].lkg
