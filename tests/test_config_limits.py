"""Hostile `.hotfix.yml` files: refused quickly, with bounded memory, in words, quoting little of the value."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotfix_actions.config import load
from hotfix_actions.config._limits import MAX_BYTES, MAX_VALUES, QUOTE_LIMIT
from hotfix_actions.errors import ConfigError


def refused(tmp_path: Path, text: str | bytes) -> ConfigError:
    f = tmp_path / ".hotfix.yml"
    if isinstance(text, bytes):
        f.write_bytes(text)
    else:
        f.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(f, required=True)
    return info.value


def alias_bomb(levels: int, fan_out: int = 9, key: str = "validate:\n  max_top_level_dirs:") -> str:
    """``levels`` anchors, each a list of ``fan_out`` aliases of the one before: fan_out**levels values, in a few
    hundred bytes, under a key whose type (integer) the schema checks."""
    items = [f"&l0 [{', '.join(['lol'] * fan_out)}]"]
    items += [f"&l{i} [{', '.join([f'*l{i - 1}'] * fan_out)}]" for i in range(1, levels)]
    return f"{key} [{', '.join(items)}]\n"


def test_duplicate_keys_are_an_error_naming_both_lines(tmp_path: Path) -> None:
    err = refused(tmp_path, "validate:\n  size:\n    max_files: 5\n  check_base: true\n  size:\n    max_lines: 9\n")
    assert err.key == "validate.size" and err.line == 5
    assert "lines 2 and 5" in str(err) and "keep one of them" in str(err)


def test_duplicate_top_level_sections_too(tmp_path: Path) -> None:
    err = refused(tmp_path, "canary:\n  prometheus_url: https://a.example\ncanary:\n  prometheus_url: http://evil\n")
    assert err.key == "canary" and "lines 1 and 3" in str(err)


def test_a_file_over_one_mebibyte_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    err = refused(tmp_path, "validate:\n  branch_pattern: '" + "a" * MAX_BYTES + "'\n")
    assert "larger than 1024 KiB" in str(err) and "aaaa" not in str(err)


def test_a_fifty_megabyte_value_is_not_repeated(tmp_path: Path) -> None:
    (tmp_path / ".hotfix.yml").write_bytes(b"validate:\n  max_top_level_dirs: " + b"9" * 50_000_000 + b"x\n")
    with pytest.raises(ConfigError) as info:
        load(tmp_path / ".hotfix.yml", required=True)
    assert len(str(info.value)) < 500


@pytest.mark.parametrize(
    "text",
    [
        "validate:\n  max_top_level_dirs: '{}'\n",  # wrong type
        "repository:\n  remote: '{}'\n",  # pattern
        "validate:\n  size:\n    {}: 1\n",  # unknown key
        "canary:\n  interval: '{}'\n",  # duration
    ],
)
def test_messages_quote_at_most_200_characters_of_a_value(tmp_path: Path, text: str) -> None:
    value = "x" * 20_000 + " tail"
    err = refused(tmp_path, text.format(value))
    assert "x" * (QUOTE_LIMIT + 1) not in str(err) and "tail" not in str(err), str(err)[:300]
    assert len(str(err)) <= 1300


def test_alias_that_contains_itself(tmp_path: Path) -> None:
    err = refused(tmp_path, "validate:\n  risky_paths: &a ['x', *a]\n")
    assert "contains itself" in str(err) and err.line == 2


def test_deep_nesting(tmp_path: Path) -> None:
    err = refused(tmp_path, "validate:\n  risky_paths: " + "[" * 200 + "]" * 200 + "\n")
    assert "nested more than" in str(err) or "nesting" in str(err)


def test_an_alias_bomb_is_refused_naming_the_key(tmp_path: Path) -> None:
    err = refused(tmp_path, alias_bomb(9))
    assert f"more than {MAX_VALUES:,} values" in str(err) and err.key is not None
    assert err.key.startswith("validate.max_top_level_dirs")


def test_modest_aliases_still_work(tmp_path: Path) -> None:
    f = tmp_path / ".hotfix.yml"
    f.write_text("validate:\n  risky_paths: &p ['infra/**', 'db/**']\nmerge_back: {}\n")
    assert load(f).document["validate"]["risky_paths"] == ["infra/**", "db/**"]


@settings(max_examples=40, deadline=None)
@given(levels=st.integers(1, 12), fan_out=st.integers(1, 12))
def test_aliases_are_accepted_exactly_up_to_the_limit(tmp_path_factory: pytest.TempPathFactory, levels: int,
                                                      fan_out: int) -> None:  # fmt: skip
    tmp = tmp_path_factory.mktemp("bomb")
    f = tmp / ".hotfix.yml"
    f.write_text(alias_bomb(levels, fan_out, key="validate:\n  risky_paths:"))
    # values as the loader counts them (a node is 1 plus its children, aliases expanded): the outer list holds every
    # level's anchored list, level 0 holds fan_out scalars, level i holds fan_out copies of level i-1
    level = 1 + fan_out
    levels_total = 0
    for _ in range(levels):
        levels_total += level
        level = 1 + fan_out * level
    total = 1 + 1 + 1 + 1 + (1 + levels_total)  # root mapping, "validate" key, its mapping, "risky_paths" key, list
    try:
        load(f, required=True)
    except ConfigError as err:
        assert "more than" in str(err) or "risky_paths" in str(err)
        if "more than" in str(err):
            assert total > MAX_VALUES
        else:
            assert total <= MAX_VALUES  # a schema error (too many paths), not the expansion limit
    else:
        assert total <= MAX_VALUES


HOSTILE = {
    "alias bomb under a typed key": alias_bomb(9),
    "alias bomb under an unknown key": alias_bomb(9, key="validate:\n  nope:"),
    "50 MB value": "validate:\n  branch_pattern: '" + "a" * 50_000_000 + "'\n",
    "deep nesting": "validate:\n  risky_paths: " + "[" * 900 + "]" * 900 + "\n",
    "100k keys": "validate:\n" + "".join(f"  k{i}: {i}\n" for i in range(100_000)),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_files_are_refused_in_bounded_time_and_memory(tmp_path: Path, name: str) -> None:
    """Measured in a child process with a 1 GiB address-space limit: the peak of Python's allocations (tracemalloc)
    and the time are upper bounds (a hang or a memory blow-up is what they catch), not a speed benchmark."""
    f = tmp_path / ".hotfix.yml"
    f.write_text(HOSTILE[name], encoding="utf-8")
    probe = textwrap.dedent(
        f"""
        import json, resource, sys, time, tracemalloc
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from hotfix_actions.config import load
        from hotfix_actions.errors import ConfigError
        tracemalloc.start()
        start = time.perf_counter()
        try:
            load({str(f)!r}, required=True)
            message = None
        except ConfigError as exc:
            message = str(exc)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        print(json.dumps({{"message": message, "seconds": elapsed, "peak_bytes": peak}}))
        """
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)
    assert result["message"] is not None and len(result["message"]) < 1500
    print(f"{name}: {result['seconds']:.3f} s, peak {result['peak_bytes'] / 2**20:.1f} MiB")
    assert result["seconds"] < 10
    assert result["peak_bytes"] < 64 * 2**20
