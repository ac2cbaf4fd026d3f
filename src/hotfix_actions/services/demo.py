"""`hotfix demo`: the whole pipeline twice on a local stack, narrated: a bad hotfix, then a good one.

Everything is real except the cluster (the sandbox API server that the real kubectl accepts): a git origin, the
`hotfix` commands as a user runs them, sample apps per track with real HTTP traffic, and Prometheus when installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hotfix_actions.decide.verdict import Status, Verdict
from hotfix_actions.errors import InfraError
from hotfix_actions.report import Outcome, Row, md_table

__all__ = ["DemoResult", "Step", "make_repository", "run", "run_hotfix"]

REGISTRY = "ghcr.io/acme/shop"
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Demo Developer",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Demo Developer",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


@dataclass
class Step:
    name: str
    command: str
    code: int
    seconds: float
    outputs: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


@dataclass
class DemoResult:
    steps: list[Step] = field(default_factory=list)
    detect_and_rollback_seconds: float | None = None


def _git(cwd: Path, *args: str, env: Mapping[str, str]) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, env=dict(env), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InfraError(f"git {args[0]} failed in the demo repository: {proc.stderr.strip()}")
    return proc.stdout.strip()


def make_repository(root: Path, env: Mapping[str, str], *, prometheus_url: str | None) -> tuple[Path, Path]:
    """A bare origin and a clone of "shop" at release v1.4.2, with main, develop and a .hotfix.yml."""
    origin, work = root / "origin.git", root / "shop"
    _git(root, "init", "-q", "--bare", "-b", "main", str(origin), env=env)
    _git(root, "clone", "-q", str(origin), str(work), env=env)
    (work / "src").mkdir(parents=True, exist_ok=True)
    (work / "package.json").write_text('{\n  "name": "shop",\n  "version": "1.4.2"\n}\n', encoding="utf-8")
    (work / "src" / "auth.py").write_text("def login(user, password):\n    return user.check(password)\n")
    canary = [
        "canary:",
        "  interval: 2s",
        "  duration: 90s",
        "  min_requests: 150",
        "  scrape_interval: 1s",
    ]
    if prometheus_url:
        canary.append(f"  prometheus_url: {prometheus_url}")
    (work / ".hotfix.yml").write_text(
        "\n".join(["version: 1", "cluster:", "  namespace: shop", *canary, ""]), encoding="utf-8"
    )
    _git(work, "add", "-A", env=env)
    _git(work, "commit", "-qm", "feat: shop 1.4.2", env=env)
    _git(work, "tag", "-a", "v1.4.2", "-m", "release v1.4.2", env=env)
    _git(work, "branch", "develop", env=env)
    _git(work, "push", "-q", "origin", "main", "develop", "--tags", env=env)
    return origin, work


def run_hotfix(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], say: Callable[[str], None]
) -> tuple[int, dict[str, object], float]:
    """Run one `hotfix` command as a user would, show its lines indented, return (exit code, JSON result, seconds)."""
    argv = [sys.executable, "-m", "hotfix_actions", *args, "--json"]
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        say("    " + line.rstrip())
    out = proc.stdout.read()
    code = proc.wait()
    seconds = time.monotonic() - start
    try:
        doc = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    except json.JSONDecodeError:
        doc = {}
    return code, doc, seconds


def run(
    workdir: Path,
    *,
    base_env: Mapping[str, str],
    stack_env: Mapping[str, str],
    prometheus_url: str | None,
    say: Callable[[str], None],
) -> tuple[Outcome, DemoResult]:
    env = {**base_env, **GIT_IDENTITY, **stack_env}
    env.pop("GITHUB_ACTIONS", None)
    result = DemoResult()
    _, repo = make_repository(workdir, env, prometheus_url=prometheus_url)

    def step(title: str, args: Sequence[str], *, expect: int = 0) -> Step:
        # one line per call: the reporter escapes a newline inside a line
        for line in ("", f"== {title}", f"   $ hotfix {' '.join(args)}"):
            say(line)
        code, doc, seconds = run_hotfix(args, cwd=repo, env=env, say=say)
        outputs = {str(k): str(v) for k, v in dict(doc.get("outputs") or {}).items()}  # type: ignore[call-overload]
        reasons = [str(r) for r in list(doc.get("reasons") or [])]  # type: ignore[call-overload]
        record = Step(title, "hotfix " + " ".join(args), code, seconds, outputs, reasons)
        result.steps.append(record)
        verdict = doc.get("verdict", "?")
        say(f"   -> exit {code} ({verdict}) in {seconds:.1f}s" + ("" if code == expect else f", expected {expect}"))
        if code != expect:
            raise InfraError(f"demo step '{title}' exited {code}, expected {expect}: " + "; ".join(reasons))
        return record

    step(
        "Record 1.4.2 as last-known-good",
        ["promote", "-d", "shop", "--image", f"{REGISTRY}:1.4.2", "--version", "1.4.2"],
    )
    step(
        "Cut the hotfix branch",
        ["start", "login-crash", "--severity", "critical", "--fixes", "INC-1234", "--push"],
    )
    (repo / "src" / "auth.py").write_text(
        "def login(user, password):\n    if not password:\n        raise ValueError('empty password')\n"
        "    return user.check(password)\n"
    )
    _git(
        repo,
        "commit",
        "-qam",
        "fix(auth): stop crashing on empty passwords",
        "--trailer",
        "Severity: critical",
        "--trailer",
        "Fixes: INC-1234",
        env=env,
    )
    _git(repo, "push", "-q", "origin", "HEAD", env=env)
    step("Validate", ["validate"])
    started = time.monotonic()
    say("")
    say("   1.4.3-rc1 raises on every empty password: about 15% of its requests fail.")
    bad = step(
        "Canary 1.4.3-rc1 (bad)",
        ["canary", "-d", "shop", "--image", f"{REGISTRY}:1.4.3-rc1"],
        expect=1,
    )
    result.detect_and_rollback_seconds = time.monotonic() - started
    say("   The gate rolled the canary back; production never saw 1.4.3-rc1. Why:")
    for reason in bad.reasons:
        say(f"     - {reason}")
    step("Production untouched", ["status", "-d", "shop"])

    (repo / "src" / "auth.py").write_text(
        "def login(user, password):\n    if not password:\n        return False\n    return user.check(password)\n"
    )
    _git(
        repo,
        "commit",
        "-qam",
        "fix(auth): reject empty passwords instead of raising",
        "--trailer",
        "Severity: critical",
        "--trailer",
        "Fixes: INC-1234",
        env=env,
    )
    _git(repo, "push", "-q", "origin", "HEAD", env=env)
    step("Validate again", ["validate"])
    step("Canary 1.4.3 (good)", ["canary", "-d", "shop", "--image", f"{REGISTRY}:1.4.3"])
    step(
        "Promote 1.4.3",
        ["promote", "-d", "shop", "--image", f"{REGISTRY}:1.4.3", "--version", "1.4.3"],
    )
    step("Tag and merge back", ["merge-back", "--version", "1.4.3"])
    return _outcome(result, workdir), result


def _outcome(result: DemoResult, workdir: Path) -> Outcome:
    rows = [Row(s.name, Status.PASS, f"exit {s.code} in {s.seconds:.1f}s: {s.command}") for s in result.steps]
    detect = result.detect_and_rollback_seconds
    reasons = [
        f"bad hotfix: canary FAIL and rollback in {detect:.1f}s" if detect is not None else "bad hotfix: not run",
        "good hotfix: PASS, promoted, tagged v1.4.3, merged back",
        f"look next: {workdir}/shop (git log --graph --all), KUBECONFIG={workdir}/kubeconfig kubectl -n shop "
        "rollout history deployment/shop, hotfix status -d shop",
    ]
    markdown = md_table(
        ["step", "command", "exit", "seconds"],
        [[s.name, f"`{s.command}`", str(s.code), f"{s.seconds:.1f}"] for s in result.steps],
    )
    return Outcome(
        command="demo",
        verdict=Verdict.PASS,
        reasons=reasons,
        rows=rows,
        outputs={"detect-and-rollback-seconds": f"{detect:.2f}" if detect is not None else ""},
        title="hotfix demo",
        markdown=markdown,
    )
