"""`hotfix deployment start|finish|last-successful`: GitHub Deployments through ports.Deployments.

Inputs are checked before any call: the environment name, a full commit SHA as the ref (an explicit version, never a
branch that moves), the image reference and the strategy. Without a token the null port records nothing and the
command says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from hotfix_actions.decide.names import image_problem
from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import UsageError
from hotfix_actions.ports import Deployments, NullDeployments
from hotfix_actions.report import Outcome, Reporter, Row

__all__ = ["Finish", "Start", "check_environment", "finish", "last_successful", "start"]

_ENVIRONMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_STRATEGY = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
STATES = ("success", "failure", "error", "inactive")


@dataclass(frozen=True)
class Start:
    environment: str
    sha: str
    image: str
    strategy: str
    description: str = ""


@dataclass(frozen=True)
class Finish:
    deployment_id: int | None
    environment: str
    state: str
    description: str = ""
    log_url: str = ""
    sha: str | None = None


def check_environment(name: str) -> None:
    if not _ENVIRONMENT.fullmatch(name):
        raise UsageError(
            f"{name[:80]!r} is not an environment name", input_name="--environment", fix="e.g. production or staging"
        )


@runtime_checkable
class FindsLatest(Protocol):
    def latest(self, environment: str, sha: str | None = None) -> int | None: ...


def _recorded(deployments: Deployments) -> bool:
    return not isinstance(deployments, NullDeployments)


def start(req: Start, deployments: Deployments, reporter: Reporter) -> Outcome:
    check_environment(req.environment)
    if not _SHA.fullmatch(req.sha):
        raise UsageError(f"{req.sha[:60]!r} is not a full commit SHA", input_name="--sha", fix="pass the 40-hex SHA")
    if problem := image_problem(req.image):
        raise UsageError(f"{req.image[:100]!r} {problem}", input_name="--image")
    if not _STRATEGY.fullmatch(req.strategy):
        raise UsageError(f"{req.strategy[:40]!r} is not a strategy name", input_name="--strategy", fix="e.g. canary")
    description = req.description or f"{req.strategy} deploy of {req.image}"[:140]
    payload = {"image": req.image, "strategy": req.strategy}
    deployment_id = deployments.start(req.environment, req.sha, payload, description)
    if deployment_id is None:
        reason = "no GitHub token: the deployment was not recorded"
        return Outcome(
            "deployment start", Verdict.PASS, [reason], {"deployment-id": ""}, [Row("deployment", Status.SKIP, reason)]
        )
    reason = f"deployment {deployment_id} to {req.environment}: {req.sha[:10]} ({req.image}), in progress"
    reporter.step(reason)
    return Outcome(
        "deployment start",
        Verdict.PASS,
        [reason],
        {"deployment-id": str(deployment_id)},
        [Row("deployment", Status.PASS, reason)],
        "deployment start",
    )


def finish(req: Finish, deployments: Deployments, reporter: Reporter) -> Outcome:
    check_environment(req.environment)
    if req.state not in STATES:
        raise UsageError(f"{req.state!r} is not one of {', '.join(STATES)}", input_name="--state")
    if req.sha is not None and not _SHA.fullmatch(req.sha):
        raise UsageError(f"{req.sha[:60]!r} is not a full commit SHA", input_name="--sha")
    deployment_id = req.deployment_id
    if deployment_id is None and isinstance(deployments, FindsLatest):
        deployment_id = deployments.latest(req.environment, req.sha)
        if deployment_id is None:
            raise UsageError(
                f"no deployment to {req.environment}" + (f" of {req.sha[:10]}" if req.sha else ""),
                input_name="--deployment-id",
                fix="pass the deployment-id output of `hotfix deployment start`",
            )
    deployments.finish(deployment_id, req.state, req.description or req.state, req.log_url)
    if deployment_id is None:
        reason = "no GitHub token: nothing recorded"
        return Outcome("deployment finish", Verdict.PASS, [reason], {}, [Row("deployment", Status.SKIP, reason)])
    reason = f"deployment {deployment_id} to {req.environment} is now {req.state}"
    reporter.step(reason)
    outputs = {"deployment-id": str(deployment_id), "state": req.state}
    return Outcome(
        "deployment finish",
        Verdict.PASS,
        [reason],
        outputs,
        [Row("deployment", Status.PASS, reason)],
        "deployment finish",
    )


def last_successful(environment: str, deployments: Deployments, reporter: Reporter) -> Outcome:
    check_environment(environment)
    payload = deployments.last_successful(environment)
    if payload is None:
        why = "no GitHub token" if not _recorded(deployments) else f"no successful deployment to {environment}"
        return Outcome(
            "deployment last-successful", Verdict.FAIL, [why], {"image": ""}, title="last successful deployment"
        )
    reason = f"last successful deployment to {environment}: {payload.get('image', '?')}"
    reporter.step(reason)
    outputs = {"image": payload.get("image", ""), "strategy": payload.get("strategy", "")}
    return Outcome("deployment last-successful", Verdict.PASS, [reason], outputs, title="last successful deployment")
