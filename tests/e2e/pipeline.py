"""The end-to-end rig: a sample repository whose workflows are the ones in examples/, run by act against the local
stack (sandbox cluster, sample apps, real Prometheus), a git origin served by the GitHub API emulator."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from hotfix_actions.sandbox.stack import LocalStack
from hotfix_actions.testing.github_emulator import GitHubEmulator
from tests.e2e.actkit import ROOT, act_argv, act_process
from tests.github_emulator.fixtures import REPOSITORY, TOKEN
from tests.gitrepos import Repo, git

HERE = Path(__file__).resolve().parent
STANDINS = {
    "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02": HERE / "standins" / "upload-artifact",
    "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093": HERE / "standins" / "download-artifact",
}
TESTS_SCRIPT = (
    "#!/usr/bin/env bash\nset -euo pipefail\n"
    "python3 -c \"import ast, sys; ast.parse(open('src/auth.py').read())\"\necho 'expedited tests: ok'\n"
)


@dataclass
class Project:
    origin: Path
    work: Repo
    checkout: Repo  # a clone whose origin is the emulator's git URL: what actions/checkout would give


@dataclass
class ActResult:
    returncode: int
    output: str
    jobs: dict[str, float] = field(default_factory=dict)  # job name -> wall seconds
    steps: list[tuple[str, str, float]] = field(default_factory=list)  # (job, step, seconds)


def make_project(tmp: Path, emulator: GitHubEmulator, stack: LocalStack) -> Project:
    origin = tmp / "origin.git"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(origin))
    work = Repo(tmp / "work")
    git(tmp, "clone", "-q", str(origin), str(work.path))
    prometheus = stack.prometheus_url
    work.write(
        {
            "package.json": '{\n  "name": "shop",\n  "version": "1.4.2"\n}\n',
            "src/auth.py": "def login(user, password):\n    return user.check(password)\n",
            "scripts/expedited-tests.sh": TESTS_SCRIPT,
            ".github/workflows/hotfix.yml": (ROOT / "examples" / "workflows" / "hotfix.yml").read_text(),
            ".github/workflows/rollback.yml": (ROOT / "examples" / "workflows" / "rollback.yml").read_text()
            if (ROOT / "examples" / "workflows" / "rollback.yml").exists()
            else "",
            ".hotfix.yml": (
                "version: 1\ncluster:\n  namespace: shop\ncanary:\n"
                f"  prometheus_url: {prometheus}\n  interval: 1s\n  duration: 90s\n  min_requests: 100\n  scrape_interval: 1s\n"
            ),
        }
    )
    (work.path / "scripts" / "expedited-tests.sh").chmod(0o755)
    if not (work.path / ".github" / "workflows" / "rollback.yml").read_text():
        (work.path / ".github" / "workflows" / "rollback.yml").unlink()
    work.git("add", "-A")
    work.git("commit", "-qm", "feat: shop 1.4.2")
    work.git("tag", "-a", "v1.4.2", "-m", "release v1.4.2")
    work.git("branch", "develop")
    work.git("push", "-q", "origin", "main", "develop", "--tags")
    work.git("switch", "-q", "-c", "hotfix/v1.4.3-login-crash")
    body = "    if not password:\n        return False\n"
    work.write(
        {
            "package.json": '{\n  "name": "shop",\n  "version": "1.4.3"\n}\n',
            "src/auth.py": f"def login(user, password):\n{body}    return user.check(password)\n",
        }
    )
    work.git("commit", "-qam", "fix(auth): handle empty passwords\n\nSeverity: critical\nFixes: INC-1234")
    work.git("push", "-q", "origin", "hotfix/v1.4.3-login-crash")
    emulator.add_repo(REPOSITORY, git_dir=origin)
    checkout = Repo(tmp / "checkout")
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--branch",
            "hotfix/v1.4.3-login-crash",
            emulator.git_url(REPOSITORY),
            str(checkout.path),
        ],
        env={**os.environ, **git_auth(emulator)},
        check=True,
        capture_output=True,
    )
    return Project(origin, work, checkout)


def git_auth(emulator: GitHubEmulator) -> dict[str, str]:
    header = "AUTHORIZATION: basic " + base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode()
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{emulator.url}/.extraheader",
        "GIT_CONFIG_VALUE_0": header,
    }


def run_workflow(
    project: Project,
    *,
    workflow: str,
    event: str,
    action_tree: Path,
    tool_cache: Path,
    artifacts: Path,
    stack: LocalStack,
    emulator: GitHubEmulator,
    inputs: dict[str, str] | None = None,
    timeout: float = 270,
) -> ActResult:
    """Run one workflow under act (``actkit.act_process``: a hung run is killed at ``timeout`` and its log returned)."""
    kubeconfig_b64 = base64.b64encode(Path(stack.kubeconfig_path).read_bytes()).decode()
    event_path = None
    if event == "workflow_dispatch":
        event_path = project.checkout.path.parent / "dispatch-event.json"
        event_path.write_text(json.dumps({"inputs": inputs or {}, "ref": "refs/heads/main"}))
    argv = act_argv(
        event=event,
        workflow=workflow,
        action_tree=action_tree,
        tool_cache=tool_cache,
        json_log=True,
        env={
            "HOTFIX_E2E_ARTIFACTS": str(artifacts),
            "GITHUB_SERVER_URL": emulator.url,
            "GITHUB_API_URL": emulator.api_url,
            "GITHUB_REPOSITORY": REPOSITORY,
            "HOTFIX_GITHUB_WRITE_INTERVAL": "0",
        },
        variables={"HOTFIX_GITHUB_API_URL": emulator.api_url},
        secrets={"GITHUB_TOKEN": TOKEN, "PRODUCTION_KUBECONFIG_B64": kubeconfig_b64},
        inputs=inputs if event == "workflow_dispatch" else None,
        event_path=event_path,
        local_repositories=STANDINS,
    )
    code, raw = act_process(argv, project.checkout.path, timeout)
    return _parse(code, raw)


def _parse(code: int, raw: str) -> ActResult:
    """act --json: one JSON object per line with time, job and stage; turn it into readable text and timings."""
    lines: list[str] = []
    first: dict[str, datetime] = {}
    last: dict[str, datetime] = {}
    step_start: dict[tuple[str, str], datetime] = {}
    steps: list[tuple[str, str, float]] = []
    for line in raw.splitlines():
        try:
            doc = json.loads(line)
        except json.JSONDecodeError:
            lines.append(line)
            continue
        job = str(doc.get("job", "")).strip().rsplit("/", 1)[-1]
        msg = str(doc.get("msg", "")).rstrip()
        lines.append(f"[{job}] {msg}")
        stamp = doc.get("time")
        if not job or not stamp:
            continue
        when = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", stamp).replace("Z", "+00:00"))
        first.setdefault(job, when)
        last[job] = when
        step = str(doc.get("step", ""))
        if step and doc.get("stage") == "Main":
            step_start.setdefault((job, step), when)
            if "stepResult" in doc:
                steps.append((job, step, (when - step_start[(job, step)]).total_seconds()))
    jobs = {job: (last[job] - first[job]).total_seconds() for job in first}
    return ActResult(code, "\n".join(lines), jobs, steps)


def export_tree_fresh(dest: Path) -> Path:
    from tests.e2e.actkit import export_tree

    if dest.exists():
        shutil.rmtree(dest)
    return export_tree(dest)
