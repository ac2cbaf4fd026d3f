"""Allowlists checked before any value is used anywhere: branch names, DNS-1123 names, image references."""

from __future__ import annotations

import re
from ipaddress import ip_address
from urllib.parse import urlsplit

__all__ = [
    "BRANCH_ALLOWLIST",
    "branch_name_problem",
    "dns1123_label_problem",
    "dns1123_subdomain_problem",
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


def _ref_problem(name: str) -> str | None:
    if not name:
        return "is empty"
    if len(name) > 200:
        return f"is {len(name)} characters long (at most 200)"
    if not name.isascii():
        return "contains non-ASCII characters"
    if not _GENERIC_REF.match(name):
        bad = sorted({c for c in name if not (c.isalnum() or c in "._/-")})
        return "contains characters outside [A-Za-z0-9._/-]: " + " ".join(repr(c) for c in bad[:8])
    if ".." in name or "//" in name or name.endswith((".", "/", ".lock")) or name.startswith("/"):
        return "is not a valid git ref name ('..', '//', or a bad ending)"
    if any(part.startswith(("-", ".")) for part in name.split("/")):
        return "has a component starting with '-' or '.' (could be read as an option)"
    return None


def branch_name_problem(name: str, *, hotfix: bool = True) -> str | None:
    """Why ``name`` may not be used as a (hotfix) branch, or None. Checked before git ever sees it."""
    problem = _ref_problem(name)
    if problem:
        return problem
    if hotfix and not BRANCH_ALLOWLIST.match(name):
        return "is not of the form hotfix/<name> with at most 64 characters of [A-Za-z0-9._-] after 'hotfix/'"
    return None


def slug_problem(slug: str) -> str | None:
    if not _SLUG.match(slug):
        return "must be 1-48 characters of [a-z0-9-], starting and ending with a letter or digit"
    return None


def dns1123_label_problem(name: str) -> str | None:
    if not name or len(name) > 63 or not _DNS_LABEL.match(name):
        return "is not a DNS-1123 label (lower-case letters, digits and '-', at most 63, alphanumeric at both ends)"
    return None


def dns1123_subdomain_problem(name: str) -> str | None:
    if not name or len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        return "is not a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', at most 253)"
    return None


def image_problem(image: str, *, require_digest: bool = False) -> str | None:
    if not image or len(image) > 512:
        return "is empty or longer than 512 characters"
    m = _IMAGE.match(image)
    if not m:
        return "is not an image reference like registry/name:tag or registry/name@sha256:<64 hex>"
    if require_digest and not m.group("digest"):
        return "must be pinned by digest (@sha256:<64 hex>)"
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
