"""`hotfix validate`: is this hotfix branch fit to go to production?"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hotfix_actions.config.repository import RepositoryConfig
from hotfix_actions.config.validate import ValidateConfig
from hotfix_actions.decide import validate as rules
from hotfix_actions.decide.verdict import Status, Verdict, worst_status
from hotfix_actions.decide.version import SemVer, declared_version, highest_release
from hotfix_actions.errors import GitError, GitHubError
from hotfix_actions.guard import inert
from hotfix_actions.ports import Git, GitHub, TagRef
from hotfix_actions.report import Outcome, Reporter, Row, problem_reasons

__all__ = ["History", "ValidateRequest", "run"]

REMOTE_TAGS = "refs/hotfix-actions/remote-tags"
CHECKS = ("branch name", "base", "version", "size", "risky paths", "commits", "one concern")


@dataclass(frozen=True)
class ValidateRequest:
    branch: str


class History:
    """Answers ancestry questions on full and shallow clones: deepen as needed, never guess."""

    def __init__(self, git: Git, remote: str | None, refspecs: Sequence[str], rounds: int, say: Callable[[str], None]):
        self.git = git
        self.remote = remote
        self.refspecs = list(refspecs)
        self.rounds = rounds
        self.say = say

    @property
    def shallow(self) -> bool:
        return self.git.is_shallow()  # cached by the adapter until the next fetch

    def _proved(self, ancestor: str, descendant: str) -> bool | None:
        """True or False when the local history proves it, None while a shallow clone leaves it open."""
        answer = self.git.is_ancestor(ancestor, descendant)
        return answer if answer or (answer is False and not self.shallow) else None

    def contains(self, ancestor: str, descendant: str) -> bool | None:
        """True/False once the history proves it; None when it cannot be proved either way."""
        answer = self._proved(ancestor, descendant)
        if answer is not None or self.remote is None:
            return answer
        depth = 25
        for _ in range(self.rounds):
            self.say(f"shallow clone: fetching {depth} more commits of history")
            self.git.fetch(self.remote, self.refspecs, deepen=depth)
            if (answer := self._proved(ancestor, descendant)) is not None:
                return answer
            depth *= 4
        self.complete()
        return self._proved(ancestor, descendant)

    def complete(self) -> None:
        """Fetch the whole history (for a merge base) if this clone is shallow."""
        if self.shallow and self.remote is not None:
            self.say("shallow clone: fetching the whole history (--unshallow)")
            self.git.fetch(self.remote, self.refspecs, unshallow=True)


def _resolve_head(git: Git, branch: str, remote: str | None) -> str | None:
    """The branch's commit: checked out, local, remote-tracking, fetched, or a detached HEAD (actions/checkout)."""
    current = git.current_branch()
    if current == branch:
        return git.resolve("HEAD")
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}" if remote else None):
        if ref and (sha := git.resolve(ref)):
            return sha
    if remote:
        try:
            git.fetch(
                remote, [f"+refs/heads/{branch}:refs/remotes/{remote}/{branch}"], depth=1 if git.is_shallow() else None
            )
            if sha := git.resolve(f"refs/remotes/{remote}/{branch}"):
                return sha
        except GitError:
            pass
    return git.resolve("HEAD") if current is None else None


def _production_head(git: Git, repo: RepositoryConfig, remote: str | None) -> tuple[str | None, str]:
    prod = repo.production_branch
    if remote:
        target = f"refs/remotes/{remote}/{prod}"
        git.fetch(remote, [f"+refs/heads/{prod}:{target}"], depth=1 if git.is_shallow() else None)
        return git.resolve(target), target
    return git.resolve(f"refs/heads/{prod}"), f"refs/heads/{prod}"


