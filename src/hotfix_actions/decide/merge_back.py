"""Merge-back as pure decisions: which branches receive the hotfix and in what order, whether the tag is sound,
what the pull request for a blocked merge says, the release notes, and the verdict once every target was tried.

Facts come in (branch heads, "already contains", the tag's commit); frozen decisions with reasons go out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from hotfix_actions.decide.globs import matches
from hotfix_actions.decide.verdict import Status, Verdict, worst_status
from hotfix_actions.decide.version import SemVer
from hotfix_actions.ports import Commit

__all__ = [
    "RESULT_STATUS",
    "Action",
    "Conclusion",
    "Kind",
    "Plan",
    "Planned",
    "Result",
    "Target",
    "TargetResult",
    "conclude",
    "merge_message",
    "order_targets",
    "plan",
    "pr_body",
    "pr_branch",
    "release_notes",
]

_RELEASE_VERSION = re.compile(
    r"(?:^|/)v?(?P<major>0|[1-9][0-9]*)\.(?P<minor>0|[1-9][0-9]*)(?:\.(?P<patch>0|[1-9][0-9]*))?$"
)


class Kind(StrEnum):
    PRODUCTION = "production"
    DEVELOP = "develop"
    RELEASE = "release"
    OTHER = "branch"


class Action(StrEnum):
    MERGE = "merge"
    CONTAINS = "contains"  # already has the hotfix: nothing to do
    MISSING = "missing"  # no such branch on the remote
    EXCLUDED = "excluded"  # left out by a rule (older release, develop while a release is open)


class Result(StrEnum):
    MERGED = "merged"
    CONTAINED = "contained"
    PULL_REQUEST = "pull-request"  # blocked, handed over as a pull request
    BLOCKED = "blocked"  # blocked and no GitHub to open a pull request: the steps are in the reason
    FAILED = "failed"  # GitHub or git failed while handing over: run again
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Target:
    branch: str
    kind: Kind
    excluded: str | None = None  # the rule that leaves it out


@dataclass(frozen=True)
class Planned:
    branch: str
    kind: Kind
    action: Action
    reason: str
    sha: str | None = None


@dataclass(frozen=True)
class Plan:
    version: SemVer
    tag: str
    hotfix_branch: str
    hotfix_sha: str
    targets: tuple[Planned, ...]
    tag_exists: bool
    problems: tuple[str, ...] = ()  # any problem blocks the whole run before a side effect


@dataclass(frozen=True)
class TargetResult:
    branch: str
    result: Result
    reason: str
    url: str = ""


def _release_version(branch: str) -> SemVer | None:
    m = _RELEASE_VERSION.search(branch)
    if m is None:
        return None
    return SemVer(int(m["major"]), int(m["minor"]), int(m["patch"] or 0))


def order_targets(
    *,
    production: str,
    develop: str,
    release_glob: str,
    configured: Sequence[str],
    remote_branches: Sequence[str],
    version: SemVer,
    skip_older_releases: bool,
    skip_develop_when_release_open: bool,
) -> list[Target]:
    """Production first, then the configured targets in their order; release branches oldest version first."""
    releases: list[Target] = []
    for branch in remote_branches:
        if branch in (production, develop) or not matches(branch, release_glob):
            continue
        found = _release_version(branch)
        excluded = None
        if skip_older_releases and found is not None and found <= version:
            excluded = f"release {found} is not newer than the hotfix {version}: it was released already"
        releases.append(Target(branch, Kind.RELEASE, excluded))
    releases.sort(key=lambda t: (_release_version(t.branch) or SemVer(10**9, 0, 0), t.branch))
    open_release = any(t.excluded is None for t in releases)
    result = [Target(production, Kind.PRODUCTION)]
    seen = {production}
    for item in configured:
        if item == "releases":
            batch = releases
        elif item == "develop":
            excluded = None
            if skip_develop_when_release_open and open_release:
                excluded = "a release branch is open and carries the hotfix to develop (skip_develop_when_release_open)"
            batch = [Target(develop, Kind.DEVELOP, excluded)]
        else:
            batch = [Target(item, Kind.OTHER)]
        for target in batch:
            if target.branch not in seen:
                seen.add(target.branch)
                result.append(target)
    return result


def plan(
    *,
    version: SemVer,
    tag: str,
    hotfix_branch: str,
    hotfix_sha: str,
    targets: Sequence[Target],
    heads: dict[str, str],
    contains: dict[str, bool],
    tag_sha: str | None,
    expected_tag_sha: str | None,
) -> Plan:
    """Per target: merge, or why not. The tag is checked before anything is written.

    ``expected_tag_sha`` is the production commit that first contains the hotfix (None while production lacks it).
    """
    planned = []
    for t in targets:
        sha = heads.get(t.branch)
        if sha is None:
            planned.append(Planned(t.branch, t.kind, Action.MISSING, f"no branch {t.branch} on the remote"))
        elif contains.get(t.branch):
            planned.append(Planned(t.branch, t.kind, Action.CONTAINS, f"{t.branch} ({sha[:10]}) contains it", sha))
        elif t.excluded:
            planned.append(Planned(t.branch, t.kind, Action.EXCLUDED, t.excluded, sha))
        else:
            reason = f"merge {hotfix_branch} ({hotfix_sha[:10]}) into {t.branch} ({sha[:10]}) with --no-ff"
            planned.append(Planned(t.branch, t.kind, Action.MERGE, reason, sha))
    problems = []
    production = planned[0]
    if production.action is Action.MISSING:
        problems.append(f"the production branch {production.branch} does not exist on the remote")
    if tag_sha is not None:
        if expected_tag_sha is None:
            problems.append(
                f"tag {tag} already exists on {tag_sha[:10]}, but {production.branch} does not contain the hotfix "
                f"{hotfix_sha[:10]} yet: the tag belongs to another commit; delete it or bump the version"
            )
        elif tag_sha != expected_tag_sha:
            problems.append(
                f"tag {tag} points at {tag_sha[:10]}, not at {expected_tag_sha[:10]}, the commit that merged the "
                f"hotfix into {production.branch}; a release tag is never moved: check which commit is {tag}"
            )
    return Plan(version, tag, hotfix_branch, hotfix_sha, tuple(planned), tag_sha is not None, tuple(problems))


def pr_branch(prefix: str, version: SemVer, target: str) -> str:
    return f"{prefix}{version}-into-{target}"


def merge_message(tag: str, hotfix_branch: str, target: str) -> str:
    return f"Merge hotfix {tag} into {target}\n\nBack-merge of {hotfix_branch} by hotfix merge-back.\n"


def pr_body(
    *,
    tag: str,
    hotfix_branch: str,
    target: str,
    head: str,
    remote: str,
    conflicts: Sequence[str],
    refused: str | None,
) -> str:
    """The pull request (or the manual steps) for a merge that could not be pushed: why, which files, what to do."""
    marker = f"<!-- hotfix-merge-back: {tag} into {target} -->"
    if conflicts:
        why = f"Merging `{hotfix_branch}` into `{target}` conflicts in {len(conflicts)} file(s):\n\n"
        why += "\n".join(f"- `{path}`" for path in conflicts[:100])
        if len(conflicts) > 100:
            why += f"\n- … and {len(conflicts) - 100} more"
        steps = [
            f"`git fetch {remote}`",
            f"`git switch --create {head} {remote}/{head}` (or `git switch {head}` and pull)",
            f"`git merge --no-ff {remote}/{target}`, resolve the files above, `git add` them, `git commit`",
            f"`git push {remote} {head}`",
        ]
    else:
        why = f"`{target}` refused a direct push ({refused or 'rejected'}); `{head}` holds the ready merge commit."
        steps = []
    steps += [
        f"Merge this pull request **with a merge commit** (not squash or rebase), so `{target}` keeps the hotfix's "
        "commits and merge-back sees it as done.",
        f"Run `hotfix merge-back --branch {hotfix_branch}` again (or re-run the job): it skips what is done and "
        f"deletes `{hotfix_branch}` once every branch has it.",
    ]
    listed = "\n".join(f"{i}. {step}" for i, step in enumerate(steps, 1))
    return f"{marker}\nBack-merge of hotfix **{tag}** into `{target}`.\n\n{why}\n\n### To finish\n\n{listed}\n"


def release_notes(
    tag: str, hotfix_branch: str, production: str, commits: Sequence[Commit], previous: str | None
) -> str:
    lines = [f"Hotfix **{tag}** from `{hotfix_branch}`, merged into `{production}`."]
    if previous:
        lines[0] += f" Changes since {previous}:"
    lines.append("")
    own = [c for c in commits if c.parents <= 1]
    for c in own[:200]:
        trailers = ", ".join(f"{k}: {v}" for k, v in c.trailers)
        subject = c.subject.replace("@", "@\u200b")  # no mentions from commit subjects
        lines.append(f"- {subject} ({c.sha[:10]})" + (f" - {trailers}" if trailers else ""))
    if not own:
        lines.append("- (no commits of its own)")
    return "\n".join(lines) + "\n"


RESULT_STATUS = {
    Result.MERGED: Status.PASS,
    Result.CONTAINED: Status.PASS,
    Result.SKIPPED: Status.SKIP,
    Result.PULL_REQUEST: Status.WARN,
    Result.BLOCKED: Status.FAIL,
    Result.FAILED: Status.ERROR,
}


@dataclass(frozen=True)
class Conclusion:
    verdict: Verdict
    complete: bool  # every target that should have it has it
    delete_branch: bool
    reason: str


def conclude(plan_: Plan, results: Sequence[TargetResult], *, keep_branch: bool) -> Conclusion:
    """Done when every target that is not left out contains the hotfix; only then may the branch go."""
    wanted = {p.branch for p in plan_.targets if p.action in (Action.MERGE, Action.CONTAINS)}
    done = {r.branch for r in results if r.result in (Result.MERGED, Result.CONTAINED)}
    pending = sorted(wanted - done)
    verdict = worst_status(RESULT_STATUS[r.result] for r in results)
    if pending:
        return Conclusion(verdict, False, False, f"not yet in {', '.join(pending)}: {plan_.hotfix_branch} is kept")
    if keep_branch:
        return Conclusion(
            verdict, True, False, f"every branch has {plan_.tag}; {plan_.hotfix_branch} kept (--keep-branch)"
        )
    return Conclusion(verdict, True, True, f"every branch has {plan_.tag}: {plan_.hotfix_branch} can be deleted")
