"""`hotfix sandbox up|down|status`: the local simulated cluster as a background process."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from hotfix_actions.commands._common import Edge, hotfix_command
from hotfix_actions.commands._duration import DurationParam
from hotfix_actions.decide.durations import Bounds
from hotfix_actions.decide.verdict import Verdict
from hotfix_actions.errors import UsageError
from hotfix_actions.report import Outcome

if TYPE_CHECKING:
    from hotfix_actions.sandbox.daemon import ServerInfo

__all__ = ["command"]

_STATE_DIR = click.option(
    "--state-dir",
    envvar="HOTFIX_SANDBOX_DIR",
    default=".hotfix-sandbox",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where the kubeconfig, snapshot, log and pid file live. Env: HOTFIX_SANDBOX_DIR.",
)


@click.group("sandbox")
def command() -> None:
    """Run the local simulated Kubernetes cluster (kubectl works against it)."""


@hotfix_command("up", label="sandbox up")
@_STATE_DIR
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="0 picks a free port.")
@click.option(
    "--ready-delay",
    type=DurationParam(Bounds(maximum=3600)),
    default="1s",
    show_default=True,
    help="How long a new pod takes to become Ready, e.g. 1s or 500ms.",
)
@click.option(
    "--crash-images",
    default=r"(:bad|:crash)",
    show_default=True,
    help="Regex: images whose pods crash-loop and never become Ready ('' for none).",
)
@click.option(
    "--manifest",
    "manifests",
    multiple=True,
    type=click.Path(dir_okay=False, exists=True),
    help="YAML file of objects to load at start (repeatable).",
)
def up(
    *, edge: Edge, state_dir: str, port: int, ready_delay: float, crash_images: str, manifests: tuple[str, ...]
) -> Outcome:
    """Start the sandbox in the background; print its kubeconfig. Says so if it is already up."""
    from hotfix_actions.sandbox import daemon

    try:
        re.compile(crash_images)
    except re.error as exc:
        raise UsageError(
            f"not a regular expression: {exc}",
            input_name="--crash-images",
            fix="pass a Python regex such as '(:bad|:crash)', or '' for none",
        ) from exc
    state = Path(state_dir).resolve()
    running = daemon.read_info(state)
    if running is not None and daemon.health(running.url) is not None:
        edge.reporter.step(f"sandbox already up at {running.url} (pid {running.pid})")
        return _outcome("sandbox up", running, f"already up at {running.url} (pid {running.pid})", edge)
    edge.reporter.step(f"starting the sandbox API server (state in {state})")
    info = daemon.start_detached(
        state, port=port, ready_delay=ready_delay, crash_images=crash_images, manifests=[Path(m) for m in manifests]
    )
    return _outcome("sandbox up", info, f"up at {info.url} (pid {info.pid})", edge)


def _outcome(name: str, info: ServerInfo, reason: str, edge: Edge) -> Outcome:
    edge.reporter.info(f"kubeconfig: {info.kubeconfig}")
    edge.reporter.info(f"export KUBECONFIG={info.kubeconfig}")
    return Outcome(
        command=name,
        verdict=Verdict.PASS,
        reasons=[reason],
        outputs={
            "url": info.url,
            "kubeconfig": info.kubeconfig,
            "pid": str(info.pid),
            "state_dir": str(info.state_dir),
        },
        title=name,
    )


@hotfix_command("down", label="sandbox down")
@_STATE_DIR
def down(*, edge: Edge, state_dir: str) -> Outcome:
    """Stop the sandbox and save its snapshot. Says so if it is not running."""
    from hotfix_actions.sandbox import daemon

    state = Path(state_dir).resolve()
    edge.reporter.step(f"stopping the sandbox (state in {state})")
    info = daemon.stop(state)
    if info is None:
        return Outcome(
            command="sandbox down", verdict=Verdict.PASS, reasons=["the sandbox is not running"], title="sandbox down"
        )
    return Outcome(
        command="sandbox down",
        verdict=Verdict.PASS,
        reasons=[f"stopped pid {info.pid}; snapshot saved in {state / 'snapshot.json'}"],
        outputs={"pid": str(info.pid), "snapshot": str(state / "snapshot.json")},
        title="sandbox down",
    )


@hotfix_command("status", label="sandbox status")
@_STATE_DIR
def status(*, edge: Edge, state_dir: str) -> Outcome:
    """Is the sandbox up? Its pid, URL, kubeconfig and object counts."""
    from hotfix_actions.sandbox import daemon

    state = Path(state_dir).resolve()
    info = daemon.read_info(state)
    found = daemon.health(info.url) if info is not None else None
    if info is None or found is None:
        edge.reporter.step("the sandbox is not running")
        return Outcome(
            command="sandbox status",
            verdict=Verdict.PASS,
            reasons=["the sandbox is not running"],
            outputs={"running": "false"},
            title="sandbox status",
        )
    objects = found.get("objects") or {}
    counts = ", ".join(f"{n} {kind}" for kind, n in sorted(objects.items())) or "no objects"
    edge.reporter.step(f"sandbox up at {info.url} (pid {info.pid}): {counts}")
    outcome = _outcome("sandbox status", info, f"up at {info.url} (pid {info.pid}): {counts}", edge)
    return Outcome(
        command=outcome.command,
        verdict=outcome.verdict,
        reasons=outcome.reasons,
        outputs={**outcome.outputs, "running": "true", "objects": counts},
        title=outcome.title,
    )


command.add_command(up)
command.add_command(down)
command.add_command(status)
