"""Path globs with `**` (any number of folders, also none), `*` and `?` within one folder."""

from __future__ import annotations

import re
from functools import cache

__all__ = ["matches"]


@cache
def _compile(glob: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("(?:/.*)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


def matches(path: str, glob: str) -> bool:
    """gitignore-like: a glob without '/' matches the file name in any folder."""
    if "/" not in glob:
        return bool(_compile(glob).match(path.rsplit("/", 1)[-1]))
    return bool(_compile(glob).match(path))
