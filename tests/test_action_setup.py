"""scripts/action-setup.sh on a persistent runner: nothing an earlier job left behind is ever run.

The real script, the real uv and the real index (PyPI; once per session, to seed a wheelhouse), a runner emulated by
folders: RUNNER_TEMP, RUNNER_TOOL_CACHE, GITHUB_ENV and GITHUB_PATH files carried from step to step within a job and
not across jobs, as the Actions runner does. Every planted program writes a marker file; the marker must never appear.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
SETUP = ROOT / "scripts" / "action-setup.sh"
OFFLINE_INDEX = "http://127.0.0.1:9/simple"  # the discard port: nothing answers


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


wheels = _load("action_wheels")


@dataclass
class Job:
    runner: Runner
    temp: Path
    env_file: Path
    path_file: Path
    extra: dict[str, str] = field(default_factory=dict)

    def exported(self) -> dict[str, str]:
        pairs = [ln.split("=", 1) for ln in self.env_file.read_text().splitlines() if "=" in ln]
        return {k: v for k, v in pairs}

    def env(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "HOTFIX_", "RUNNER_"))}
        return {
            **base,
            "RUNNER_TEMP": str(self.temp),
            "RUNNER_TOOL_CACHE": str(self.runner.tool_cache),
            "GITHUB_ENV": str(self.env_file),
            "GITHUB_PATH": str(self.path_file),
            "HOTFIX_PYTHON": sys.executable,
            **self.exported(),
            **self.extra,
        }

    def setup(self, **extra: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["bash", str(SETUP)], env={**self.env(), **extra}, capture_output=True, text=True, timeout=600, check=False
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def path_entries(self) -> list[str]:
        return [ln for ln in self.path_file.read_text().splitlines() if ln]

    def hotfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`hotfix` found through PATH as the runner builds it: the newest GITHUB_PATH entry first."""
        env = self.env()
        env["PATH"] = os.pathsep.join([*reversed(self.path_entries()), env.get("PATH", "")])
        return subprocess.run(["hotfix", *args], env=env, capture_output=True, text=True, timeout=120, check=False)

    def home(self) -> Path:
        return Path(self.exported()["HOTFIX_ACTIONS_HOME"])


@dataclass
class Runner:
    base: Path
    tool_cache: Path
    marker: Path
    jobs: int = 0

    def job(self, temp: Path | None = None) -> Job:
        """A new job: its own GITHUB_ENV and GITHUB_PATH; RUNNER_TEMP new unless given (a runner that kept it)."""
        self.jobs += 1
        folder = self.base / f"job{self.jobs}"
        folder.mkdir()
        temp = temp or folder / "temp"
        temp.mkdir(exist_ok=True)
        (folder / "env").touch()
        (folder / "path").touch()
        return Job(self, temp, folder / "env", folder / "path")

    @property
    def wheelhouse(self) -> Path:
        return self.tool_cache / "hotfix-actions" / "wheelhouse"

    def planted_program(self) -> str:
        return f"#!/bin/sh\ntouch '{self.marker}'\necho 'hotfix 1.0.0'\n"


