"""Allowlists checked before any value is used anywhere: branch names, DNS-1123 names, image references.

The patterns decide what is accepted (always matched against the whole text: a trailing line break is not "the
end"); the messages say in words what is wrong, which character and where, and give a corrected example. No
message shows a regular expression.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

__all__ = [
    "BRANCH_ALLOWLIST",
    "CharRule",
    "branch_name_problem",
    "dns1123_label_problem",
    "dns1123_subdomain_problem",
    "hotfix_branch_problem",
    "image_problem",
    "slug_problem",
    "url_problem",
]

BRANCH_ALLOWLIST = re.compile(r"^hotfix/[A-Za-z0-9._-]{1,64}$")
_GENERIC_REF = re.compile(r"^[A-Za-z0-9._/-]{1,200}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$")
# registry[:port]/path[:tag][@sha256:digest], lower-case path components as in the distribution spec.
_IMAGE = re.compile(
    r"^(?:(?P<registry>(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)+|localhost)(?::[0-9]{1,5})?|[a-zA-Z0-9-]+:[0-9]{1,5})/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)

_LOWER_ALNUM = frozenset(string.ascii_lowercase + string.digits)
_ALNUM = frozenset(string.ascii_letters + string.digits)


def show_char(c: str) -> str:
    """A character as people read it in a message: 'A', a space, a line break, U+00E9."""
    names = {" ": "a space", "\t": "a tab", "\n": "a line break", "\r": "a carriage return"}
    if c in names:
        return names[c]
    if not c.isascii() or not c.isprintable():
        return f"{c!r} (U+{ord(c):04X})" if c.isprintable() else f"U+{ord(c):04X}"
    return repr(c)


@dataclass(frozen=True)
class CharRule:
    """A name rule in words: which characters, how long, what may stand at either end. ``what`` names the kind of
    name ("a DNS-1123 label"); ``chars`` says the allowed characters in words; ``example`` is a valid name."""

    what: str
    allowed: frozenset[str]
    chars: str
    example: str
    min_len: int = 1
    max_len: int | None = None
    ends: frozenset[str] | None = None  # both the first and the last character must be one of these
    ends_words: str = "a letter or digit"
    first_only: bool = False  # only the first character must be one of ``ends``
    prefix: str = ""
    suffix: str = ""

    def describe(self) -> str:
        size = f"at most {self.max_len} characters" if self.max_len else "at least one character"
        ends = ""
        if self.ends:
            ends = (
                f", starting with {self.ends_words}"
                if self.first_only
                else f", starting and ending with {self.ends_words}"
            )
        around = ""
        if self.prefix:
            around += f", after {self.prefix!r}"
        if self.suffix:
            around += f", ending in {self.suffix!r}"
        return f"{self.what} is {self.chars}{around}, {size}{ends} (e.g. {self.example})"

    def problem(self, text: str) -> str | None:
        """What is wrong with ``text`` in words (the first offending character and its position), or None."""
        detail = self._detail(text)
        return f"is not {self.what}: it {detail}; {self.describe()}" if detail else None

    def _detail(self, text: str) -> str | None:
        if self.prefix and not text.startswith(self.prefix):
            return f"does not start with {self.prefix!r}"
        if self.suffix and not text.endswith(self.suffix):
            return f"does not end with {self.suffix!r}"
        body = text[len(self.prefix) : len(text) - len(self.suffix)]
        offset = len(self.prefix)
        for i, c in enumerate(body):
            if c not in self.allowed:
                return f"has {show_char(c)} at position {i + offset + 1}"
        if len(body) < self.min_len:
            return "is empty" if not text else "is too short"
        if self.max_len is not None and len(body) > self.max_len:
            return f"is {len(body)} characters long"
        if self.ends and body[0] not in self.ends:
            return f"starts with {show_char(body[0])}"
        if self.ends and not self.first_only and body[-1] not in self.ends:
            return f"ends with {show_char(body[-1])}"
        return None


def suggest_name(text: str, *, max_len: int = 63) -> str:
    """A valid lower-case name close to ``text``: 'My_App' -> 'my-app'."""
    lowered = "".join(c if c in _LOWER_ALNUM else "-" if c in "-_ ./:" else "" for c in text.lower())
    collapsed = re.sub("-{2,}", "-", lowered)[:max_len].strip("-")
    return collapsed or "my-app"


DNS_LABEL = CharRule(
    "a DNS-1123 label",
    _LOWER_ALNUM | {"-"},
    "lower-case letters, digits and '-'",
    "my-app",
    max_len=63,
    ends=_LOWER_ALNUM,
)
DNS_SUBDOMAIN = CharRule(
    "a DNS-1123 name",
    _LOWER_ALNUM | {"-", "."},
    "lower-case letters, digits, '-' and '.'",
    "my-app",
    max_len=253,
    ends=_LOWER_ALNUM,
)
SLUG = CharRule(
    "a hotfix slug",
    _LOWER_ALNUM | {"-"},
    "lower-case letters, digits and '-'",
    "fix-login-crash",
    max_len=48,
    ends=_LOWER_ALNUM,
)
GIT_NAME = CharRule(
    "a branch name", _ALNUM | set("._/-"), "letters, digits, '.', '_', '/' and '-'", "main", max_len=200
)
HOTFIX_TAIL = CharRule(
    "a hotfix branch",
    _ALNUM | set("._-"),
    "letters, digits, '.', '_' and '-'",
    "hotfix/v1.4.3-fix-login",
    max_len=64,
    prefix="hotfix/",
)


def _with_example(problem: str, rule: CharRule, text: str) -> str:
    """Put a corrected example in place of the generic one when one can be derived from ``text``."""
    suggestion = suggest_name(text, max_len=rule.max_len or 63)
    if rule.allowed <= _LOWER_ALNUM | {"-", "."} and suggestion != text:
        return problem.replace(f"(e.g. {rule.example})", f"(e.g. {suggestion})")
    return problem


def _ref_problem(name: str, example: str) -> str | None:
    if not name:
        return f"is empty (e.g. {example})"
    if problem := GIT_NAME.problem(name):
        return problem.replace(f"(e.g. {GIT_NAME.example})", f"(e.g. {example})")
    for bad in ("..", "//"):
        if bad in name:
            return f"has {bad!r}, which git does not allow in a branch name (e.g. {example})"
    for end in (".lock", ".", "/"):
        if name.endswith(end):
            return f"ends with {end!r}, which git does not allow in a branch name (e.g. {example})"
    if name.startswith("/"):
        return f"starts with '/', which git does not allow in a branch name (e.g. {example})"
    if any(part.startswith(("-", ".")) for part in name.split("/")):
        return f"has a part starting with '-' or '.' (git could read it as an option or a hidden name; e.g. {example})"
    return None


def branch_name_problem(name: str, *, hotfix: bool = True) -> str | None:
    """Why ``name`` may not be used as a (hotfix) branch, or None. Checked before git ever sees it."""
    problem = _ref_problem(name, HOTFIX_TAIL.example if hotfix else GIT_NAME.example)
    if problem:
        return problem
    if hotfix and not BRANCH_ALLOWLIST.fullmatch(name):
        return HOTFIX_TAIL.problem(name) or f"is not a hotfix branch; {HOTFIX_TAIL.describe()}"
    return None


def hotfix_branch_problem(name: str, *, prefix: str = "hotfix/v") -> str:
    """Why ``name`` is not ``hotfix/vX.Y.Z-<slug>``, in words (for a name that passed ``branch_name_problem``)."""
    from hotfix_actions.decide.version import version_problem

    if not name.startswith(prefix):
        return f"does not start with {prefix!r}: the layout is hotfix/vX.Y.Z-<slug> (e.g. hotfix/v1.4.3-fix-login)"
    version, dash, slug = name[len(prefix) :].partition("-")
    if problem := version_problem(version):
        return f"has the version {version!r}, which {problem}"
    if not dash or not slug:
        return f"has no '-<slug>' after the version {version} (e.g. hotfix/v{version}-fix-login)"
    if problem := slug_problem(slug):
        return f"has the slug {slug!r}, which {problem}"
    return "is not hotfix/vX.Y.Z-<slug> (e.g. hotfix/v1.4.3-fix-login)"


def slug_problem(slug: str) -> str | None:
    if _SLUG.fullmatch(slug):
        return None
    problem = SLUG.problem(slug) or f"is not a hotfix slug; {SLUG.describe()}"
    return _with_example(problem, SLUG, slug)


def dns1123_label_problem(name: str) -> str | None:
    if name and len(name) <= 63 and _DNS_LABEL.fullmatch(name):
        return None
    return _with_example(DNS_LABEL.problem(name) or f"is not a DNS-1123 label; {DNS_LABEL.describe()}", DNS_LABEL, name)


def dns1123_subdomain_problem(name: str) -> str | None:
    if name and len(name) <= 253 and _DNS_SUBDOMAIN.fullmatch(name):
        return None
    problem = DNS_SUBDOMAIN.problem(name)
    if problem is None:
        for part in name.split("."):
            if not part:
                problem = f"is not a DNS-1123 name: it has an empty part between dots; {DNS_SUBDOMAIN.describe()}"
                break
            if part[0] == "-" or part[-1] == "-":
                problem = (
                    f"is not a DNS-1123 name: its part {part!r} starts or ends with '-'; {DNS_SUBDOMAIN.describe()}"
                )
                break
    return _with_example(problem or f"is not a DNS-1123 name; {DNS_SUBDOMAIN.describe()}", DNS_SUBDOMAIN, name)


_IMAGE_FORM = "an image is registry/name:tag or registry/name@sha256:<64 hex digits> (e.g. ghcr.io/team/app:1.4.3)"


def _image_part_problem(image: str) -> str:
    """Which part of an image reference is wrong and which character, in words."""
    for i, c in enumerate(image):
        if not c.isascii() or not c.isprintable() or c.isspace():
            return f"has {show_char(c)} at position {i + 1}: {_IMAGE_FORM}"
    rest, at, digest = image.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    name, tag = (rest[:colon], rest[colon + 1 :]) if colon > slash else (rest, None)
    first, sep, remainder = name.partition("/")
    has_registry = bool(sep) and ("." in first or ":" in first or first == "localhost")
    path = remainder if has_registry else name
    offset = len(first) + 1 if has_registry else 0
    if has_registry:
        host, _, port = first.partition(":")
        bad = next((i for i, c in enumerate(host) if not (c.isalnum() or c in ".-")), None)
        if bad is not None:
            return f"has {show_char(host[bad])} at position {bad + 1}, in the registry {first!r}: {_IMAGE_FORM}"
        if port and not (port.isdigit() and len(port) <= 5):
            return f"has the registry port {port!r}: a port is 1-5 digits (e.g. localhost:5000/app:1.0)"
    if not path:
        return f"has no repository name: {_IMAGE_FORM}"
    for i, c in enumerate(path):
        if c not in _LOWER_ALNUM and c not in "._-/":
            fixed = "/".join(suggest_name(part, max_len=128) for part in path.split("/") if part)
            hint = f" (e.g. {first + '/' if has_registry else ''}{fixed})"
            return (
                f"has {show_char(c)} at position {offset + i + 1}, in the repository name {path!r}: repository "
                f"names are lower-case letters and digits, separated by '.', '_', '-' or '/'{hint}"
            )
    for part in path.split("/"):
        if not part or part[0] not in _LOWER_ALNUM or part[-1] not in _LOWER_ALNUM:
            return (
                f"has the repository part {part!r}: each part between '/' starts and ends with a lower-case letter "
                "or digit (e.g. ghcr.io/team/app:1.4.3)"
            )
    if tag is not None:
        if not tag:
            return f"ends with ':' but has no tag: a tag follows the ':' (e.g. {name}:1.4.3)"
        bad = next((i for i, c in enumerate(tag) if not (c.isalnum() or c in "_.-")), None)
        if bad is not None:
            where = len(name) + 1 + bad + 1
            return (
                f"has {show_char(tag[bad])} at position {where}, in the tag {tag!r}: a tag is letters, digits, '_', "
                f"'.' and '-' (e.g. {name}:1.4.3)"
            )
        if tag[0] in ".-":
            return (
                f"has the tag {tag!r}, which starts with {tag[0]!r}: a tag starts with a letter, digit or '_' "
                f"(e.g. {name}:1.4.3)"
            )
        if len(tag) > 128:
            return f"has a tag of {len(tag)} characters: at most 128 (e.g. {name}:1.4.3)"
    if at:
        algo, _, hexes = digest.partition(":")
        if algo != "sha256":
            return f"has the digest algorithm {algo!r}: use sha256 (e.g. {rest}@sha256:<64 hex digits>)"
        bad = next((i for i, c in enumerate(hexes) if c not in "0123456789abcdef"), None)
        if bad is not None:
            return (
                f"has {show_char(hexes[bad])} at position {len(rest) + 8 + bad + 1}, in the digest: "
                f"a digest is 64 lower-case hex digits, 0-9 and a-f (e.g. {rest}@sha256:<64 hex digits>)"
            )
        if len(hexes) != 64:
            return (
                f"has a digest of {len(hexes)} hex digits: a sha256 digest has 64 (e.g. {rest}@sha256:<64 hex digits>)"
            )
    return f"is not an image reference: {_IMAGE_FORM}"


def image_problem(image: str, *, require_digest: bool = False) -> str | None:
    if not image:
        return f"is empty: {_IMAGE_FORM}"
    if len(image) > 512:
        return f"is {len(image)} characters long (at most 512): {_IMAGE_FORM}"
    m = _IMAGE.fullmatch(image)
    if not m:
        return _image_part_problem(image)
    if require_digest and not m.group("digest"):
        name = m.group("registry") + "/" if m.group("registry") else ""
        return f"must be pinned by digest (e.g. {name}{m.group('path')}@sha256:<64 hex digits>)"
    return None


def url_problem(url: str) -> str | None:
    """Why a URL may not receive a token or a webhook post: https only (plain http only for a loopback host, the
    local test servers), no user info, one URL."""
    if not url or len(url) > 2048 or any(c.isspace() for c in url):
        return "is not a single URL"
    parts = urlsplit(url)
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname:
        try:
            if parts.hostname == "localhost" or ip_address(parts.hostname).is_loopback:
                return None
        except ValueError:
            pass
    return "is not an https:// URL"
