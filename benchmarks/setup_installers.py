"""The actions' set-up: pip against uv on the same locked set, and scripts/action-setup.sh itself, cold and warm.

    .venv/bin/python benchmarks/setup_installers.py [--trials 3]

Same lock (requirements/action.lock, --require-hashes, --no-deps), a fresh virtual environment and an empty cache
for every trial:
  pip cold   python -m venv + pip install from the index (pip's own way: it also compiles bytecode)
  pip warm   the same, from a local wheelhouse (--no-index --find-links)
  uv cold    uv venv + uv pip install from the index
  uv warm    the same, from the local wheelhouse
Then the code path the actions run, scripts/action-setup.sh, on an emulated runner (RUNNER_TEMP, RUNNER_TOOL_CACHE):
  cold       an empty tool cache: every wheel (and uv) from the index, kept for later jobs
  warm       a later job: the wheels from the tool cache, checked, no index
  reused     a later action of the same job: the manifest check only
Medians in ms, as a Markdown table; the load average is printed because the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "action.lock"
SETUP = ROOT / "scripts" / "action-setup.sh"
PY = sys.executable


def _timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env)
    return (time.perf_counter() - start) * 1000


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(PY).parent))
    if not found:
        raise SystemExit("uv is not installed: pip install -e '.[dev]'")
    return found


def installers(trials: int, wheelhouse: Path) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"pip cold": [], "pip warm": [], "uv cold": [], "uv warm": []}
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_FIND_LINKS", "UV_"))}
    for _ in range(trials):
        for kind, values in results.items():
            with tempfile.TemporaryDirectory() as tmp:
                venv, cache = Path(tmp) / "venv", Path(tmp) / "cache"
                source = ["--no-index", "--find-links", str(wheelhouse)] if kind.endswith("warm") else []
                if kind.startswith("pip"):
                    start = time.perf_counter()
                    subprocess.run([PY, "-m", "venv", str(venv)], check=True, capture_output=True)
                    subprocess.run(
                        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                         "--cache-dir", str(cache), "--require-hashes", "--no-deps", "--only-binary=:all:",
                         *source, "-r", str(LOCK)],
                        check=True, capture_output=True, env=env,
                    )  # fmt: skip
                    values.append((time.perf_counter() - start) * 1000)
                else:
                    start = time.perf_counter()
                    subprocess.run([uv, "venv", "-q", "--python", PY, str(venv)], check=True, capture_output=True)
                    subprocess.run(
                        [uv, "pip", "install", "-q", "--no-config", "--python", str(venv / "bin" / "python"),
                         "--cache-dir", str(cache), "--require-hashes", "--no-deps", "--only-binary", ":all:",
                         *source, "-r", str(LOCK)],
                        check=True, capture_output=True, env=env,
                    )  # fmt: skip
                    values.append((time.perf_counter() - start) * 1000)
    return results


def setup_script(trials: int) -> tuple[dict[str, list[float]], Path]:
    results: dict[str, list[float]] = {
        "action-setup.sh cold": [],
        "action-setup.sh warm": [],
        "action-setup.sh reused": [],
    }
    keep = Path(tempfile.mkdtemp(prefix="setup-bench-wheels-"))
    for trial in range(trials):
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            tool_cache = base / "tool-cache"
            base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HOTFIX_", "RUNNER_"))}
            for kind in ("cold", "warm"):
                job = base / kind
                (job / "temp").mkdir(parents=True)
                env = {**base_env, "RUNNER_TEMP": str(job / "temp"), "RUNNER_TOOL_CACHE": str(tool_cache),
                       "GITHUB_ENV": str(job / "env"), "GITHUB_PATH": str(job / "path"), "HOTFIX_PYTHON": PY}  # fmt: skip
                results[f"action-setup.sh {kind}"].append(_timed(["bash", str(SETUP)], env))
                if kind == "warm":
                    exported = dict(ln.split("=", 1) for ln in (job / "env").read_text().splitlines() if "=" in ln)
                    results["action-setup.sh reused"].append(_timed(["bash", str(SETUP)], {**env, **exported}))
            if trial == 0:
                shutil.copytree(tool_cache / "hotfix-actions" / "wheelhouse", keep, dirs_exist_ok=True)
    return results, keep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores)")
    script, wheelhouse = setup_script(args.trials)
    raw = installers(args.trials, wheelhouse)
    shutil.rmtree(wheelhouse, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print("\n| what | median ms | trials |\n|---|---|---|")
    for name, values in {**raw, **script}.items():
        print(f"| {name} | {statistics.median(values):.0f} | {', '.join(f'{v:.0f}' for v in values)} |")
    print(
        f"\npip/uv cold: {statistics.median(raw['pip cold']) / statistics.median(raw['uv cold']):.1f}x, "
        f"warm: {statistics.median(raw['pip warm']) / statistics.median(raw['uv warm']):.1f}x"
    )


if __name__ == "__main__":
    main()
