"""requirements/action.lock and action-tools.lock: they match pyproject.toml, and the check says so when they do not."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


lock = _load("action_lock")
PYPROJECT = (ROOT / "pyproject.toml").read_text()
LOCK = (ROOT / "requirements" / "action.lock").read_text()
TOOLS = (ROOT / "requirements" / "action-tools.lock").read_text()
DEPS = lock.dependencies(PYPROJECT)


def _with_dependencies(deps: list[str]) -> str:
    body = "dependencies = [\n" + "".join(f'    "{d}",\n' for d in deps) + "]\n"
    return re.sub(r"(?ms)^dependencies = \[\n.*?^\]\n", lambda _: body, PYPROJECT, count=1)


def test_the_committed_locks_match_pyproject() -> None:
    assert lock.problems(PYPROJECT, LOCK) == []
    assert lock.tools_problems(PYPROJECT, TOOLS) == []


def test_every_pin_has_hashes_and_the_lock_covers_every_dependency() -> None:
    pins = lock.parse_lock(LOCK)
    assert len(pins) > len(DEPS)  # the closure, not only the top level
    assert all(pin.hashes for pin in pins.values())
    for dep in DEPS:
        name = re.match(r"[A-Za-z0-9._-]+", dep)
        assert name and lock.normalize(name.group(0)) in pins


def test_check_command_passes_on_the_repository(capsys: object) -> None:
    assert lock.main(["action_lock.py", "--check"]) == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    index=st.integers(min_value=0, max_value=len(DEPS) - 1),
    change=st.sampled_from(["drop", "exclude-pinned", "add", "tighten"]),
    new_name=st.from_regex(r"[a-z][a-z0-9]{2,12}", fullmatch=True),
)
def test_any_change_of_the_dependency_list_is_caught(index: int, change: str, new_name: str) -> None:
    deps = list(DEPS)
    pins = lock.parse_lock(LOCK)
    name = re.match(r"[A-Za-z0-9._-]+", deps[index]).group(0)  # type: ignore[union-attr]
    pinned = pins[lock.normalize(name)].version
    if change == "drop":
        deps.pop(index)
    elif change == "exclude-pinned":
        deps[index] = f"{name}!={pinned}"
    elif change == "add":
        deps.append(f"zz-{new_name}>=1.0")
    else:
        deps[index] = f"{name}>{pinned}"
    found = lock.problems(_with_dependencies(deps), LOCK)
    assert found, deps
    assert any("scripts/action_lock.py" in line for line in found)  # says how to fix it
    if change in ("exclude-pinned", "tighten"):
        assert any(f"{name}" in line and "outside" in line for line in found), found
    if change == "add":
        assert any(f"zz-{new_name}" in line for line in found), found


def test_a_pin_without_hashes_or_needed_by_nothing_is_caught() -> None:
    first = next(iter(lock.parse_lock(LOCK).values()))
    stripped = re.sub(r"(?m)^    --hash=sha256:[0-9a-f]+ \\\n", "", LOCK, count=len(first.hashes))
    stripped = stripped.replace(
        f"{first.name}=={first.version} \\\n    --hash", f"{first.name}=={first.version}\n    # x", 1
    )
    assert any("without SHA-256 hashes" in p and first.name in p for p in lock.problems(PYPROJECT, stripped))
    extra = LOCK + "left-pad==1.0.0 \\\n    --hash=sha256:" + "0" * 64 + "\n    # via nothing-at-all\n"
    assert any("left-pad" in p and "nothing" in p for p in lock.problems(PYPROJECT, extra))


def test_tools_lock_follows_the_dev_pin_of_uv() -> None:
    other = re.sub(r'"uv==[^"]+"', '"uv==9.9.9"', PYPROJECT)
    assert re.search(r'"uv==9\.9\.9"', other)
    found = lock.tools_problems(other, TOOLS)
    assert found and "9.9.9" in found[0]
    assert lock.tools_problems(PYPROJECT, TOOLS.replace("uv==", "uvx==")) != []
