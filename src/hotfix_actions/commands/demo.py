"""`hotfix demo`."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import click

from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.report import Outcome

__all__ = ["command"]


@hotfix_command("demo", short_help="Run the whole pipeline twice on a local sandbox: a bad hotfix, then a good one.")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where the git origin, the clone, the kubeconfig and Prometheus' data go (default: a temporary "
    "folder, removed afterwards).",
)
@click.option(
    "--prometheus/--no-prometheus",
    "prometheus",
    default=None,
    help="Use the real Prometheus (default: when it is installed).",
)
def command(*, edge: Edge, workdir: str | None, prometheus: bool | None) -> Outcome:
    """Run the whole pipeline twice on a local sandbox cluster and say what happened.

    1. a bad hotfix: validate, canary (FAIL, rolled back, with the reasons), production untouched;
    2. a good hotfix: validate, canary (PASS), promote, tag and merge back.
    It starts the sandbox cluster, one sample app per track with real traffic, Prometheus when installed, and a
    local git origin; everything stops at the end.
    """
    from hotfix_actions.sandbox.stack import LocalStack, StackSettings
    from hotfix_actions.services import demo

    keep = workdir is not None
    root = Path(workdir).resolve() if workdir else Path(tempfile.mkdtemp(prefix="hotfix-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    say = edge.reporter.info
    edge.reporter.step("starting the local stack: sandbox cluster, sample apps, Prometheus")
    try:
        with LocalStack.start(root / "stack", StackSettings(prometheus=prometheus)) as stack:
            url = stack.sandbox.url if stack.sandbox else "?"
            edge.reporter.info(f"cluster    {url} (KUBECONFIG={stack.kubeconfig_path})")
            edge.reporter.info(f"prometheus {stack.prometheus_url or 'not installed: apt-get install prometheus'}")
            if not stack.prometheus_url:
                from hotfix_actions.errors import UsageError

                raise UsageError(
                    "the demo's canary gate reads Prometheus, which is not installed",
                    input_name="prometheus",
                    fix="apt-get install prometheus (scripts/demo does)",
                )
            outcome, result = demo.run(
                root, base_env=edge.env, stack_env=stack.env(), prometheus_url=stack.prometheus_url, say=say
            )
            say("")
            say(f"The bad hotfix was caught and its canary rolled back in {result.detect_and_rollback_seconds:.1f}s;")
            say("the good one passed, was promoted to every replica, tagged v1.4.3 and merged back.")
            if keep:
                say(f"Look next: git -C {root}/shop log --oneline --graph --all")
                say(f"           KUBECONFIG={stack.kubeconfig_path} kubectl -n shop rollout history deployment/shop")
            say("Then: README.md, 'Five minutes to a real repository'.")
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return outcome
