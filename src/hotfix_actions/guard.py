"""The one gate for text that did not come from our code, and the one registry of secrets.

``inert(text)`` makes any text harmless for the GitHub Actions runner and readable for people. The runner reads
every line a step prints (stdout and stderr; a line ends at ``\\n``, ``\\r`` or ``\\r\\n``) and takes it as a
workflow command when, after trimming leading white space, it starts with ``::`` (``ActionCommand.TryParseV2``), or
when ``##[`` appears anywhere in it (the legacy ``ActionCommand.TryParse``). Both compare culture-sensitively, so
characters with no collation weight (soft hyphen, zero-width and bidi controls, ...) are skipped while matching. The
text that comes out of ``inert``:

- holds no line break, no control, format, surrogate, private-use, unassigned or default-ignorable character: each
  is shown as
  a visible escape (``\\n``, ``\\r``, ``\\t``, ``\\x1b``, ``\\u200b``), so a file name with a newline reads as one;
- never holds ``##[`` (shown as ``##\\[``);
- never starts, after white space, with ``:`` (shown as ``\\:``), so neither it nor a line that starts with it
  can begin a command, however the pieces are joined;
- uses no percent escapes: the runner's ``%0A``/``%25`` decoding of command data cannot turn it back into a
  line break (``report.py`` escapes ``%`` itself before putting text in a command).

Ordinary text passes unchanged: ``inert(x) == x`` for printable text without ``##[`` that does not start with ``:``.

``Secrets`` is the registry of values no output may show: tokens, passwords, webhook URLs and each of their
credential-bearing parts (user info, password, path, query, token-like path segments and query values), in their
raw, percent-encoded and decoded forms. ``report.Reporter`` owns one per command run, masks each form in the runner
(``::add-mask::``, line by line) and scrubs every output with it; adapters that shorten a server's error body call
``clip`` so the scrub happens before the cut (a cut secret could no longer be recognised).
"""

from __future__ import annotations

import json
import re
import unicodedata
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = ["FRAGMENT", "MASK", "Secrets", "activate", "active", "clip", "inert", "json_line", "scrub", "secret_forms"]

MASK = "***"
# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): invisible, and skipped by culture-sensitive
# comparison; the ones that are not format (Cf) or control (Cc) characters are listed here.
_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SUSPECT = re.compile(r"[^\x20-\x7e]")  # everything but printable ASCII gets a closer look


def _escape(ch: str) -> str:
    if ch in _NAMED:
        return _NAMED[ch]
    if unicodedata.category(ch) not in _HIDDEN_CATEGORIES and not _IGNORABLE.match(ch):
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def inert(text: object) -> str:
    """``text`` as one line that no runner can take as a workflow command, readable for people."""
    shown = text if isinstance(text, str) else str(text)
    if _SUSPECT.search(shown):
        shown = _SUSPECT.sub(lambda m: _escape(m.group()), shown)
    if "##[" in shown:
        shown = shown.replace("##[", "##\\[")
    stripped = shown.lstrip()
    if stripped.startswith(":"):
        cut = len(shown) - len(stripped)
        shown = f"{shown[:cut]}\\{stripped}"
    return shown


