"""`hotfix merge-back`: production, then develop and open release branches; tag, release, delete the branch.

Everything is read from the remote first, so a rerun continues where the last one stopped: a branch that contains
the hotfix is skipped, an existing tag on the right commit is kept, an open pull request is updated, not repeated.
A merge that conflicts or is refused (branch protection) becomes a pull request from
``merge-back/<version>-into-<target>``; nothing is ever force-pushed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hotfix_actions.config.merge_back import MergeBackConfig
from hotfix_actions.config.repository import RepositoryConfig
from hotfix_actions.decide import merge_back as mb
from hotfix_actions.decide.names import branch_name_problem
from hotfix_actions.decide.validate import check_branch
from hotfix_actions.decide.verdict import Status, Verdict, worst_status
from hotfix_actions.decide.version import SemVer
from hotfix_actions.errors import GitHubError, RejectedError, UsageError
from hotfix_actions.ports import Event, GitHubRepoApi, GitMerge, Notifier
from hotfix_actions.report import Outcome, Reporter, Row, md_escape, md_table, problem_reasons

__all__ = ["MergeBackRequest", "run"]

_STALE = ("non-fast-forward", "fetch first", "stale info")


@dataclass(frozen=True)
class MergeBackRequest:
    branch: str
    version: str | None = None
    keep_branch: bool = False
    auto_merge: bool | None = None  # None: merge_back.auto_merge
    release: bool | None = None  # None: merge_back.create_release
    dry_run: bool = False
    actor: str = ""
    run_url: str = ""


@dataclass
class _Run:
    req: MergeBackRequest
    repo: RepositoryConfig
    cfg: MergeBackConfig
    git: GitMerge
    github: GitHubRepoApi
    reporter: Reporter
    remote: str
    plan: mb.Plan
    heads: dict[str, str]
    remote_tag: str | None

    @property
    def identity(self) -> tuple[str, str]:
        return (self.cfg.committer_name, self.cfg.committer_email)

    def refresh(self, branch: str) -> str | None:
        self.git.fetch(self.remote, [f"+refs/heads/{branch}:refs/remotes/{self.remote}/{branch}"])
        return self.git.resolve(f"refs/remotes/{self.remote}/{branch}")

    def merge(self, target: mb.Planned) -> tuple[mb.TargetResult, str | None]:
        """Merge into one target and push; hand over a conflict or a refusal. Returns the result and merge commit."""
        p, sha = self.plan, target.sha
        assert sha is not None
        for attempt in (1, 2):
            merged = self.git.merge_tree(sha, p.hotfix_sha)
            if merged.tree is None:
                return self.hand_over(target.branch, p.hotfix_sha, merged.conflicts, None), None
            message = mb.merge_message(p.tag, p.hotfix_branch, target.branch)
            commit = self.git.commit_tree(merged.tree, [sha, p.hotfix_sha], message, self.identity)
            pushed = self.git.push_refs(self.remote, [f"{commit}:refs/heads/{target.branch}"])
            if pushed.ok:
                self.reporter.step(f"{target.branch}: merged and pushed {commit[:10]}")
                return mb.TargetResult(target.branch, mb.Result.MERGED, f"merged as {commit[:10]}"), commit
            refusal = pushed.rejected[0][1]
            if attempt == 1 and any(s in refusal for s in _STALE):
                self.reporter.step(f"{target.branch} moved while merging ({refusal}); fetching it and trying again")
                fresh = self.refresh(target.branch)
                if fresh is None:
                    break
                sha = fresh
                if self.git.is_ancestor(p.hotfix_sha, sha):
                    return mb.TargetResult(
                        target.branch, mb.Result.CONTAINED, f"{target.branch} got it meanwhile"
                    ), None
                continue
            return self.hand_over(target.branch, commit, (), refusal), None
        return mb.TargetResult(target.branch, mb.Result.BLOCKED, f"{target.branch} vanished while merging"), None

    def hand_over(self, target: str, head_sha: str, conflicts: tuple[str, ...], refused: str | None) -> mb.TargetResult:
        """Push merge-back/<version>-into-<target> (unless it exists) and open or update its pull request."""
        p = self.plan
        head = mb.pr_branch(self.cfg.branch_prefix, p.version, target)
        why = f"conflicts in {', '.join(conflicts[:5])}" + (" …" if len(conflicts) > 5 else "") if conflicts else ""
        why = why or f"push refused ({refused})"
        self.reporter.step(f"{target}: {why}; handing over through {head}")
        if head not in self.heads:
            pushed = self.git.push_refs(self.remote, [f"{head_sha}:refs/heads/{head}"])
            if not pushed.ok:
                reason = f"{why}; pushing {head} was refused too ({pushed.rejected[0][1]}): merge by hand"
                return mb.TargetResult(target, mb.Result.BLOCKED, reason)
            self.heads[head] = head_sha
        body = mb.pr_body(
            tag=p.tag,
            hotfix_branch=p.hotfix_branch,
            target=target,
            head=head,
            remote=self.remote,
            conflicts=conflicts,
            refused=refused,
        )
        title = f"Merge hotfix {p.tag} into {target}"
        try:
            for label in self.cfg.labels:
                self.github.ensure_label(label, "d93f0b", "Hotfix merge-back")
            pr = self.github.open_or_update_pull(head, target, title, body, self.cfg.labels)
        except GitHubError as exc:
            return mb.TargetResult(target, mb.Result.FAILED, f"{why}; the pull request failed: {exc}")
        if pr is None:
            self.reporter.untrusted(body)
            return mb.TargetResult(
                target, mb.Result.BLOCKED, f"{why}; no GitHub token: open a pull request {head} -> {target}"
            )
        self.reporter.step(f"{target}: pull request #{pr.number} {'opened' if pr.created else 'updated'}: {pr.url}")
        auto = self.req.auto_merge if self.req.auto_merge is not None else self.cfg.auto_merge
        if auto and (warning := self.github.enable_auto_merge(pr.number)):
            self.reporter.annotate("warning", warning)
        return mb.TargetResult(target, mb.Result.PULL_REQUEST, f"{why}; pull request #{pr.number}", pr.url)

    def tag(self, tag_sha: str) -> Row:
        p = self.plan
        if self.remote_tag is not None:
            return Row("tag", Status.PASS, f"{p.tag} already on {tag_sha[:10]}")
        if self.git.resolve(f"refs/tags/{p.tag}") is None:
            self.git.create_tag(p.tag, tag_sha, f"Hotfix {p.tag}\n\nFrom {p.hotfix_branch}.\n", self.identity)
        pushed = self.git.push_refs(self.remote, [f"refs/tags/{p.tag}:refs/tags/{p.tag}"])
        if not pushed.ok:
            return Row("tag", Status.FAIL, f"pushing {p.tag} was refused: {pushed.rejected[0][1]}")
        self.reporter.step(f"tagged {tag_sha[:10]} as {p.tag}")
        return Row("tag", Status.PASS, f"{p.tag} on {tag_sha[:10]}")

    def _previous(self, tag_sha: str) -> tuple[str, str] | None:
        """The newest release tag older than this hotfix on the tag's history: (name, commit)."""
        prefix = self.repo.tag_prefix
        known = {t.name: t.sha for t in self.git.remote_tags(self.remote, prefix)}
        known.update({t.name: t.sha for t in self.git.tags(prefix)})
        older = sorted(
            ((v, n) for n in known if (v := SemVer.parse(n[len(prefix) :])) is not None and v < self.plan.version),
            reverse=True,
        )
        for _, name in older[:5]:
            if self.git.is_ancestor(known[name], tag_sha):
                return name, known[name]
        return None

    def release(self, tag_sha: str) -> tuple[Row, str]:
        p = self.plan
        previous = self._previous(tag_sha)
        base = previous[1] if previous else f"{tag_sha}^1"
        commits = self.git.commits(base, p.hotfix_sha, ["Severity", "Fixes"])
        notes = mb.release_notes(
            p.tag, p.hotfix_branch, self.repo.production_branch, commits, previous[0] if previous else None
        )
        try:
            found = self.github.ensure_release(p.tag, p.tag, notes)
        except GitHubError as exc:
            return Row("release", Status.ERROR, f"{exc}; run merge-back again to create it"), ""
        if found is None:
            return Row("release", Status.SKIP, "no GitHub token: no release created"), ""
        self.reporter.step(f"release {p.tag} {'created' if found.created else 'exists'}: {found.url}")
        return Row("release", Status.PASS, f"{'created' if found.created else 'exists'}: {found.url}"), found.url


