"""`hotfix deployment start|finish|last-successful`."""

from __future__ import annotations

import click

from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.ports import Deployments
from hotfix_actions.report import Outcome

__all__ = ["command"]

_token = click.option("--github-token", envvar="HOTFIX_GITHUB_TOKEN", default=None, help="Env: HOTFIX_GITHUB_TOKEN.")
_repository = click.option("--github-repository", envvar="GITHUB_REPOSITORY", default=None, help="owner/name.")
_api = click.option("--github-api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True)
_interval = click.option(
    "--github-write-interval", envvar="HOTFIX_GITHUB_WRITE_INTERVAL", type=float, default=1.0, hidden=True
)
_environment = click.option("--environment", envvar="HOTFIX_ENVIRONMENT", default="production", show_default=True)


def _port(edge: Edge, token: str | None, repository: str | None, api_url: str, interval: float) -> Deployments:
    from hotfix_actions.commands.merge_back import run_url
    from hotfix_actions.github.connect import deployments, options

    edge.reporter.mask(token)
    client = options(api_url, write_interval=interval, on_retry=edge.reporter.info)
    return deployments(token, repository, client, log_url=run_url(edge.env))


@click.group("deployment")
def command() -> None:
    """Record a GitHub Deployment: start, finish, last-successful."""


@hotfix_command("deployment start")
@_environment
@click.option("--sha", envvar="HOTFIX_SHA", required=True, help="The 40-hex commit being deployed. Env: HOTFIX_SHA.")
@click.option("--image", envvar="HOTFIX_IMAGE", required=True, help="The image reference. Env: HOTFIX_IMAGE.")
@click.option("--strategy", envvar="HOTFIX_STRATEGY", default="canary", show_default=True)
@click.option("--description", envvar="HOTFIX_DESCRIPTION", default="")
@_token
@_repository
@_api
@_interval
def start_cmd(
    *,
    edge: Edge,
    environment: str,
    sha: str,
    image: str,
    strategy: str,
    description: str,
    github_token: str | None,
    github_repository: str | None,
    github_api_url: str,
    github_write_interval: float,
) -> Outcome:
    """Create a deployment (ref = the SHA, payload = image and strategy) and mark it in progress."""
    from hotfix_actions.services import deployment

    port = _port(edge, github_token, github_repository, github_api_url, github_write_interval)
    return deployment.start(deployment.Start(environment, sha, image, strategy, description), port, edge.reporter)


@hotfix_command("deployment finish")
@_environment
@click.option(
    "--deployment-id",
    envvar="HOTFIX_DEPLOYMENT_ID",
    type=int,
    default=None,
    help="From `deployment start` (default: the newest).",
)
@click.option(
    "--state", envvar="HOTFIX_STATE", required=True, type=click.Choice(["success", "failure", "error", "inactive"])
)
@click.option(
    "--sha", envvar="HOTFIX_SHA", default=None, help="Without --deployment-id: the newest deployment of this SHA."
)
@click.option("--description", envvar="HOTFIX_DESCRIPTION", default="")
@_token
@_repository
@_api
@_interval
def finish_cmd(
    *,
    edge: Edge,
    environment: str,
    deployment_id: int | None,
    state: str,
    sha: str | None,
    description: str,
    github_token: str | None,
    github_repository: str | None,
    github_api_url: str,
    github_write_interval: float,
) -> Outcome:
    """Set the final status: success, failure, error, or inactive (after a rollback)."""
    from hotfix_actions.commands.merge_back import run_url
    from hotfix_actions.services import deployment

    port = _port(edge, github_token, github_repository, github_api_url, github_write_interval)
    req = deployment.Finish(deployment_id, environment, state, description, run_url(edge.env), sha or None)
    return deployment.finish(req, port, edge.reporter)


@hotfix_command("deployment last-successful")
@_environment
@_token
@_repository
@_api
@_interval
def last_cmd(
    *,
    edge: Edge,
    environment: str,
    github_token: str | None,
    github_repository: str | None,
    github_api_url: str,
    github_write_interval: float,
) -> Outcome:
    """Print the image of the newest deployment whose latest status is success (output: image)."""
    from hotfix_actions.services import deployment

    port = _port(edge, github_token, github_repository, github_api_url, github_write_interval)
    return deployment.last_successful(environment, port, edge.reporter)


command.add_command(start_cmd, "start")
command.add_command(finish_cmd, "finish")
command.add_command(last_cmd, "last-successful")
