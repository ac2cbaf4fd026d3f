from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.actkit import export_tree
from tests.github_emulator.fixtures import emulator  # noqa: F401


@pytest.fixture(scope="session")
def action_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository as a user's `uses: hotfix-actions/hotfix-actions/...@v1` would see it."""
    return export_tree(tmp_path_factory.mktemp("hotfix-actions"))


@pytest.fixture(scope="session")
def tool_cache() -> Path:
    """The session's runner tool cache (tests/conftest.py): the first action installs the package, later ones
    reuse it."""
    return Path(os.environ["HOTFIX_TEST_TOOL_CACHE"])
