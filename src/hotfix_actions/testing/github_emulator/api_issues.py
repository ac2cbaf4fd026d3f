"""Issues, comments and pull requests (which are issues too: one number space, labels and comments shared)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hotfix_actions.testing.github_emulator.api_base import Ctx, Reply, empty_repo, invalid, not_found, page, q
from hotfix_actions.testing.github_emulator.state import RepoState, next_id, node_id, now_iso, user

__all__ = ["HANDLERS", "pull_json"]


def _touch(issue: dict[str, Any]) -> None:
    issue["updated_at"] = now_iso()


def _set_state(issue: dict[str, Any], state: str) -> None:
    issue["state"] = state
    issue["closed_at"] = now_iso() if state == "closed" else None


# -- issues --------------------------------------------------------------------------------------------
def issues_create(ctx: Ctx) -> Reply:
    b = ctx.body
    labels = [item["name"] if isinstance(item, dict) else item for item in b.get("labels", [])]
    issue = ctx.repo.new_issue(str(b["title"]), b.get("body"), labels, ctx.actor)
    return Reply(201, issue, {"Location": issue["url"]})


def issues_get(ctx: Ctx) -> Reply:
    issue = ctx.repo.issues.get(int(ctx.params["issue_number"]))
    return Reply(200, issue) if issue else not_found()


def issues_update(ctx: Ctx) -> Reply:
    issue = ctx.repo.issues.get(int(ctx.params["issue_number"]))
    if issue is None:
        return not_found()
    b = ctx.body or {}
    for key in ("title", "body"):
        if key in b:
            issue[key] = b[key]
    if "state" in b:
        _set_state(issue, b["state"])
    if "labels" in b:
        issue["labels"] = [ctx.repo.label(x["name"] if isinstance(x, dict) else x) for x in b["labels"]]
    _touch(issue)
    return Reply(200, issue)


def issues_list_for_repo(ctx: Ctx) -> Reply:
    state = q(ctx, "state", "open")
    wanted = [x.strip().lower() for x in q(ctx, "labels").split(",") if x.strip()]
    creator = q(ctx, "creator")
    found = []
    for issue in ctx.repo.issues.values():
        names = {lab["name"].lower() for lab in issue["labels"]}
        if state != "all" and issue["state"] != state:
            continue
        if any(w not in names for w in wanted) or (creator and issue["user"]["login"] != creator):
            continue
        found.append(issue)
    key = "updated_at" if q(ctx, "sort") == "updated" else "number"
    found.sort(key=lambda i: i[key], reverse=q(ctx, "direction", "desc") == "desc")
    return page(ctx, found)


def issues_create_comment(ctx: Ctx) -> Reply:
    number = int(ctx.params["issue_number"])
    issue = ctx.repo.issues.get(number)
    if issue is None:
        return not_found()
    cid = next_id()
    comment = {
        "id": cid,
        "node_id": node_id("IC", cid),
        "url": f"{ctx.repo.url}/issues/comments/{cid}",
        "html_url": f"{issue['html_url']}#issuecomment-{cid}",
        "issue_url": issue["url"],
        "body": ctx.body["body"],
        "user": user(ctx.actor, ctx.repo.api, ctx.repo.web),
        "created_at": now_iso(),
        "updated_at": now_iso(),
        "author_association": "MEMBER",
    }
    ctx.repo.comments[number].append(comment)
    issue["comments"] += 1
    _touch(issue)
    return Reply(201, comment, {"Location": comment["url"]})


def issues_list_comments(ctx: Ctx) -> Reply:
    number = int(ctx.params["issue_number"])
    if number not in ctx.repo.issues:
        return not_found()
    return page(ctx, list(ctx.repo.comments[number]))


# -- pull requests ---------------------------------------------------------------------------------------
def pull_json(repo: RepoState, number: int) -> dict[str, Any]:
    issue, pr = repo.issues[number], repo.pulls[number]
    branches = repo.git.branches() if repo.git else {}
    head_sha = branches.get(pr["head"], pr["head_sha"])
    return {
        **{k: issue[k] for k in ("title", "body", "state", "labels", "user", "created_at", "updated_at", "closed_at")},
        "id": pr["id"],
        "node_id": pr["node_id"],
        "number": number,
        "url": f"{repo.url}/pulls/{number}",
        "html_url": f"{repo.html_url}/pull/{number}",
        "issue_url": issue["url"],
        "diff_url": f"{repo.html_url}/pull/{number}.diff",
        "head": repo.branch_ref(pr["head"], head_sha),
        "base": repo.branch_ref(pr["base"], branches.get(pr["base"])),
        "draft": pr["draft"],
        "merged": pr["merged"],
        "merged_at": None,
        "mergeable": None,
        "maintainer_can_modify": pr["maintainer_can_modify"],
        "auto_merge": repo.auto_merge.get(number),
        "locked": False,
        "author_association": "MEMBER",
    }


def _head_branch(ctx: Ctx, head: str) -> str | None:
    owner, sep, branch = head.partition(":")
    if not sep:
        return head
    return branch if owner.lower() == ctx.repo.owner.lower() else None


def pulls_create(ctx: Ctx) -> Reply:
    repo, b = ctx.repo, ctx.body
    if repo.git is None or repo.git.is_empty():
        return empty_repo()
    if "title" not in b:
        return invalid("title is required", "PullRequest", "title", "missing_field")
    head = _head_branch(ctx, b["head"])
    branches = repo.git.branches()
    if head is None or head not in branches:
        return invalid(f"head {b['head']} does not exist", "PullRequest", "head")
    if b["base"] not in branches:
        return invalid(f"base {b['base']} does not exist", "PullRequest", "base")
    for number, pr in repo.pulls.items():
        if pr["head"] == head and pr["base"] == b["base"] and repo.issues[number]["state"] == "open":
            return invalid(f"A pull request already exists for {repo.owner}:{head}.", "PullRequest", "head", "custom")
    if not repo.git.commits_between(branches[b["base"]], branches[head]):
        return invalid(f"No commits between {b['base']} and {head}", "PullRequest", "head", "custom")
    issue = repo.new_issue(b["title"], b.get("body"), [], ctx.actor)
    number = issue["number"]
    issue["pull_request"] = {"url": f"{repo.url}/pulls/{number}", "html_url": f"{repo.html_url}/pull/{number}"}
    pid = next_id()
    repo.pulls[number] = {
        "id": pid,
        "node_id": node_id("PR", pid),
        "head": head,
        "head_sha": branches[head],
        "base": b["base"],
        "draft": bool(b.get("draft", False)),
        "merged": False,
        "maintainer_can_modify": bool(b.get("maintainer_can_modify", True)),
    }
    return Reply(201, pull_json(repo, number), {"Location": f"{repo.url}/pulls/{number}"})


def pulls_get(ctx: Ctx) -> Reply:
    number = int(ctx.params["pull_number"])
    return Reply(200, pull_json(ctx.repo, number)) if number in ctx.repo.pulls else not_found()


def pulls_update(ctx: Ctx) -> Reply:
    number = int(ctx.params["pull_number"])
    if number not in ctx.repo.pulls:
        return not_found()
    issue, b = ctx.repo.issues[number], ctx.body or {}
    for key in ("title", "body"):
        if key in b:
            issue[key] = b[key]
    if "state" in b:
        _set_state(issue, b["state"])
    if "base" in b:
        ctx.repo.pulls[number]["base"] = b["base"]
    _touch(issue)
    return Reply(200, pull_json(ctx.repo, number))


def pulls_list(ctx: Ctx) -> Reply:
    state, base = q(ctx, "state", "open"), q(ctx, "base")
    head = _head_branch(ctx, q(ctx, "head")) if q(ctx, "head") else None
    found = []
    for number, pr in sorted(ctx.repo.pulls.items(), reverse=q(ctx, "direction", "desc") == "desc"):
        if state != "all" and ctx.repo.issues[number]["state"] != state:
            continue
        if (q(ctx, "head") and pr["head"] != head) or (base and pr["base"] != base):
            continue
        found.append(pull_json(ctx.repo, number))
    return page(ctx, found)


HANDLERS: dict[str, Callable[[Ctx], Reply]] = {
    "issues/create": issues_create,
    "issues/get": issues_get,
    "issues/update": issues_update,
    "issues/list-for-repo": issues_list_for_repo,
    "issues/create-comment": issues_create_comment,
    "issues/list-comments": issues_list_comments,
    "pulls/create": pulls_create,
    "pulls/get": pulls_get,
    "pulls/update": pulls_update,
    "pulls/list": pulls_list,
}
