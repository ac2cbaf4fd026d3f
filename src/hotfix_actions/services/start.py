"""`hotfix start <slug>`: the seed's first steps as one command."""

from __future__ import annotations

from dataclasses import dataclass

from hotfix_actions.config.repository import RepositoryConfig
from hotfix_actions.decide.names import slug_problem
from hotfix_actions.decide.validate import SEVERITIES
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.decide.version import bump_declared, highest_release
from hotfix_actions.errors import RejectedError, UsageError
from hotfix_actions.ports import Git
from hotfix_actions.report import Outcome, Reporter

__all__ = ["StartRequest", "run"]


@dataclass(frozen=True)
class StartRequest:
    slug: str
    severity: str | None
    fixes: str | None
    push: bool


def _refuse_a_parallel_hotfix(git: Git, remote: str | None, prefix: str, *, version: str) -> None:
    """One open hotfix per version: a second `hotfix start` while hotfix/v<version>-<other> is open (here or on the
    remote) would make two different releases both called <version>. Moving on to the next patch number would not
    help either: validate wants exactly the patch after the last release, so that branch could not ship before the
    open one does. So: refuse, name the open branch and say the ways forward."""
    local = {ref.removeprefix("refs/heads/") for ref in git.ref_heads(f"refs/heads/{prefix}*")}
    remote_open = set(git.remote_heads(remote, prefix)) if remote else set()
    open_branches = sorted(local | remote_open)
    if not open_branches:
        return
    first = open_branches[0]
    where = " and ".join(w for w, found in (("here", first in local), (f"on {remote}", first in remote_open)) if found)
    others = f" (and {len(open_branches) - 1} more)" if len(open_branches) > 1 else ""
    delete = f"git push {remote} --delete {first}" if first in remote_open else f"git branch -D {first}"
    raise RejectedError(
        f"hotfix {version} is already open as {first} ({where}){others}: two hotfixes cannot share one version",
        fix=f"add your fix to that branch (git switch {first}), or ship it first (its tag moves the next hotfix "
        f"to the next patch), or, if it was abandoned, delete it ({delete})",
    )


def run(req: StartRequest, repo: RepositoryConfig, git: Git, reporter: Reporter) -> Outcome:
    if problem := slug_problem(req.slug):
        raise UsageError(f"{req.slug[:60]!r} {problem}", input_name="slug", fix="e.g. hotfix start fix-login-crash")
    if req.severity is not None and req.severity not in SEVERITIES:
        raise UsageError(f"{req.severity!r} is not one of {', '.join(SEVERITIES)}", input_name="--severity")
    if req.fixes is not None and (not req.fixes.strip() or "\n" in req.fixes or len(req.fixes) > 200):
        raise UsageError("must be one line of at most 200 characters", input_name="--fixes")
    if not git.is_clean():
        raise UsageError(
            "the work tree has uncommitted changes",
            input_name="work tree",
            fix="commit or stash them first (git stash)",
        )

    remote = repo.remote if git.has_remote(repo.remote) else None
    if req.push and remote is None:  # before anything is created: nothing half-done
        raise UsageError(
            f"this clone has no remote {repo.remote} to push to",
            input_name="--push",
            fix=f"add it (git remote add {repo.remote} <url>), set repository.remote, or leave out --push",
        )
    prod = repo.production_branch
    if remote:
        reporter.step(f"fetching {prod} and release tags from {remote}")
        git.fetch(
            remote,
            [
                f"+refs/heads/{prod}:refs/remotes/{remote}/{prod}",
                f"refs/tags/{repo.tag_prefix}*:refs/tags/{repo.tag_prefix}*",
            ],
        )
        prod_ref = f"refs/remotes/{remote}/{prod}"
    else:
        prod_ref = f"refs/heads/{prod}"
    prod_sha = git.resolve(prod_ref)
    if prod_sha is None:
        raise UsageError(
            f"production branch {prod} not found",
            input_name="repository.production_branch",
            fix="set repository.production_branch in .hotfix.yml",
        )
    found = highest_release([t.name for t in git.tags(repo.tag_prefix, merged_into=prod_sha)], repo.tag_prefix)
    if found is None:
        raise RejectedError(
            f"no release tag {repo.tag_prefix}X.Y.Z is reachable from {prod}",
            fix=f"tag the running release first: git tag -a {repo.tag_prefix}1.0.0 {prod_sha[:10]}",
        )
    base, base_tag = found
    version = base.next_patch()
    tag = f"{repo.tag_prefix}{version}"
    branch = f"hotfix/{tag}-{req.slug}"
    reporter.step(f"next patch after {base_tag} is {version}: branch {branch}")
    existing_tags = {t.name for t in git.tags(repo.tag_prefix)}
    if remote:
        existing_tags |= {t.name for t in git.remote_tags(remote, repo.tag_prefix)}
    if tag in existing_tags:
        raise RejectedError(f"tag {tag} already exists", fix="someone released this version; fetch and start again")
    if git.resolve(f"refs/heads/{branch}") or (remote and git.resolve(f"refs/remotes/{remote}/{branch}")):
        raise RejectedError(
            f"branch {branch} already exists", fix=f"check it out (git switch {branch}) or pick another slug"
        )
    _refuse_a_parallel_hotfix(git, remote, f"hotfix/{tag}-", version=str(version))

    files: dict[str, str] = {}
    for path in repo.version_files:
        text = git.show_file(prod_sha, path)
        if text is not None and (bumped := bump_declared(path, text, str(version))) is not None:
            files[path] = bumped
    git.create_branch(branch, prod_sha)
    trailers = []
    if req.severity:
        trailers.append(f"Severity: {req.severity}")
    if req.fixes:
        trailers.append(f"Fixes: {req.fixes.strip()}")
    message = f"chore(release): {tag}\n\nStart hotfix {tag} from {prod} ({prod_sha[:10]}).\n"
    if trailers:
        message += "\n" + "\n".join(trailers) + "\n"
    sha = git.write_and_commit(files, message)
    reporter.step(f"created {branch} at {sha[:10]}" + (f", bumped {', '.join(sorted(files))}" if files else ""))
    if req.push and remote is not None:  # (no remote with --push was refused above)
        git.push(remote, f"refs/heads/{branch}:refs/heads/{branch}", set_upstream=True)
        reporter.step(f"pushed {branch} to {remote}; it tracks {remote}/{branch}, so a plain `git push` works next")
    reporter.info(
        "next: commit the fix with the trailers validate needs on the head commit, then push: "
        f'git commit -am "fix: <what>" --trailer "Severity: {req.severity or "<critical|high|medium|low>"}" '
        f'--trailer "Fixes: {req.fixes.strip() if req.fixes else "<ticket>"}"'
    )
    return Outcome(
        command="start",
        verdict=Verdict.PASS,
        reasons=[f"created {branch} from {prod} ({prod_sha[:10]}), version {version} after {base_tag}"],
        outputs={
            "branch": branch,
            "version": str(version),
            "tag": tag,
            "sha": sha,
            "bumped-files": ",".join(sorted(files)),
        },
        title="hotfix start",
    )