def _parse(req: MergeBackRequest, pattern: str) -> SemVer:
    if problem := branch_name_problem(req.branch):
        raise UsageError(f"{req.branch[:80]!r} {problem}", input_name="--branch", fix="pass hotfix/vX.Y.Z-<slug>")
    facts = check_branch(req.branch, pattern)
    if facts.version is None:
        raise UsageError(facts.check.reason, input_name="--branch", fix="name the branch hotfix/vX.Y.Z-<slug>")
    if req.version is not None and SemVer.parse(req.version.removeprefix("v")) != facts.version:
        raise UsageError(
            f"{req.version!r} differs from the branch's version {facts.version}",
            input_name="--version",
            fix="omit --version; the branch name carries it",
        )
    return facts.version


def run(
    req: MergeBackRequest,
    repo: RepositoryConfig,
    cfg: MergeBackConfig,
    branch_pattern: str,
    git: GitMerge,
    github: GitHubRepoApi,
    reporter: Reporter,
    notifier: Notifier,
) -> Outcome:
    version = _parse(req, branch_pattern)
    tag = f"{repo.tag_prefix}{version}"
    remote = repo.remote
    if not git.has_remote(remote):
        raise UsageError(f"no git remote {remote!r}", input_name="repository.remote", fix="git remote add origin <url>")
    reporter.step(
        f"fetching branches from {remote}" + (" (whole history: the clone is shallow)" if git.is_shallow() else "")
    )
    heads = git.fetch_branches(remote, unshallow=git.is_shallow())
    remote_tag = next((t.sha for t in git.remote_tags(remote, tag) if t.name == tag), None)
    local_tag = next((t.sha for t in git.tags(tag) if t.name == tag), None)
    if remote_tag and local_tag and remote_tag != local_tag:
        raise RejectedError(
            f"the local tag {tag} ({local_tag[:10]}) differs from {remote}'s ({remote_tag[:10]})",
            fix=f"git tag -d {tag} && git fetch {remote} tag {tag}",
        )
    tag_sha = remote_tag or local_tag
    prod = repo.production_branch
    hotfix_sha = heads.get(req.branch)
    if hotfix_sha is None:
        if tag_sha and prod in heads and git.is_ancestor(tag_sha, heads[prod]):
            reason = f"{req.branch} is gone and {tag} ({tag_sha[:10]}) is on {prod}: merge-back finished earlier"
            reporter.step(reason)
            return Outcome("merge-back", Verdict.PASS, [reason], {"tag": tag, "complete": "true"}, title="merge-back")
        raise UsageError(f"branch {req.branch} is not on {remote}", input_name="--branch", fix="push it first")

    targets = mb.order_targets(
        production=prod,
        develop=repo.develop_branch,
        release_glob=repo.release_branches,
        configured=cfg.targets,
        remote_branches=sorted(heads),
        version=version,
        skip_older_releases=cfg.skip_older_releases,
        skip_develop_when_release_open=cfg.skip_develop_when_release_open,
    )
    contains = {t.branch: bool(git.is_ancestor(hotfix_sha, heads[t.branch])) for t in targets if t.branch in heads}
    expected = git.first_parent_containing(heads[prod], hotfix_sha) if contains.get(prod) else None
    plan = mb.plan(
        version=version,
        tag=tag,
        hotfix_branch=req.branch,
        hotfix_sha=hotfix_sha,
        targets=targets,
        heads=heads,
        contains=contains,
        tag_sha=tag_sha,
        expected_tag_sha=expected,
    )
    for item in plan.targets:
        reporter.step(f"plan: {item.branch}: {item.action.value} - {item.reason}")
    if plan.problems:
        raise RejectedError("; ".join(plan.problems))
    if req.dry_run:
        rows = [Row(f"into {p.branch}", Status.SKIP, f"dry run: {p.action.value} - {p.reason}") for p in plan.targets]
        return Outcome("merge-back", Verdict.PASS, ["dry run: nothing written"], {"tag": tag}, rows, "merge-back")

    state = _Run(req, repo, cfg, git, github, reporter, remote, plan, heads, remote_tag)
    results: list[mb.TargetResult] = []
    tag_target = expected
    for item in plan.targets:
        if item.action is mb.Action.MERGE:
            result, commit = state.merge(item)
            if item.kind is mb.Kind.PRODUCTION and result.result is mb.Result.MERGED:
                tag_target = commit
            elif item.kind is mb.Kind.PRODUCTION and result.result is mb.Result.CONTAINED:
                tag_target = git.first_parent_containing(state.refresh(prod) or heads[prod], hotfix_sha)
        elif item.action is mb.Action.CONTAINS:
            result = mb.TargetResult(item.branch, mb.Result.CONTAINED, item.reason)
        else:
            result = mb.TargetResult(item.branch, mb.Result.SKIPPED, item.reason)
        results.append(result)

    rows = [
        Row(f"into {r.branch}", mb.RESULT_STATUS[r.result], r.reason + (f" {r.url}" if r.url else "")) for r in results
    ]
    release_url = ""
    if tag_target is not None:
        rows.append(state.tag(tag_target))
        if req.release if req.release is not None else cfg.create_release:
            release_row, release_url = state.release(tag_target)
            rows.append(release_row)
    else:
        rows.append(Row("tag", Status.SKIP, f"{tag} waits until {prod} has the hotfix; run merge-back again then"))
    conclusion = mb.conclude(plan, results, keep_branch=req.keep_branch or not cfg.delete_branch)
    deleted = False
    if conclusion.delete_branch and tag_target is not None:
        pushed = git.push_refs(remote, [f":refs/heads/{req.branch}"])
        deleted = pushed.ok
        rows.append(
            Row(
                "delete branch",
                Status.PASS if deleted else Status.WARN,
                conclusion.reason if deleted else f"refused: {pushed.rejected[0][1]}",
            )
        )
    else:
        rows.append(Row("delete branch", Status.SKIP, conclusion.reason))
    return _finish(req, plan, results, rows, release_url, deleted, conclusion, reporter, notifier)