def json_line(value: object) -> str:
    """``value`` as one line of JSON that decodes to exactly ``value`` and that no runner takes as a command:
    ASCII only (so no line break of any kind), ``#`` of ``##[`` written as ``\\u0023``, and it starts with ``{``,
    ``[`` or a quote."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=True)
    return text.replace("##[", "#\\u0023[")


# -- secrets ---------------------------------------------------------------------------------------------------------
_MIN_LENGTH = 3  # shorter values would blank out ordinary words
_TOKEN_LIKE = re.compile(r"^(?=.*[0-9])[A-Za-z0-9._~+=-]{8,}$|^[A-Za-z0-9._~+=-]{20,}$")


def _url_parts(value: str) -> list[str]:
    """The credential-bearing parts of a URL: user info, password, path, query, fragment, token-like segments."""
    if "://" not in value or any(c.isspace() for c in value):
        return []
    try:
        parts = urlsplit(value)
        password = parts.password
        username = parts.username
    except ValueError:
        return []
    # user info: a password, or a user name standing alone (a token written as https://<token>@host/)
    found: list[str] = [parts.netloc.rpartition("@")[0], password or "", "" if password else username or ""]
    path = parts.path
    if parts.scheme in ("http", "https") and len(path.strip("/")) >= 4:  # a webhook's path is its credential
        found += [path, path.strip("/")]
        found += [seg for seg in path.split("/") if _TOKEN_LIKE.match(unquote(seg))]
    if parts.query and parts.scheme in ("http", "https"):
        found.append(parts.query)
        found += [v for _, v in parse_qsl(parts.query, keep_blank_values=False) if len(v) >= 6]
    if parts.fragment and parts.scheme in ("http", "https"):
        found.append(parts.fragment)
    return found


def _raw_forms(value: str) -> list[str]:
    candidates = [value, *value.splitlines(), *_url_parts(value.strip())]
    return sorted({c.strip() for c in candidates if len(c.strip()) >= _MIN_LENGTH}, key=lambda f: (-len(f), f))


def secret_forms(value: str | None) -> list[str]:
    """Every form of ``value`` an output must not show: the value, each of its lines, its URL parts, and their
    percent-encoded and decoded spellings. Longest first (so a longer form is scrubbed before its parts)."""
    if not value:
        return []
    forms: set[str] = set()
    for raw in _raw_forms(value):
        for form in (raw, unquote(raw), quote(raw, safe=""), quote(raw, safe="/")):
            if len(form) >= _MIN_LENGTH:
                forms.add(form)
    return sorted(forms, key=lambda f: (-len(f), f))


FRAGMENT = 12  # a piece of a token this long is a leak too (a server's error body cut in the middle of it)
_TOKEN_FORM = re.compile(r"^(?!.*://)(?=.*[A-Za-z])(?=.*[0-9])\S{16,256}$")  # not a whole URL: its host is no secret


class Secrets:
    """The registry: values no output may show, in every form ``secret_forms`` finds, and, for token-like forms
    (16-256 characters with letters and digits), any piece of ``FRAGMENT`` characters or more: a message cut by
    someone else in the middle of a token must not show the part before the cut."""

    def __init__(self) -> None:
        self._forms: list[str] = []
        self._masked: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._tokens: list[str] = []
        self._fragments: re.Pattern[str] | None = None

    def add(self, value: str | None) -> list[str]:
        """Register ``value`` in every form; returns its new raw forms (value, lines, URL parts) for the runner's
        ``::add-mask::``, which adds the encoded spellings (URL, JSON, base64) itself."""
        if not value:
            return []
        raw = [f for f in _raw_forms(value) if f not in self._masked]
        new = [f for f in secret_forms(value) if f not in self._forms]
        self._masked.update(raw)
        if new:
            self._forms = sorted({*self._forms, *new}, key=lambda f: (-len(f), f))
            self._pattern = re.compile("|".join(re.escape(f) for f in self._forms))
            tokens = [f for f in new if _TOKEN_FORM.match(f)]
            if tokens:
                self._tokens += tokens
                windows = {t[i : i + FRAGMENT] for t in self._tokens for i in range(len(t) - FRAGMENT + 1)}
                self._fragments = re.compile("|".join(re.escape(w) for w in sorted(windows)))
        return raw

    @property
    def forms(self) -> tuple[str, ...]:
        return tuple(self._forms)

    def scrub(self, text: str) -> str:
        """``text`` with every registered form replaced by ``***`` (longest first, in one pass), then every piece of
        a token (``FRAGMENT`` characters or more, grown to the whole piece) as well."""
        if self._pattern is None or not text:
            return text
        text = self._pattern.sub(MASK, text)
        if self._fragments is None or not self._fragments.search(text):
            return text
        return self._scrub_pieces(text)

    def _scrub_pieces(self, text: str) -> str:
        assert self._fragments is not None
        spans: list[tuple[int, int]] = []
        for m in self._fragments.finditer(text):
            start, end = m.span()
            for token in self._tokens:
                at = token.find(m.group())
                while at >= 0:  # grow the match to the whole piece of this token around it
                    left, right = start, end
                    offset = at
                    while left > 0 and offset > 0 and text[left - 1] == token[offset - 1]:
                        left, offset = left - 1, offset - 1
                    tail = at + FRAGMENT
                    while right < len(text) and tail < len(token) and text[right] == token[tail]:
                        right, tail = right + 1, tail + 1
                    spans.append((left, right))
                    at = token.find(m.group(), at + 1)
        spans.sort()
        merged: list[list[int]] = []
        for left, right in spans:
            if merged and left <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], right)
            else:
                merged.append([left, right])
        pieces, last = [], 0
        for left, right in merged:
            pieces += [text[last:left], MASK]
            last = right
        return "".join(pieces) + text[last:]

    def __contains__(self, value: object) -> bool:
        return value in self._forms

    def __bool__(self) -> bool:
        return bool(self._forms)


_ACTIVE: list[Secrets] = [Secrets()]


def activate(secrets: Secrets) -> None:
    """Make ``secrets`` the registry adapters scrub with (the command edge does this once per run)."""
    _ACTIVE[0] = secrets


def active() -> Secrets:
    return _ACTIVE[0]


def scrub(text: str) -> str:
    """``text`` without any registered secret."""
    return _ACTIVE[0].scrub(text)


def clip(text: str, limit: int = 200) -> str:
    """Text from a server, for a message: secrets scrubbed first, then the first line cut to ``limit`` characters
    and made inert."""
    cleaned = scrub(text).strip()
    first = cleaned.splitlines()[0] if cleaned else ""
    more = len(first) > limit or len(cleaned) > len(first)
    return inert(first[:limit]) + ("…" if more else "")
