"""Pipeline lead time under act, and the share of it spent setting the package up, before and after a change.

    .venv/bin/python benchmarks/pipeline_lead_time.py [--setup-from REV] [--runner cold|warm] [--hotfix good|bad]...

The e2e rig of tests/e2e (sample repository, examples/workflows/hotfix.yml -> .github/workflows/hotfix.yml, the
sandbox cluster, real Prometheus, the GitHub emulator) run by act in self-hosted mode, one run at a time:
  good hotfix  push -> validate -> tests -> build -> production (snapshot, canary, promote) -> tag, release, merge
               back -> notify.  Lead time = from the first job's start to the end of the tag job ("to tag").
  bad hotfix   the canary fails -> rollback -> notify, post-mortem.  Lead time = to the end of the rollback job.
  --runner cold  an empty runner tool cache (a new self-hosted runner; every hosted job is like this)
  --runner warm  the tool cache as an earlier pipeline left it
  --tree REV        the action's files as committed at REV (default HEAD; work in progress never leaks in)
  --setup-from REV  but scripts/action-setup.sh as it was at REV (e.g. the commit before the change)
Set-up figures come from the line each set-up prints ("hotfix-actions 1.0.0 (<how>, <N> ms..."): one per action.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.e2e.actkit import act_argv  # noqa: E402
from tests.e2e.pipeline import STANDINS, make_project  # noqa: E402
from tests.github_emulator.fixtures import REPOSITORY, TOKEN  # noqa: E402

from hotfix_actions.sandbox.stack import Behaviour, LocalStack  # noqa: E402
from hotfix_actions.testing.github_emulator import GitHubEmulator  # noqa: E402

SETUP_LINE = re.compile(r"hotfix-actions \S+ \((\w+), (\d+) ms")
IMAGE = "ghcr.io/acme/shop"
END_JOB = {"good": "tag, release, merge back", "bad": "rollback production"}


def _git_identity(tmp: Path) -> None:
    config = tmp / "gitconfig"
    config.write_text('[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n')
    os.environ.update(
        {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "Bench",
         "GIT_COMMITTER_EMAIL": "bench@example.com", "GIT_CONFIG_GLOBAL": str(config), "GIT_CONFIG_NOSYSTEM": "1"}
    )  # fmt: skip
    for name in ("GITHUB_ACTIONS", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "HOTFIX_CONFIG", "HOTFIX_BRANCH"):
        os.environ.pop(name, None)


def _tree(tmp: Path, tree_rev: str, setup_rev: str | None) -> Path:
    """The action as a caller's `uses:` would download it: the files of commit `tree_rev` (committed work only, so
    changes in progress in the work tree do not leak into the figures), with the set-up script of `setup_rev`."""
    tree = tmp / "action-tree"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", tree_rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    if setup_rev:
        old = subprocess.run(
            ["git", "show", f"{setup_rev}:scripts/action-setup.sh"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        (tree / "scripts" / "action-setup.sh").write_text(old)
    return tree


def _warm(tree: Path, cache: Path, tmp: Path) -> None:
    """What an earlier pipeline leaves in the runner's tool cache: one set-up with that tool cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    env |= {"RUNNER_TOOL_CACHE": str(cache / "tool_cache"), "RUNNER_TEMP": str(tmp / "warm-temp")}
    env["HOTFIX_PYTHON"] = sys.executable
    (tmp / "warm-temp").mkdir()
    subprocess.run(["bash", str(tree / "scripts" / "action-setup.sh")], env=env, check=True, capture_output=True)


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", text).replace("Z", "+00:00"))


@dataclasses.dataclass
class Measured:
    code: int
    wall: float
    lead: float
    jobs: dict[str, float]
    setups: list[tuple[str, str, int]]  # (job, how, ms)