def _finish(
    req: MergeBackRequest,
    plan: mb.Plan,
    results: list[mb.TargetResult],
    rows: list[Row],
    release_url: str,
    deleted: bool,
    conclusion: mb.Conclusion,
    reporter: Reporter,
    notifier: Notifier,
) -> Outcome:
    verdict = worst_status(r.status for r in rows)
    pending = [
        {"branch": r.branch, "url": r.url, "reason": r.reason}
        for r in results
        if r.result in (mb.Result.PULL_REQUEST, mb.Result.BLOCKED)
    ]
    reasons = problem_reasons(rows)
    reasons = reasons or [
        f"{plan.tag} is in every branch: {', '.join(r.branch for r in results if r.result is not mb.Result.SKIPPED)}"
    ]
    title = f"Hotfix {plan.tag} merged back" if conclusion.complete else f"Hotfix {plan.tag} merge-back needs a hand"
    event = Event(
        kind="merged_back",
        title=title,
        version=str(plan.version),
        verdict=verdict.value,
        reasons=tuple(reasons),
        actor=req.actor,
        run_url=req.run_url,
        fields=tuple((f"→ {r.branch}", r.result.value) for r in results)[:8],
    )
    if warning := notifier.notify(event):
        reporter.annotate("warning", f"notification: {warning}")
    table = md_table(
        ["Branch", "Result", "Details"],
        [
            [f"`{md_escape(r.branch)}`", r.result.value, md_escape(r.reason) + (f" ({r.url})" if r.url else "")]
            for r in results
        ],
    )
    outputs = {
        "tag": plan.tag,
        "complete": "true" if conclusion.complete else "false",
        "merged": json.dumps([r.branch for r in results if r.result is mb.Result.MERGED]),
        "pending": json.dumps(pending),
        "release-url": release_url,
        "branch-deleted": "true" if deleted else "false",
    }
    return Outcome("merge-back", verdict, reasons, outputs, rows, f"merge-back {plan.tag}", markdown=table)
