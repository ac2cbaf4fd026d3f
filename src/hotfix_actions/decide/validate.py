"""The rules of validate-hotfix as pure functions: facts in, one check row out (with the numbers)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hotfix_actions.decide.globs import matches
from hotfix_actions.decide.names import branch_name_problem, hotfix_branch_problem
from hotfix_actions.decide.verdict import Status
from hotfix_actions.decide.version import SemVer, version_problem
from hotfix_actions.guard import inert
from hotfix_actions.ports import Commit, FileChange

__all__ = [
    "SEVERITIES",
    "BranchFacts",
    "Check",
    "check_base",
    "check_branch",
    "check_commits",
    "check_concern",
    "check_risky",
    "check_size",
    "check_version",
]

SEVERITIES = ("critical", "high", "medium", "low")
# the layout `hotfix start` creates (config.validate.DEFAULT_BRANCH_PATTERN, kept equal by a test)
DEFAULT_PATTERN = (
    r"^hotfix/v(?P<version>(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*))-(?P<slug>[a-z0-9][a-z0-9-]{0,47})$"
)
_CONVENTIONAL = re.compile(r"^(?P<type>[a-z]+)(?:\((?P<scope>[A-Za-z0-9._/-]+)\))?(?P<bang>!)?: (?P<desc>\S.*)$")


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    reason: str


@dataclass(frozen=True)
class BranchFacts:
    check: Check
    version: SemVer | None = None
    slug: str | None = None


def _shown(text: str, limit: int = 80) -> str:
    """Text from the branch (file names, subjects, trailers, versions) for a reason: inert, cut to ``limit``."""
    return inert(text[:limit]) + ("…" if len(text) > limit else "")


def check_branch(name: str, pattern: str) -> BranchFacts:
    problem = branch_name_problem(name)
    shown = name if name.isascii() and len(name) <= 80 and name.isprintable() else repr(name[:80])
    shown = inert(shown)
    if problem:
        return BranchFacts(Check("branch name", Status.FAIL, f"branch {shown} {problem}; name it hotfix/vX.Y.Z-<slug>"))
    m = re.match(pattern, name)
    if not m:
        # in words, never the pattern itself; a custom pattern is named by its key
        why = hotfix_branch_problem(name) if pattern == DEFAULT_PATTERN else "does not match validate.branch_pattern"
        reason = f"branch {shown} {why}; name it hotfix/vX.Y.Z-<slug>, e.g. hotfix/v1.4.3-fix-login"
        return BranchFacts(Check("branch name", Status.FAIL, reason))
    groups = m.groupdict()
    found = groups.get("version") or ""
    version = SemVer.parse(found)
    if version is None:
        why = version_problem(found) or "is not X.Y.Z"
        return BranchFacts(Check("branch name", Status.FAIL, f"branch {shown}: the version {found!r} {why}"))
    return BranchFacts(
        Check("branch name", Status.PASS, f"{name} (version {version})"), version=version, slug=groups.get("slug")
    )


def check_base(contains: bool | None, *, production: str, production_sha: str, behind: int | None) -> Check:
    short = production_sha[:10]
    if contains is None:
        return Check(
            "base",
            Status.ERROR,
            f"history is missing: cannot tell whether the branch contains {production} ({short}); "
            "fetch more history (actions/checkout fetch-depth: 0) or pass a GitHub token",
        )
    if contains:
        return Check("base", Status.PASS, f"contains the head of {production} ({short})")
    lag = f" ({behind} commit{'s' if behind != 1 else ''} behind)" if behind is not None else ""
    return Check(
        "base",
        Status.FAIL,
        f"does not contain the head of {production} ({short}){lag}; rebase onto {production} or recreate it "
        "with `hotfix start`",
    )


def check_version(
    branch_version: SemVer | None,
    highest: tuple[SemVer, str] | None,
    *,
    production: str,
    tag_prefix: str,
    tag_exists: bool,
    declared: Mapping[str, str],
) -> Check:
    if branch_version is None:
        return Check("version", Status.SKIP, "no version in the branch name")
    if highest is None:
        return Check(
            "version",
            Status.FAIL,
            f"no release tag {tag_prefix}X.Y.Z is reachable from {production}; tag the running release first "
            f"(git tag -a {tag_prefix}1.0.0 <sha> && git push origin {tag_prefix}1.0.0)",
        )
    base, base_tag = highest
    expected = base.next_patch()
    tag = f"{tag_prefix}{branch_version}"
    if branch_version != expected:
        if branch_version <= base:
            how = "goes backwards"
        elif (branch_version.major, branch_version.minor) != (base.major, base.minor):
            how = "bumps the major or minor version"
        else:
            how = f"skips {branch_version.patch - expected.patch} version(s)"
        return Check("version", Status.FAIL, f"{branch_version} {how}: a hotfix of {base_tag} must be {expected}")
    if tag_exists:
        return Check("version", Status.FAIL, f"tag {tag} already exists; this version was released already")
    mismatched = {f: v for f, v in declared.items() if v != str(expected)}
    if mismatched:
        listed = ", ".join(f"{_shown(f)} says {_shown(v, 40)}" for f, v in sorted(mismatched.items()))
        return Check("version", Status.FAIL, f"{listed}, expected {expected}; bump the declared version")
    files = f"; declared in {', '.join(_shown(f) for f in sorted(declared))}" if declared else ""
    return Check("version", Status.PASS, f"{expected} is the patch after {base_tag}{files}")


def check_size(changes: Sequence[FileChange], *, max_files: int, max_lines: int, warn_ratio: float) -> Check:
    files = len(changes)
    lines = sum(c.added + c.deleted for c in changes)
    text = f"{files} file(s) (max {max_files}), {lines} line(s) (max {max_lines})"
    if files == 0:
        return Check("size", Status.WARN, "no file changes against the production branch yet")
    if files > max_files or lines > max_lines:
        return Check("size", Status.FAIL, f"{text}: too large for a hotfix; keep the change minimal")
    if files >= warn_ratio * max_files or lines >= warn_ratio * max_lines:
        return Check("size", Status.WARN, f"{text}: close to the limit")
    return Check("size", Status.PASS, text)


def check_risky(changes: Sequence[FileChange], globs: Sequence[str]) -> tuple[Check, list[str]]:
    risky = [c.path for c in changes if any(matches(c.path, g) for g in globs)]
    if not risky:
        return Check("risky paths", Status.PASS, "no risky paths touched"), []
    shown = ", ".join(_shown(p) for p in risky[:5]) + (f" and {len(risky) - 5} more" if len(risky) > 5 else "")
    return Check("risky paths", Status.WARN, f"needs approval: {shown}"), risky


def _trailer(commit: Commit, keys: Sequence[str]) -> str | None:
    wanted = {k.lower() for k in keys}
    for key, value in commit.trailers:
        if key.lower() in wanted and value:
            return value
    return None


def check_commits(
    commits: Sequence[Commit],
    *,
    types: Sequence[str],
    release_subject: str | None,
    severity_trailer: str,
    ticket_trailers: Sequence[str],
    require_severity: bool,
    require_ticket: bool,
) -> tuple[Check, str | None]:
    """Conventional Commit subjects of an allowed type; the head commit carries severity and ticket trailers."""
    own = [c for c in commits if c.parents <= 1]
    if not own:
        return Check("commits", Status.FAIL, "no commits on the branch beyond the production branch"), None
    bad = []
    for c in own:
        if release_subject is not None and c.subject == release_subject:
            continue
        m = _CONVENTIONAL.match(c.subject)
        if not m or m.group("type") not in types:
            bad.append(c)
    if bad:
        first = bad[0]
        return (
            Check(
                "commits",
                Status.FAIL,
                f"{len(bad)} commit subject(s) are not '<type>: ...' with type {'/'.join(types)}, "
                f"e.g. {first.sha[:8]} '{_shown(first.subject, 60)}'; reword them (git rebase -i)",
            ),
            None,
        )
    head = own[0]
    severity_raw = _trailer(head, [severity_trailer])
    severity = severity_raw.lower() if severity_raw else None
    problems = []
    if severity_raw is not None and severity not in SEVERITIES:
        problems.append(f"{severity_trailer}: '{_shown(severity_raw, 20)}' is not one of {', '.join(SEVERITIES)}")
        severity = None
    elif require_severity and severity is None:
        problems.append(f"the head commit has no '{severity_trailer}: critical|high|medium|low' trailer")
    ticket = _trailer(head, ticket_trailers)
    if require_ticket and ticket is None:
        problems.append(f"the head commit has no '{ticket_trailers[0]}: <ticket>' trailer")
    if problems:
        return Check("commits", Status.FAIL, "; ".join(problems) + "; amend the head commit"), severity
    parts = [f"{len(own)} commit(s) follow Conventional Commits"]
    if severity:
        parts.append(f"severity {severity}")
    if ticket:
        parts.append(f"fixes {_shown(ticket, 40)}")
    return Check("commits", Status.PASS, ", ".join(parts)), severity


def check_concern(changes: Sequence[FileChange], max_dirs: int) -> Check:
    tops = sorted({c.path.split("/", 1)[0] if "/" in c.path else "(root)" for c in changes})
    if len(tops) > max_dirs:
        return Check(
            "one concern",
            Status.WARN,
            f"the change spans {len(tops)} top-level folders ({', '.join(_shown(t, 40) for t in tops[:6])}), "
            f"more than {max_dirs}; "
            "is this one fix?",
        )
    return Check("one concern", Status.PASS, f"{len(tops)} top-level folder(s)")