@pytest.fixture(scope="session")
def seeded_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cold runner: the first job downloads every locked wheel from the index and keeps them in the tool cache."""
    base = tmp_path_factory.mktemp("seed")
    runner = Runner(base, base / "tool-cache", base / "PLANTED")
    first = runner.job()
    proc = first.setup()
    assert "(cold, " in proc.stdout, proc.stdout
    assert first.hotfix("--version").stdout.strip() == "hotfix 1.0.0"
    return runner.wheelhouse


@pytest.fixture
def runner(tmp_path: Path, seeded_wheelhouse: Path) -> Runner:
    made = Runner(tmp_path, tmp_path / "tool-cache", tmp_path / "PLANTED")
    shutil.copytree(seeded_wheelhouse, made.wheelhouse)
    return made


def test_a_later_job_takes_the_kept_wheels_and_needs_no_index(runner: Runner) -> None:
    job = runner.job()
    proc = job.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)
    assert "(warm, " in proc.stdout and "rejected=0 fetched=0 failed=0" in proc.stdout, proc.stdout
    assert job.hotfix("--version").stdout.strip() == "hotfix 1.0.0"
    home = job.home()
    assert home.parent == job.temp and (home.stat().st_mode & 0o777) == 0o700
    # a second action of the same job reuses it after checking it
    again = job.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)
    assert "(reused, " in again.stdout and job.home() == home


def _old_layout_path(runner: Runner) -> Path:
    """Where the set-up before this fix looked for a ready environment (`.complete`), computable by anyone."""
    digest = subprocess.run(
        ["bash", "-c", "find pyproject.toml src -type f \\( -name '*.py' -o -name '*.json' -o -name '*.toml' \\) "
         "-print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return runner.tool_cache / "hotfix-actions" / f"1.0.0-{digest}"


def test_an_environment_planted_where_the_old_set_up_looked_is_never_run(runner: Runner) -> None:
    # The tests job (branch code) plants a ready-looking environment at the path anyone can compute.
    planted = _old_layout_path(runner)
    (planted / "bin").mkdir(parents=True)
    (planted / "bin" / "hotfix").write_text(runner.planted_program())
    (planted / "bin" / "hotfix").chmod(0o755)
    (planted / ".complete").touch()
    production = runner.job()
    production.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)
    ran = production.hotfix("--version")
    assert ran.stdout.strip() == "hotfix 1.0.0", ran.stdout + ran.stderr
    assert not runner.marker.exists(), "the planted bin/hotfix ran"
    assert all(str(planted) not in entry for entry in production.path_entries())


def test_an_environment_an_earlier_job_left_in_runner_temp_is_never_run(runner: Runner) -> None:
    # On a runner that did not empty RUNNER_TEMP, an earlier job changes the environment it built there and plants
    # a look-alike beside it.
    temp = runner.base / "kept-temp"
    earlier = runner.job(temp)
    earlier.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)
    old_home = earlier.home()
    (old_home / "venv" / "hotfix-bin" / "hotfix").write_text(runner.planted_program())
    decoy = temp / "hotfix-actions.AAAAAAAA" / "venv" / "hotfix-bin"
    decoy.mkdir(parents=True)
    (decoy / "hotfix").write_text(runner.planted_program())
    (decoy / "hotfix").chmod(0o755)

    production = runner.job(temp)
    proc = production.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)
    assert "(reused, " not in proc.stdout, proc.stdout
    assert production.home() not in (old_home, decoy.parent.parent)
    assert production.path_entries() == [str(production.home() / "venv" / "hotfix-bin")]  # never its python
    ran = production.hotfix("--version")
    assert ran.stdout.strip() == "hotfix 1.0.0", ran.stdout + ran.stderr
    assert not runner.marker.exists(), "a planted program ran"


def _plant_package(runner: Runner, at: Path) -> None:
    at.mkdir(parents=True)
    (at / "__init__.py").write_text(f"open({str(runner.marker)!r}, 'w').close()\n")


def _site(home: Path) -> Path:
    return next((home / "venv" / "lib").glob("python3*/site-packages"))


def _unpacked(runner: Runner, package: str) -> Path:
    """The runner-wide unpacked folder of a wheel (shared by every job): what a poisoner would change."""
    return next(p for p in (runner.tool_cache / "hotfix-actions" / "unpacked").iterdir() if (p / package).is_dir())


def _swap_for_link(runner: Runner, folder: Path) -> None:
    shutil.copytree(folder, runner.base / "evil-copy")
    (runner.base / "evil-copy" / "sitecustomize.py").write_text(f"open({str(runner.marker)!r}, 'w').close()\n")
    shutil.rmtree(folder)
    folder.symlink_to(runner.base / "evil-copy")


TAMPERING: dict[str, Callable[[Runner, Path], object]] = {
    "modified launcher": lambda r, h: (h / "venv" / "hotfix-bin" / "hotfix").write_text(r.planted_program()),
    "extra file in the environment (a .pth runs at every start)": lambda r, h: (_site(h) / "zz.pth").write_text(
        f"import os; open({str(r.marker)!r}, 'w').close()\n"
    ),
    "symlink swap (bin/python)": lambda r, h: (
        (r.base / "evil-python").write_text(r.planted_program()),
        (r.base / "evil-python").chmod(0o755),
        (h / "venv" / "bin" / "python").unlink(),
        (h / "venv" / "bin" / "python").symlink_to(r.base / "evil-python"),
    ),
    "content and manifest rewritten together": lambda r, h: (
        (h / "venv" / "hotfix-bin" / "hotfix").write_text(r.planted_program()),
        wheels.main(["action_wheels.py", "manifest", "--out", str(h / "manifest"), str(h / "venv")]),
    ),
    "folder opened to others": lambda r, h: h.chmod(0o755),
    "modified module in the shared unpacked wheel": lambda r, h: (
        _unpacked(r, "click") / "click" / "__init__.py"
    ).write_text(f"open({str(r.marker)!r}, 'w').close()\n"),
    "extra file in the shared unpacked wheel (sitecustomize runs at every start)": lambda r, h: (
        _unpacked(r, "yaml") / "sitecustomize.py"
    ).write_text(f"open({str(r.marker)!r}, 'w').close()\n"),
    "changed mode in the shared unpacked wheel": lambda r, h: (_unpacked(r, "idna") / "idna" / "core.py").chmod(0o666),
    "symlink swap of the shared unpacked wheel": lambda r, h: _swap_for_link(r, _unpacked(r, "jsonschema")),
}


@pytest.mark.parametrize("tamper", list(TAMPERING), ids=list(TAMPERING))
def test_a_changed_environment_is_not_reused_within_the_job(runner: Runner, tamper: str) -> None:
    job = runner.job()
    job.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)
    first = job.home()
    TAMPERING[tamper](runner, first)
    proc = job.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)
    assert "::warning title=hotfix-actions setup::not reusing the environment" in proc.stdout, proc.stdout
    assert "(warm, " in proc.stdout, proc.stdout
    assert job.home() != first
    ran = job.hotfix("--version")
    assert ran.stdout.strip() == "hotfix 1.0.0", ran.stdout + ran.stderr
    assert not runner.marker.exists(), "a planted program ran"


def test_a_home_outside_runner_temp_is_refused(runner: Runner) -> None:
    planted = runner.base / "elsewhere" / "hotfix-actions.AAAAAAAA"
    (planted / "venv" / "bin").mkdir(parents=True)
    (planted / "venv" / "bin" / "hotfix").write_text(runner.planted_program())
    job = runner.job()
    job.extra = {"HOTFIX_ACTIONS_HOME": str(planted), "HOTFIX_ACTIONS_MANIFEST_SHA256": "0" * 64}
    proc = job.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)
    assert "not a folder this set-up makes under RUNNER_TEMP" in proc.stdout, proc.stdout
    job.extra = {}
    assert job.hotfix("--version").stdout.strip() == "hotfix 1.0.0"
    assert not runner.marker.exists()


@pytest.mark.parametrize("tamper", [k for k in TAMPERING if "shared unpacked" in k])
def test_a_changed_shared_wheel_folder_is_unpacked_again_for_a_later_job(runner: Runner, tamper: str) -> None:
    runner.job().setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)  # the first job unpacks the wheels for the runner
    TAMPERING[tamper](runner, Path("/nonexistent"))  # an earlier job (branch code) changes one of them
    later = runner.job()
    proc = later.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX)
    assert "again: the shared copy changed" in proc.stdout, proc.stdout
    ran = later.hotfix("--version")
    assert ran.stdout.strip() == "hotfix 1.0.0", ran.stdout + ran.stderr
    python = later.home() / "venv" / "bin" / "python"
    subprocess.run([str(python), "-c", "import click, yaml, idna.core, jsonschema"], check=True, timeout=60)
    assert not runner.marker.exists(), "a planted module ran"


def test_where_wheels_cannot_be_placed_uv_installs_them_with_hashes(runner: Runner) -> None:
    blocked = runner.tool_cache / "hotfix-actions" / "unpacked"
    blocked.write_text("not a folder\n")  # the shared folder of unpacked wheels cannot be used
    job = runner.job()
    proc = job.setup()  # uv's wheel comes from the index, checked against action-tools.lock
    assert "could not use the folder of unpacked wheels" in proc.stdout, proc.stdout
    assert "(warm, uv, " in proc.stdout, proc.stdout
    site = _site(job.home())
    assert not (site / "hotfix_actions_deps.pth").exists() and (site / "click" / "__init__.py").is_file()
    assert job.hotfix("--version").stdout.strip() == "hotfix 1.0.0"
    assert "(reused, " in job.setup().stdout  # the manifest covers what uv installed


def _tampered_copy(wheel: Path, runner: Runner) -> bytes:
    """The same wheel with one module replaced by code that writes the marker: what a poisoner would plant."""
    out = runner.base / "tampered.whl"
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.endswith("/__init__.py") and item.filename.count("/") == 1:
                data += f"\nopen({str(runner.marker)!r}, 'w').close()\n".encode()
            dst.writestr(item, data)
    return out.read_bytes()


def test_poisoned_wheels_in_the_tool_cache_are_refused_and_replaced(runner: Runner) -> None:
    house = runner.wheelhouse
    click = next(house.glob("click-*.whl"))
    idna = next(house.glob("idna-*.whl"))
    pyyaml = next(house.glob("pyyaml-*.whl"))
    good_click = hashlib.sha256(click.read_bytes()).hexdigest()
    click.write_bytes(_tampered_copy(click, runner))  # modified content, same name
    pyyaml.unlink()
    pyyaml.symlink_to(click)  # symlink swap
    idna.unlink()
    os.mkfifo(idna)  # a reader would hang on it
    evil = house / "zz_evil-1.0-py3-none-any.whl"
    evil.write_bytes(b"not even a zip")  # an extra wheel the lock does not name
    job = runner.job()
    proc = job.setup()  # the refused ones come again from the index
    out = proc.stdout
    assert re.search(rf"ignored {re.escape(click.name)} .*SHA-256 the lock does not list", out), out
    assert f"ignored {pyyaml.name} " in out and f"ignored {idna.name} " in out, out
    assert "rejected=3" in out and "(cold, " in out, out
    assert "zz_evil" not in out
    ran = job.hotfix("--version")
    assert ran.stdout.strip() == "hotfix 1.0.0", ran.stdout + ran.stderr
    python = job.home() / "venv" / "bin" / "python"
    subprocess.run([str(python), "-c", "import click, yaml, idna"], check=True, timeout=60)
    assert not runner.marker.exists(), "a planted module ran"
    assert not list(_site(job.home()).glob("zz_evil*"))
    # the wheelhouse holds the genuine files again, for the jobs after this one
    assert hashlib.sha256(click.read_bytes()).hexdigest() == good_click
    assert not pyyaml.is_symlink() and idna.is_file()
    later = runner.job()
    assert "rejected=0 fetched=0" in later.setup(HOTFIX_INDEX_URL=OFFLINE_INDEX).stdout


# --- the helper on its own: no network ---------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_names_from_the_wheelhouse_cannot_form_a_workflow_command(name: str) -> None:
    shown = wheels.shown(name)
    assert not set(shown) & set(":#%[\r\n\x85\u2028\u2029")
    assert shown == name or shown == "<a file with an unusual name>"


@settings(max_examples=60, deadline=None)
@given(content=st.binary(max_size=2048), good=st.binary(min_size=1, max_size=64))
def test_take_copies_a_file_only_when_its_bytes_hash_to_the_lock(tmp_path_factory: pytest.TempPathFactory, content: bytes, good: bytes) -> None:  # fmt: skip
    base = tmp_path_factory.mktemp("take")
    shared, job = base / "shared", base / "job"
    shared.mkdir()
    (shared / "demo-1.0-py3-none-any.whl").write_bytes(content)
    allowed = {("demo", "1.0"): {hashlib.sha256(good).hexdigest()}}
    taken, rejected = wheels.take(allowed, shared, job)
    copied = job / "demo-1.0-py3-none-any.whl"
    assert (taken, rejected) == ((1, 0) if content == good else (0, 1))
    assert copied.exists() == (content == good)
    assert not copied.exists() or copied.read_bytes() == good
    assert [p.name for p in job.iterdir() if p.name.startswith(".part-")] == []
