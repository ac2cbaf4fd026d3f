from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.fleet.rig import Rig, sandbox_member, seed


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """Three sandboxes a, b, c (b behind a proxy that can cut it off), each with its fake Prometheus, seeded with
    web on GOOD and its last-known-good; the config has waves [a], [b], [c]."""
    with ExitStack() as stack:
        members = {
            name: stack.enter_context(sandbox_member(name, tmp_path, proxied=name == "b")) for name in ("a", "b", "c")
        }
        for member in members.values():
            seed(member, tmp_path)
        built = Rig(tmp_path, members)
        built.write_config()
        yield built
