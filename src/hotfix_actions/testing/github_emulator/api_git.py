"""Repository, refs, compare and labels: read from (and written to) the bare git repository behind the emulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hotfix_actions.testing.github_emulator.api_base import Ctx, Reply, empty_repo, invalid, not_found, page
from hotfix_actions.testing.github_emulator.state import node_id

__all__ = ["HANDLERS", "commit_json"]


# -- repository, refs, compare ----------------------------------------------------------------------
def repos_get(ctx: Ctx) -> Reply:
    return Reply(200, ctx.repo.as_json())


def _ref_json(ctx: Ctx, ref: str, sha: str) -> dict[str, Any]:
    git = ctx.repo.git
    kind = git.object_type(sha) if git else "commit"
    return {
        "ref": ref,
        "node_id": node_id("REF", abs(hash(ref)) % 10**8),
        "url": f"{ctx.repo.url}/git/{ref}",
        "object": {"type": kind, "sha": sha, "url": f"{ctx.repo.url}/git/{kind}s/{sha}"},
    }


def git_get_ref(ctx: Ctx) -> Reply:
    git = ctx.repo.git
    if git is None or git.is_empty():
        return empty_repo()
    ref = "refs/" + ctx.params["ref"]
    sha = git.refs(ref).get(ref)
    return Reply(200, _ref_json(ctx, ref, sha)) if sha else not_found()


def git_list_matching_refs(ctx: Ctx) -> Reply:
    git = ctx.repo.git
    if git is None or git.is_empty():
        return empty_repo()
    prefix = "refs/" + ctx.params["ref"]
    found = [_ref_json(ctx, r, s) for r, s in sorted(git.refs("refs/").items()) if r.startswith(prefix)]
    return Reply(200, found)


def git_create_ref(ctx: Ctx) -> Reply:
    git = ctx.repo.git
    if git is None or git.is_empty():
        return empty_repo()
    ref, sha = ctx.body["ref"], ctx.body["sha"]
    if not ref.startswith("refs/") or ref.count("/") < 2:
        return invalid("Reference name must start with 'refs/' and have two slashes", "Reference", "ref")
    if ref in git.refs(ref):
        return invalid("Reference already exists", "Reference", "ref", "already_exists")
    if git.resolve(sha) is None:
        return invalid("Object does not exist", "Reference", "sha")
    git.update_ref(ref, sha, "0" * 40)
    return Reply(201, _ref_json(ctx, ref, sha))


def git_delete_ref(ctx: Ctx) -> Reply:
    git = ctx.repo.git
    ref = "refs/" + ctx.params["ref"]
    if git is None or ref not in git.refs(ref):
        return invalid("Reference does not exist", "Reference", "ref")
    git.delete_ref(ref)
    return Reply(204)


def commit_json(ctx: Ctx, sha: str) -> dict[str, Any]:
    assert ctx.repo.git is not None
    info = ctx.repo.git.commit(sha)
    person = {"name": info.author, "email": info.email, "date": info.date}
    return {
        "sha": sha,
        "node_id": node_id("C", int(sha[:7], 16)),
        "url": f"{ctx.repo.url}/commits/{sha}",
        "html_url": f"{ctx.repo.html_url}/commit/{sha}",
        "commit": {
            "message": info.message,
            "author": person,
            "committer": person,
            "url": f"{ctx.repo.url}/git/commits/{sha}",
        },
        "parents": [{"sha": p, "url": f"{ctx.repo.url}/commits/{p}"} for p in info.parents],
        "author": None,
        "committer": None,
    }


def repos_compare(ctx: Ctx) -> Reply:
    git = ctx.repo.git
    if git is None or git.is_empty():
        return empty_repo()
    base_name, sep, head_name = ctx.params["basehead"].partition("...")
    base, head = git.resolve(base_name), git.resolve(head_name)
    if not sep or base is None or head is None:
        return not_found()
    merge_base = git.merge_base(base, head)
    ahead = git.commits_between(base, head)
    behind = git.commits_between(head, base)
    status = (
        "identical" if not ahead and not behind else "ahead" if not behind else "behind" if not ahead else "diverged"
    )
    return Reply(
        200,
        {
            "url": f"{ctx.repo.url}/compare/{ctx.params['basehead']}",
            "html_url": f"{ctx.repo.html_url}/compare/{ctx.params['basehead']}",
            "status": status,
            "ahead_by": len(ahead),
            "behind_by": len(behind),
            "total_commits": len(ahead),
            "base_commit": commit_json(ctx, base),
            "merge_base_commit": commit_json(ctx, merge_base) if merge_base else None,
            "commits": [commit_json(ctx, sha) for sha in ahead[:250]],
            "files": [{"filename": f, "status": s} for f, s in git.changed_files(base, head)],
        },
    )


def repos_get_branch(ctx: Ctx) -> Reply:
    git = ctx.repo.git
    if git is None or git.is_empty():
        return empty_repo()
    sha = git.branches().get(ctx.params["branch"])
    if sha is None:
        return Reply(404, {"message": "Branch not found", "status": "404"})
    return Reply(200, {"name": ctx.params["branch"], "commit": commit_json(ctx, sha), "protected": False})


# -- labels ------------------------------------------------------------------------------------------
def issues_get_label(ctx: Ctx) -> Reply:
    found = ctx.repo.labels.get(ctx.params["name"].lower())
    return Reply(200, found) if found else not_found()


def issues_create_label(ctx: Ctx) -> Reply:
    name = ctx.body["name"]
    if name.lower() in ctx.repo.labels:
        return invalid("already_exists", "Label", "name", "already_exists")
    return Reply(201, ctx.repo.label(name, ctx.body.get("color", "ededed"), ctx.body.get("description")))


def issues_list_labels_for_repo(ctx: Ctx) -> Reply:
    return page(ctx, list(ctx.repo.labels.values()))


def issues_add_labels(ctx: Ctx) -> Reply:
    issue = ctx.repo.issues.get(int(ctx.params["issue_number"]))
    if issue is None:
        return not_found()
    body = ctx.body
    names = body.get("labels", []) if isinstance(body, dict) else body
    for item in names:
        name = item["name"] if isinstance(item, dict) else item
        if all(lab["name"].lower() != name.lower() for lab in issue["labels"]):
            issue["labels"].append(ctx.repo.label(name))
    return Reply(200, issue["labels"])


HANDLERS: dict[str, Callable[[Ctx], Reply]] = {
    "repos/get": repos_get,
    "git/get-ref": git_get_ref,
    "git/list-matching-refs": git_list_matching_refs,
    "git/create-ref": git_create_ref,
    "git/delete-ref": git_delete_ref,
    "repos/compare-commits-with-basehead": repos_compare,
    "repos/get-branch": repos_get_branch,
    "issues/get-label": issues_get_label,
    "issues/create-label": issues_create_label,
    "issues/list-labels-for-repo": issues_list_labels_for_repo,
    "issues/add-labels": issues_add_labels,
}
