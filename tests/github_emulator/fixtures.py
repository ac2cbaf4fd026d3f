"""Fixtures for tests that talk to the GitHub emulator. Import them into a conftest.py:

from tests.github_emulator.fixtures import emulator, TOKEN  # noqa: F401
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hotfix_actions.github import ClientOptions
from hotfix_actions.testing.github_emulator import GitHubEmulator

TOKEN = "ghs_TESTtoken0123456789abcdefSECRET"
REPOSITORY = "acme/shop"


@pytest.fixture
def emulator() -> Iterator[GitHubEmulator]:
    """A started emulator that accepts TOKEN; after the test, no request may have broken GitHub's description.

    A test that sends non-conforming requests on purpose clears ``emulator.expect_violations``.
    """
    gh = GitHubEmulator(tokens={TOKEN})
    gh.start()
    try:
        yield gh
    finally:
        gh.stop()
    if not gh.expect_violations:
        assert gh.violations == [], gh.violations


def fast_options(gh: GitHubEmulator, messages: list[str] | None = None, **kwargs: float) -> ClientOptions:
    """Client options for tests: no write pacing, tiny backoffs, short waits."""
    settings: dict[str, float] = {"write_interval": 0, "backoff": 0.01, "secondary_wait": 0.1, "max_wait": 5}
    settings.update(kwargs)
    return ClientOptions(
        base_url=gh.api_url,
        on_retry=messages.append if messages is not None else None,
        **settings,  # type: ignore[arg-type]
    )
