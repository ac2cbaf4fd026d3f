"""`hotfix validate` on a large repository against the raw git commands it needs, and CLI start-up time.

    .venv/bin/python benchmarks/validate_large_repo.py [--commits 50000] [--files 20000] [--runs 7]

Builds (once, cached under benchmarks/.cache) a repository with --commits commits and --files files through
`git fast-import`, a release tag on main and a hotfix branch, then times (median of --runs):
  * `hotfix validate` (full clone, local remote),
  * the raw git it replaces: fetch main, merge-base --is-ancestor, for-each-ref --merged, diff --numstat, log,
  * `hotfix --help` against `python -c pass` and `kubectl version --client`.
Prints a table with ratios. Targets: validate <= 1.5x raw git; `hotfix --help` <= 120 ms median.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, input=stdin, capture_output=True, check=True
    ).stdout.decode()


def build(root: Path, commits: int, files: int) -> Path:
    marker = root / f"ready-{commits}-{files}"
    work = root / "work"
    if marker.exists():
        return work
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    origin = root / "origin.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "init", "-q", "-b", "main", str(work))
    stream = bytearray()
    t = 1_700_000_000

    def blob_cmd(path: str, text: str) -> None:
        data = text.encode()
        stream.extend(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")

    for i in range(commits):
        msg = b"feat: initial import\n" if i == 0 else f"fix: change {i}\n".encode()
        stream.extend(f"commit refs/heads/main\nmark :{i + 1}\ncommitter bench <b@e.com> {t + i} +0000\n".encode())
        stream.extend(f"data {len(msg)}\n".encode() + msg)
        if i:
            stream.extend(f"from :{i}\n".encode())
        if i == 0:
            blob_cmd("package.json", '{\n  "name": "big",\n  "version": "3.7.0"\n}\n')
            for f in range(files):
                blob_cmd(f"pkg{f % 200:03d}/mod{f:05d}.py", f"value = {f}\n")
        else:
            f = (i * 7919) % files
            blob_cmd(f"pkg{f % 200:03d}/mod{f:05d}.py", f"value = {f}\nrev = {i}\n")
    stream.extend(b"done\n")
    git(work, "fast-import", "--quiet", "--done", stdin=bytes(stream))
    git(work, "reset", "-q", "--hard", "main")
    git(work, "tag", "-a", "v3.7.0", "-m", "release 3.7.0", "main~10")
    git(work, "remote", "add", "origin", str(origin))
    git(work, "push", "-q", "origin", "main", "--tags")
    git(work, "switch", "-q", "-c", "hotfix/v3.7.1-fix-totals", "main")
    (work / "package.json").write_text('{\n  "name": "big",\n  "version": "3.7.1"\n}\n')
    (work / "pkg001" / "mod00001.py").write_text("value = 1\nfixed = True\n")
    git(work, "commit", "-qam", "fix: totals rounding\n\nSeverity: high\nFixes: INC-9")
    git(work, "push", "-q", "origin", "hotfix/v3.7.1-fix-totals")
    git(work, "gc", "-q")
    marker.touch()
    return work


def timed(argv: list[str], cwd: Path, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
    return samples


def raw_git(cwd: Path, runs: int) -> list[float]:
    """What validate needs, as plain git commands: fetch production, ancestry, tags, diff, log."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        git(cwd, "fetch", "-q", "--no-tags", "origin", "+refs/heads/main:refs/remotes/origin/main")
        prod = git(cwd, "rev-parse", "refs/remotes/origin/main").strip()
        head = git(cwd, "rev-parse", "HEAD").strip()
        subprocess.run(["git", "merge-base", "--is-ancestor", prod, head], cwd=cwd, env=ENV, check=True)
        git(cwd, "for-each-ref", f"--merged={prod}", "refs/tags/v*")
        git(cwd, "fetch", "-q", "--no-tags", "origin", "+refs/tags/v*:refs/bench-remote-tags/v*")
        git(cwd, "for-each-ref", f"--merged={prod}", "refs/bench-remote-tags/v*")
        git(cwd, "diff", "--numstat", "-z", f"{prod}...{head}")
        git(cwd, "log", "--format=%H%x1f%P%x1f%s%x1f%(trailers:key=Severity)%x1e", f"{prod}..{head}")
        git(cwd, "show", f"{head}:package.json")
        samples.append(time.perf_counter() - start)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=50_000)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    t0 = time.perf_counter()
    work = build(HERE / ".cache" / "large-repo", args.commits, args.files)
    count = git(work, "rev-list", "--count", "main").strip()
    nfiles = len(git(work, "ls-files").splitlines())
    print(f"repository: {count} commits, {nfiles} files (ready in {time.perf_counter() - t0:.1f} s)\n")

    hotfix = str(VENV_BIN / "hotfix")
    validate = timed([hotfix, "validate", "--json"], work, args.runs)
    check = subprocess.run([hotfix, "validate"], cwd=work, env=ENV, capture_output=True, text=True, check=False)
    if check.returncode != 0:
        print(check.stdout, check.stderr)
        raise SystemExit("validate did not pass on the benchmark repository")
    raw = raw_git(work, args.runs)
    help_ = timed([hotfix, "--help"], work, args.runs * 3)
    bare = timed([sys.executable, "-c", "pass"], work, args.runs * 3)
    kubectl = Path(sys.executable).parent / "kubectl"  # the pinned kubectl from PyPI, never the machine's
    kube = timed([str(kubectl), "version", "--client"], work, args.runs * 3) if kubectl.is_file() else []

    med = statistics.median
    print("| measurement | median | ratio |")
    print("|---|---|---|")
    print(f"| raw git commands validate needs | {med(raw) * 1000:.0f} ms | 1.00x |")
    print(f"| `hotfix validate` | {med(validate) * 1000:.0f} ms | {med(validate) / med(raw):.2f}x (target <= 1.5x) |")
    print(f"| `python -c pass` | {med(bare) * 1000:.0f} ms | 1.00x |")
    print(f"| `hotfix --help` | {med(help_) * 1000:.0f} ms | {med(help_) / med(bare):.2f}x python; target <= 120 ms |")
    if kube:
        print(
            f"| `kubectl version --client` | {med(kube) * 1000:.0f} ms | `hotfix --help` = "
            f"{med(help_) / med(kube):.2f}x kubectl |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
