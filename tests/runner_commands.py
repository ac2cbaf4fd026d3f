"""The GitHub Actions runner's reading of a step's output, written from actions/runner for the tests.

Sources: ``src/Runner.Common/ActionCommand.cs`` (``TryParseV2``: the line, with leading white space trimmed, starts
with ``::``, the command info runs to the next ``::``, the name to the first space, properties are ``k=v`` split on
``,``, data and properties are percent-unescaped; ``TryParse``: the legacy form, ``##[`` ANYWHERE in the line, info to
the next ``]``, properties split on ``;``) and ``src/Runner.Worker/ActionCommandManager.cs`` (V2 first, then legacy;
``stop-commands`` registers its data as the resume token and ignores every other command until ``::<token>::``).
Lines end at ``\\n``, ``\\r`` or ``\\r\\n`` (.NET ``StreamReader.ReadLine``); both stdout and stderr are read.

Two deliberate over-approximations make the tests stricter than the runner, never weaker:
- every command name counts as registered (the runner knows ~15; a new one must not slip through);
- characters that culture-sensitive .NET comparison may skip (controls, format characters, default-ignorable code
  points) are removed before matching ``::`` and ``##[``, and trimming uses Python's white space, a superset of .NET's.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

__all__ = ["Command", "commands_in", "lines_of", "parse_line", "unescape_data"]

_IGNORABLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)


@dataclass(frozen=True)
class Command:
    name: str
    properties: dict[str, str] = field(default_factory=dict, hash=False)
    data: str = ""
    form: str = "v2"  # "v2" (::name::) or "legacy" (##[name])
    line: str = ""


def lines_of(text: str) -> list[str]:
    """Split as .NET's StreamReader.ReadLine does: at \\r\\n, \\r or \\n."""
    return re.split(r"\r\n|\r|\n", text)


def _matchable(text: str) -> str:
    """What culture-sensitive matching may see: no controls, format or default-ignorable characters."""
    return "".join(
        ch
        for ch in text
        if (unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Cn") and not _IGNORABLE.match(ch)) or ch in "\t "
    )


def unescape_data(text: str) -> str:
    for token, escaped in (("\r", "%0D"), ("\n", "%0A"), ("%", "%25")):
        text = text.replace(escaped, token)
    return text


def _unescape_property(text: str) -> str:
    for token, escaped in (("\r", "%0D"), ("\n", "%0A"), (":", "%3A"), (",", "%2C"), ("%", "%25")):
        text = text.replace(escaped, token)
    return text


def _unescape_legacy(text: str) -> str:
    for token, escaped in ((";", "%3B"), ("\r", "%0D"), ("\n", "%0A"), ("]", "%5D"), ("%", "%25")):
        text = text.replace(escaped, token)
    return text


def _parse_v2(line: str) -> Command | None:
    message = _matchable(line).lstrip()
    if not message.startswith("::"):
        return None
    end = message.find("::", 2)
    if end < 0:
        return None
    info = message[2:end]
    name, _, props_text = info.partition(" ")
    if not name:
        return None
    props: dict[str, str] = {}
    for item in filter(None, props_text.strip().split(",")):
        pair = [p for p in item.split("=", 1) if p]
        if len(pair) == 2:
            props[pair[0].lower()] = _unescape_property(pair[1])
    return Command(name.lower(), props, unescape_data(message[end + 2 :]), "v2", line)


def _parse_legacy(line: str) -> Command | None:
    message = _matchable(line)
    start = message.find("##[")
    if start < 0:
        return None
    end = message.find("]", start)
    if end < 0:
        return None
    info = message[start + 3 : end]
    name, _, props_text = info.partition(" ")
    if not name:
        return None
    props: dict[str, str] = {}
    for item in filter(None, props_text.split(";")):
        pair = [p for p in item.split("=", 1) if p]
        if len(pair) == 2:
            props[pair[0].lower()] = _unescape_legacy(pair[1])
    return Command(name.lower(), props, _unescape_legacy(message[end + 1 :]), "legacy", line)


def parse_line(line: str) -> Command | None:
    """The command the runner would find in one line (any name counts as registered), or None."""
    return _parse_v2(line) or _parse_legacy(line)


def commands_in(*streams: str) -> list[Command]:
    """Every line of the streams that parses as a command, in order, stop-commands state applied: while stopped,
    only ``::<token>::`` counts (and resumes)."""
    found: list[Command] = []
    for text in streams:
        token: str | None = None
        for line in lines_of(text):
            command = parse_line(line)
            if command is None:
                continue
            if token is not None:
                if command.name == token.lower():
                    token = None
                    found.append(command)
                continue
            if command.name == "stop-commands":
                token = command.data
            found.append(command)
    return found
