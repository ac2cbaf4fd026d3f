from tests.github_emulator.fixtures import emulator  # noqa: F401