def _highest_tag(
    git: Git, history: History, repo: RepositoryConfig, prod_sha: str, remote: str | None
) -> tuple[tuple[SemVer, str] | None, set[str]]:
    prefix = repo.tag_prefix
    if not history.shallow:
        reachable = git.tags(prefix, merged_into=prod_sha)
        all_names = {t.name for t in git.tags(prefix)}
        if remote:
            # The remote's tags, into a private namespace: local tags are never overwritten, and a clone made
            # without tags (actions/checkout) still sees the releases.
            git.fetch(remote, [f"+refs/tags/{prefix}*:{REMOTE_TAGS}/{prefix}*"])
            reachable += git.tags(prefix, merged_into=prod_sha, namespace=REMOTE_TAGS)
            all_names |= {t.name for t in git.tags(prefix, namespace=REMOTE_TAGS)}
        return highest_release([t.name for t in reachable], prefix), all_names
    candidates: list[TagRef] = git.remote_tags(remote, prefix) if remote else git.tags(prefix)
    all_names = {t.name for t in candidates} | {t.name for t in git.tags(prefix)}
    by_version = sorted(
        ((v, t) for t in candidates if (v := SemVer.parse(t.name[len(prefix) :])) is not None),
        key=lambda item: item[0],
        reverse=True,
    )
    for version, tag in by_version[:5]:
        if remote and git.resolve(tag.sha) is None:
            git.fetch(remote, [f"+refs/tags/{tag.name}:refs/tags/{tag.name}"], depth=1)
        if history.contains(tag.sha, prod_sha):
            return (version, tag.name), all_names
    return None, all_names


def _contains_production(
    history: History, github: GitHub, prod_sha: str, head_sha: str, reporter: Reporter
) -> bool | None:
    """On a shallow clone the GitHub compare API answers at once when a token is given; git then fetches only the
    hotfix's own commits (for the diff and the commit rules). Without it, or when it fails, git deepens."""
    if history.shallow:
        try:
            status = github.compare_status(prod_sha, head_sha)
        except GitHubError:
            pass
        else:
            reporter.info(f"GitHub compare API: {status}")
            if status not in ("ahead", "identical"):
                return False
    return history.contains(prod_sha, head_sha)


