"""Releases, deployments and deployment statuses."""

from __future__ import annotations

from collections.abc import Callable

from hotfix_actions.testing.github_emulator.api_base import Ctx, Reply, empty_repo, invalid, not_found, page, q
from hotfix_actions.testing.github_emulator.state import next_id, node_id, now_iso, user

__all__ = ["HANDLERS"]


# -- releases ------------------------------------------------------------------------------------------
def releases_create(ctx: Ctx) -> Reply:
    repo, b = ctx.repo, ctx.body
    git = repo.git
    if git is None or git.is_empty():
        return empty_repo()
    tag = b["tag_name"]
    if any(r["tag_name"] == tag for r in repo.releases.values()):
        return invalid("already_exists", "Release", "tag_name", "already_exists")
    if f"refs/tags/{tag}" not in git.refs(f"refs/tags/{tag}"):
        target = git.resolve(b.get("target_commitish") or repo.default_branch)
        if target is None:
            return invalid("target_commitish is invalid", "Release", "target_commitish")
        if not b.get("draft"):
            git.update_ref(f"refs/tags/{tag}", target, "0" * 40)
    rid = next_id()
    release = {
        "id": rid,
        "node_id": node_id("RE", rid),
        "url": f"{repo.url}/releases/{rid}",
        "html_url": f"{repo.html_url}/releases/tag/{tag}",
        "assets_url": f"{repo.url}/releases/{rid}/assets",
        "upload_url": f"{repo.url}/releases/{rid}/assets{{?name,label}}",
        "tarball_url": f"{repo.url}/tarball/{tag}",
        "zipball_url": f"{repo.url}/zipball/{tag}",
        "tag_name": tag,
        "target_commitish": b.get("target_commitish") or repo.default_branch,
        "name": b.get("name") or tag,
        "body": b.get("body"),
        "draft": bool(b.get("draft", False)),
        "prerelease": bool(b.get("prerelease", False)),
        "created_at": now_iso(),
        "published_at": None if b.get("draft") else now_iso(),
        "author": user(ctx.actor, repo.api, repo.web),
        "assets": [],
    }
    repo.releases[rid] = release
    return Reply(201, release, {"Location": release["url"]})


def releases_get_by_tag(ctx: Ctx) -> Reply:
    for release in ctx.repo.releases.values():
        if release["tag_name"] == ctx.params["tag"] and not release["draft"]:
            return Reply(200, release)
    return not_found()


def releases_list(ctx: Ctx) -> Reply:
    return page(ctx, sorted(ctx.repo.releases.values(), key=lambda r: -int(r["id"])))


def releases_update(ctx: Ctx) -> Reply:
    release = ctx.repo.releases.get(int(ctx.params["release_id"]))
    if release is None:
        return not_found()
    for key in ("tag_name", "target_commitish", "name", "body", "draft", "prerelease"):
        if key in (ctx.body or {}):
            release[key] = ctx.body[key]
    return Reply(200, release)


# -- deployments ---------------------------------------------------------------------------------------
def _latest_state(ctx: Ctx, deployment_id: int) -> str | None:
    statuses = ctx.repo.statuses.get(deployment_id) or []
    return str(statuses[-1]["state"]) if statuses else None


def deployments_create(ctx: Ctx) -> Reply:
    repo, b = ctx.repo, ctx.body
    git = repo.git
    if git is None or git.is_empty():
        return empty_repo()
    sha = git.resolve(b["ref"])
    if sha is None:
        return Reply(422, {"message": f"No ref found for: {b['ref']}", "status": "422"})
    environment = b.get("environment", "production")
    did = next_id()
    deployment = {
        "id": did,
        "node_id": node_id("DE", did),
        "url": f"{repo.url}/deployments/{did}",
        "statuses_url": f"{repo.url}/deployments/{did}/statuses",
        "repository_url": repo.url,
        "sha": sha,
        "ref": b["ref"],
        "task": b.get("task", "deploy"),
        "payload": b.get("payload", {}),
        "original_environment": environment,
        "environment": environment,
        "description": b.get("description"),
        "creator": user(ctx.actor, repo.api, repo.web),
        "created_at": now_iso(),
        "updated_at": now_iso(),
        "transient_environment": bool(b.get("transient_environment", False)),
        "production_environment": bool(b.get("production_environment", environment == "production")),
    }
    repo.deployments[did] = deployment
    repo.statuses[did] = []
    return Reply(201, deployment, {"Location": deployment["url"]})


def deployments_list(ctx: Ctx) -> Reply:
    found = []
    for d in sorted(ctx.repo.deployments.values(), key=lambda d: -int(d["id"])):
        if any(q(ctx, k) and str(d[k]) != q(ctx, k) for k in ("sha", "ref", "task", "environment")):
            continue
        found.append(d)
    return page(ctx, found)


def deployments_get(ctx: Ctx) -> Reply:
    found = ctx.repo.deployments.get(int(ctx.params["deployment_id"]))
    return Reply(200, found) if found else not_found()


def deployment_status_create(ctx: Ctx) -> Reply:
    repo, b = ctx.repo, ctx.body
    did = int(ctx.params["deployment_id"])
    deployment = repo.deployments.get(did)
    if deployment is None:
        return not_found()
    sid = next_id()
    environment = b.get("environment") or deployment["environment"]
    status = {
        "id": sid,
        "node_id": node_id("DES", sid),
        "url": f"{deployment['url']}/statuses/{sid}",
        "deployment_url": deployment["url"],
        "repository_url": repo.url,
        "state": b["state"],
        "description": b.get("description", ""),
        "environment": environment,
        "target_url": b.get("target_url") or b.get("log_url", ""),
        "log_url": b.get("log_url") or b.get("target_url", ""),
        "environment_url": b.get("environment_url", ""),
        "creator": user(ctx.actor, repo.api, repo.web),
        "created_at": now_iso(),
        "updated_at": now_iso(),
    }
    repo.statuses[did].append(status)
    deployment["updated_at"] = now_iso()
    if b["state"] == "success" and b.get("auto_inactive", True):
        # GitHub: prior non-transient, non-production deployments of the environment that succeeded go inactive.
        for other in repo.deployments.values():
            if (
                other["id"] != did
                and other["environment"] == environment
                and not other["transient_environment"]
                and not other["production_environment"]
                and _latest_state(ctx, int(other["id"])) == "success"
            ):
                repo.statuses[int(other["id"])].append(
                    {**status, "id": next_id(), "state": "inactive", "deployment_url": other["url"]}
                )
    return Reply(201, status, {"Location": status["url"]})


def deployment_statuses_list(ctx: Ctx) -> Reply:
    did = int(ctx.params["deployment_id"])
    if did not in ctx.repo.deployments:
        return not_found()
    return page(ctx, list(reversed(ctx.repo.statuses[did])))


HANDLERS: dict[str, Callable[[Ctx], Reply]] = {
    "repos/create-release": releases_create,
    "repos/get-release-by-tag": releases_get_by_tag,
    "repos/list-releases": releases_list,
    "repos/update-release": releases_update,
    "repos/create-deployment": deployments_create,
    "repos/list-deployments": deployments_list,
    "repos/get-deployment": deployments_get,
    "repos/create-deployment-status": deployment_status_create,
    "repos/list-deployment-statuses": deployment_statuses_list,
}