def run_once(hotfix: str, runner: str, tree_rev: str, rev: str | None, timeout: float) -> Measured:
    with tempfile.TemporaryDirectory(prefix="lead-time-") as tmpname:
        tmp = Path(tmpname)
        _git_identity(tmp)
        tree = _tree(tmp, tree_rev, rev)
        cache = tmp / "act-cache"
        cache.mkdir()
        if runner == "warm":
            _warm(tree, cache, tmp)
        emulator = GitHubEmulator(tokens={TOKEN})
        emulator.start()
        try:
            with LocalStack.start(tmp / "stack") as stack:
                subprocess.run(
                    [sys.executable, "-m", "hotfix_actions", "promote", "-d", "shop", "--image", f"{IMAGE}:1.4.2",
                     "--version", "1.4.2"],
                    env={**os.environ, **stack.env()}, check=True, capture_output=True,
                )  # fmt: skip
                project = make_project(tmp, emulator, stack)
                if hotfix == "bad":
                    sha = project.checkout.head()
                    stack.settings = dataclasses.replace(
                        stack.settings, behaviours=(Behaviour(sha, error_rate=0.2), *stack.settings.behaviours)
                    )
                kubeconfig = base64.b64encode(Path(stack.kubeconfig_path).read_bytes()).decode()
                argv = act_argv(
                    event="push", workflow=".github/workflows/hotfix.yml", action_tree=tree, tool_cache=cache,
                    json_log=True, local_repositories=STANDINS,
                    env={"HOTFIX_E2E_ARTIFACTS": str(tmp / "artifacts"), "GITHUB_SERVER_URL": emulator.url,
                         "GITHUB_API_URL": emulator.api_url, "GITHUB_REPOSITORY": REPOSITORY,
                         "HOTFIX_GITHUB_WRITE_INTERVAL": "0"},
                    variables={"HOTFIX_GITHUB_API_URL": emulator.api_url},
                    secrets={"GITHUB_TOKEN": TOKEN, "PRODUCTION_KUBECONFIG_B64": kubeconfig},
                )  # fmt: skip
                env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
                start = time.perf_counter()
                proc = subprocess.run(
                    argv, cwd=project.checkout.path, env=env, capture_output=True, text=True, timeout=timeout,
                    check=False,
                )  # fmt: skip
                wall = time.perf_counter() - start
        finally:
            emulator.stop()
        return _measure(proc.returncode, proc.stdout + proc.stderr, wall, END_JOB[hotfix], tmp)


def _measure(code: int, raw: str, wall: float, end_job: str, tmp: Path) -> Measured:
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    setups: list[tuple[str, str, int]] = []
    for line in raw.splitlines():
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            continue
        job = str(doc.get("job", "")).strip().rsplit("/", 1)[-1]
        if not job or not doc.get("time"):
            continue
        when = _stamp(str(doc["time"]))
        first.setdefault(job, when)
        last[job] = when
        found = SETUP_LINE.search(str(doc.get("msg", "")))
        if found:
            setups.append((job, found[1], int(found[2])))
    log = tmp.parent / f"lead-time-{end_job.split(' ', maxsplit=1)[0]}.log"
    log.write_text(raw)
    if code != 0 and end_job == END_JOB["good"]:
        print(f"act exited {code}; log in {log}", file=sys.stderr)
    begin = min(first.values()) if first else None
    lead = (last[end_job] - begin).total_seconds() if begin and end_job in last else float("nan")
    jobs = {job: (last[job] - first[job]).total_seconds() for job in first}
    return Measured(code, wall, lead, jobs, setups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--setup-from", default=None, help="git revision of scripts/action-setup.sh (default: now)")
    parser.add_argument("--runner", choices=["cold", "warm"], action="append")
    parser.add_argument("--hotfix", choices=["good", "bad"], action="append")
    parser.add_argument("--tree", default="HEAD", help="git revision of the action's files (default: HEAD)")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    label = f"tree {args.tree}, set-up from {args.setup_from or args.tree}"
    print(f"| {label} | act exit | lead time s | act wall s | set-up s (share) | set-ups: job how ms | load |")
    print("|---|---|---|---|---|---|---|")
    for hotfix in args.hotfix or ["good", "bad"]:
        for runner in args.runner or ["cold", "warm"]:
            load = os.getloadavg()[0]
            got = run_once(hotfix, runner, args.tree, args.setup_from, args.timeout)
            total = sum(ms for _, _, ms in got.setups) / 1000
            detail = "; ".join(f"{job.split(' ')[0]} {how} {ms}" for job, how, ms in got.setups)
            print(
                f"| {hotfix} hotfix, {runner} runner | {got.code} | {got.lead:.1f} | {got.wall:.1f} | "
                f"{total:.1f} ({total / got.lead:.0%}) | {detail} | {load:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