def run(
    req: ValidateRequest, repo: RepositoryConfig, cfg: ValidateConfig, git: Git, github: GitHub, reporter: Reporter
) -> Outcome:
    rows: list[Row] = []

    def add(check: rules.Check) -> None:
        rows.append(Row(check.name, check.status, check.reason))
        reporter.step(f"{check.name}: {check.status.value} - {check.reason}")

    def skip_rest(reason: str) -> Outcome:
        """Every check not done yet is a row too: skipped, with the reason."""
        done = {r.check for r in rows}
        for name in CHECKS:
            if name not in done:
                add(rules.Check(name, Status.SKIP, f"not checked: {reason}"))
        return _outcome(rows, branch.version, repo, None, [], 0)

    branch = rules.check_branch(req.branch, cfg.branch_pattern)
    add(branch.check)
    if branch.check.status is not Status.PASS or branch.version is None:
        return skip_rest("the branch name was rejected")

    remote = repo.remote if git.has_remote(repo.remote) else None
    prod_sha, prod_ref = _production_head(git, repo, remote)
    head_sha = _resolve_head(git, req.branch, remote)
    if prod_sha is None or head_sha is None:
        missing = f"production branch {repo.production_branch}" if prod_sha is None else f"branch {req.branch}"
        add(rules.Check("base", Status.ERROR, f"cannot find {missing} locally or on {remote or 'any remote'}"))
        return skip_rest("history unavailable")

    refspecs = [f"+refs/heads/{repo.production_branch}:{prod_ref}"] if remote else []
    if remote:
        refspecs.append(f"+refs/heads/{req.branch}:refs/remotes/{remote}/{req.branch}")
    history = History(git, remote, refspecs, cfg.max_deepen_rounds, reporter.info)

    contains: bool | None = None
    if cfg.check_base:
        contains = _contains_production(history, github, prod_sha, head_sha, reporter)
        behind = None
        if contains is False and not history.shallow:
            behind = git.count_commits(head_sha, prod_sha)
        add(rules.check_base(contains, production=repo.production_branch, production_sha=prod_sha, behind=behind))
    else:
        add(rules.Check("base", Status.SKIP, "disabled in .hotfix.yml (validate.check_base)"))

    if contains is None and cfg.check_base:
        return skip_rest("history unavailable")

    if contains is not True:
        history.complete()  # the diff below needs the merge base, which a shallow clone may lack

    if cfg.check_version:
        highest, tag_names = _highest_tag(git, history, repo, prod_sha, remote)
        tag = f"{repo.tag_prefix}{branch.version}"
        declared = {}
        for path, text in git.show_files(head_sha, repo.version_files).items():
            if (found := declared_version(path, text)) is not None:
                declared[path] = found
        add(
            rules.check_version(
                branch.version,
                highest,
                production=repo.production_branch,
                tag_prefix=repo.tag_prefix,
                tag_exists=tag in tag_names,
                declared=declared,
            )
        )
    else:
        add(rules.Check("version", Status.SKIP, "disabled in .hotfix.yml (validate.check_version)"))

    try:
        changes = git.diff_numstat(prod_sha, head_sha)
    except GitError as exc:
        add(rules.Check("size", Status.ERROR, f"cannot diff against {repo.production_branch}: {exc.message}"))
        return skip_rest("no diff against the production branch")
    if cfg.size.enabled:
        add(
            rules.check_size(
                changes, max_files=cfg.size.max_files, max_lines=cfg.size.max_lines, warn_ratio=cfg.size.warn_ratio
            )
        )
    else:
        add(rules.Check("size", Status.SKIP, "disabled in .hotfix.yml (validate.size.enabled)"))
    risky_check, risky = rules.check_risky(changes, cfg.risky_paths)
    add(risky_check)
    if risky:
        reporter.annotate(
            "warning",
            "hotfix touches risky paths and needs approval: "
            + ", ".join(inert(p) for p in risky[:20])
            + (f" and {len(risky) - 20} more" if len(risky) > 20 else ""),
            title="risky paths",
        )

    severity = None
    if cfg.commits.enabled:
        commits = git.commits(prod_sha, head_sha, [cfg.commits.severity_trailer, *cfg.commits.ticket_trailers])
        commit_check, severity = rules.check_commits(
            commits,
            types=cfg.commits.types,
            release_subject=f"chore(release): {repo.tag_prefix}{branch.version}"
            if cfg.commits.allow_release_commit
            else None,
            severity_trailer=cfg.commits.severity_trailer,
            ticket_trailers=cfg.commits.ticket_trailers,
            require_severity=cfg.commits.require_severity,
            require_ticket=cfg.commits.require_ticket,
        )
        add(commit_check)
    else:
        add(rules.Check("commits", Status.SKIP, "disabled in .hotfix.yml (validate.commits.enabled)"))
    add(rules.check_concern(changes, cfg.max_top_level_dirs))
    return _outcome(rows, branch.version, repo, severity, risky, len(changes))


def _outcome(
    rows: list[Row],
    version: SemVer | None,
    repo: RepositoryConfig,
    severity: str | None,
    risky: list[str],
    changed: int,
) -> Outcome:
    verdict = worst_status(r.status for r in rows)
    reasons = problem_reasons(rows)
    if verdict is Verdict.PASS and not reasons:
        reasons = ["all checks passed"]
    outputs = {
        "valid": "true" if verdict is Verdict.PASS else "false",
        "version": str(version) if version else "",
        "tag": f"{repo.tag_prefix}{version}" if version else "",
        "severity": severity or "",
        "needs-approval": "true" if risky else "false",
        "changed-files": str(changed),
        "risky-files": json.dumps(risky),
    }
    return Outcome(
        command="validate", verdict=verdict, reasons=reasons, outputs=outputs, rows=rows, title="validate-hotfix"
    )
