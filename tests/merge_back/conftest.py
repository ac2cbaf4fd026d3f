from tests.github_emulator.fixtures import emulator  # noqa: F401
from tests.notify.receiver import receiver  # noqa: F401
