"""The SQL script pg_restore writes, with our session settings put after its own.

A dump's script starts with ``SET lock_timeout = 0;`` (and other ``SET`` lines), so a lock timeout set on the
connection beforehand is undone by the first lines of the restore. ``HeaderFilter`` passes the script through
unchanged except that it inserts our settings once, right after that header and before the first statement that
can take a lock. Only the header is looked at; the rest (COPY data included) is copied byte for byte.
"""

from __future__ import annotations

__all__ = ["HeaderFilter", "is_header_line"]

_HEADER_PREFIXES = (b"SET ", b"SELECT pg_catalog.set_config(", b"--", b"\\restrict ")
_MAX_HEADER = 1 << 20  # a header longer than this is not a pg_restore header: insert here and stop looking


def is_header_line(line: bytes) -> bool:
    """Blank lines, comments, ``\\restrict``, and the SET / set_config lines pg_restore starts a script with."""
    stripped = line.strip()
    return not stripped or stripped.startswith(_HEADER_PREFIXES)


class HeaderFilter:
    """Feed the script in chunks of any size; the output is the same script with ``settings`` after its header."""

    def __init__(self, settings: bytes) -> None:
        if not settings.endswith(b"\n"):
            settings += b"\n"
        self.settings = settings
        self._buffer = b""
        self._done = False
        self.header_lines = 0

    @property
    def inserted(self) -> bool:
        return self._done

    def feed(self, chunk: bytes) -> bytes:
        if self._done:
            return chunk
        self._buffer += chunk
        out = bytearray()
        while True:
            newline = self._buffer.find(b"\n")
            if newline < 0:
                if len(self._buffer) > _MAX_HEADER:
                    return self._insert(out)
                return bytes(out)
            line = self._buffer[: newline + 1]
            if not is_header_line(line):
                return self._insert(out)
            out += line
            self.header_lines += 1
            self._buffer = self._buffer[newline + 1 :]

    def _insert(self, out: bytearray) -> bytes:
        out += self.settings
        out += self._buffer
        self._buffer = b""
        self._done = True
        return bytes(out)

    def finish(self) -> bytes:
        """The rest at the end of the script (the settings are inserted even when the script is all header)."""
        if self._done:
            return b""
        return self._insert(bytearray())
