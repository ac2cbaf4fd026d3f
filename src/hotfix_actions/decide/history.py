"""What ``hotfix status`` says about each revision, as a pure function: the numbering of ``kubectl rollout history``
(the ReplicaSets' revision annotations, never the numbers our records were written with), which one is live, which
one is the last-known-good, which ones are bad and why, and each one's change cause as far as it is known."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hotfix_actions.decide.lkg import LkgRecord, Revision, revisions, templates_equal
from hotfix_actions.decide.tracking import change_cause_of, template_digest

__all__ = ["RevisionView", "lkg_revision", "revision_views"]


@dataclass(frozen=True)
class RevisionView:
    number: int
    images: tuple[tuple[str, str], ...]  # (container, image)
    template_hash: str
    ready: int
    replicas: int
    change_cause: str  # "unknown (...)" when another tool made the revision or none was recorded
    live: bool
    lkg: bool
    bad: str  # why this revision is bad ("" when nothing says so)
    earlier: tuple[int, ...]  # the numbers this template had before (revision-history)

    def images_text(self) -> str:
        return ", ".join(f"{name}={image}" for name, image in self.images)

    def marks(self) -> list[str]:
        return [m for m, on in (("live", self.live), ("LKG", self.lkg), ("BAD", bool(self.bad))) if on]


def _is_lkg(rev: Revision, record: LkgRecord) -> bool:
    if record.template_hash and rev.template_hash:
        return rev.template_hash == record.template_hash
    stored = record.pod_template()
    if stored is not None:
        return templates_equal(rev.template, stored)
    return rev.images == record.images


def lkg_revision(revs: Sequence[Revision], record: LkgRecord | None) -> tuple[int | None, str]:
    """The LKG's revision in kubectl's numbering now, and the words for it."""
    if record is None:
        return None, "none recorded"
    for rev in revs:
        if _is_lkg(rev, record):
            moved = (
                f" (recorded as revision {record.revision})"
                if record.revision and record.revision != rev.number
                else ""
            )
            return rev.number, f"revision {rev.number}{moved}: {record.images_text()}"
    return None, (
        f"not in the history any more (revision {record.revision or '?'} when recorded; its ReplicaSet was pruned): "
        f"{record.images_text()}"
    )


def _bad_reasons(revs: Sequence[Revision], records: Sequence[LkgRecord]) -> dict[int, str]:
    """Revisions a rollback moved away from, with the rollback's reason. The newest word wins: a release promoted
    (and verified) again after it was rolled back is not bad any more."""
    bad: dict[int, str] = {}
    cleared: set[int] = set()
    digests = {template_digest(rev.template): rev.number for rev in revs}
    for record in records:  # newest first
        if record.source == "promote":
            cleared.update(rev.number for rev in revs if _is_lkg(rev, record))
            continue
        number = digests.get(record.replaced_digest) if record.replaced_digest else None
        if number is not None and number not in bad and number not in cleared:
            why = f": {record.why}" if record.why else ""
            bad[number] = f"rolled back at {record.time or '?'} by run {record.run_id or '?'}{why}"
    return bad


def revision_views(
    deployment: Mapping[str, Any],
    replicasets: Sequence[Mapping[str, Any]],
    record: LkgRecord | None,
    records: Sequence[LkgRecord],
    live_problem: str = "",
) -> list[RevisionView]:
    """One view per owned ReplicaSet with a revision, oldest first. ``records``: the LKG history, newest first;
    ``live_problem``: what is wrong with the live revision now (a failed rollout, crashing pods), if anything."""
    annotations = (deployment.get("metadata") or {}).get("annotations") or {}
    live = str(annotations.get("deployment.kubernetes.io/revision", ""))
    revs = revisions(replicasets)
    by_number = {str(((rs.get("metadata") or {}).get("annotations") or {}).get("deployment.kubernetes.io/revision")): rs
                 for rs in replicasets}  # fmt: skip
    bad = _bad_reasons(revs, records)
    views = []
    for rev in revs:
        is_live = str(rev.number) == live
        why = live_problem if is_live and live_problem else bad.get(rev.number, "")
        views.append(
            RevisionView(
                number=rev.number,
                images=rev.images,
                template_hash=rev.template_hash,
                ready=rev.ready,
                replicas=rev.replicas,
                change_cause=change_cause_of(by_number.get(str(rev.number), {})),
                live=is_live,
                lkg=record is not None and _is_lkg(rev, record),
                bad=why,
                earlier=rev.history,
            )
        )
    return views
