"""Redirection URIs: which may be registered, and how a requested one is matched.

- Registered: an absolute URI without a fragment (RFC 6749 §3.1.2), that is `https`, or
  `http` on a loopback IP literal or `localhost` only (RFC 8252 §7.3, §8.3), or a
  private-use scheme of a native app named after a domain it owns, with a dot
  (`com.example.app:/callback`, RFC 8252 §7.1). No user information (`user@host`).
- Matched exactly, as strings (RFC 9700 §4.1.3, §2.1: "exact string matching"), except
  that for an `http` loopback URI the port may differ: native apps listen on an ephemeral
  port chosen at the time of the request (RFC 8252 §7.3: "MUST allow any port").
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from jwtkeep.core.hosts import is_loopback
from jwtkeep.errors import InvalidValue

__all__ = ["MAX_REDIRECT_URI", "check_redirect_uri", "origin_of", "redirect_uri_matches"]

MAX_REDIRECT_URI = 512
_PRIVATE_SCHEME = re.compile(r"[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+")


def _loopback_http(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and is_loopback(parts.hostname or "")


def check_redirect_uri(uri: str) -> str:
    """The URI if it may be registered; else InvalidValue saying why."""
    if not uri or len(uri) > MAX_REDIRECT_URI or any(c.isspace() or ord(c) < 0x21 for c in uri):
        raise InvalidValue(f"redirect URI must be 1-{MAX_REDIRECT_URI} characters, no spaces")
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise InvalidValue("redirect URI must not have a fragment (RFC 6749 §3.1.2)")
    if parts.scheme in ("https", "http"):
        if not parts.hostname or "@" in parts.netloc:
            raise InvalidValue("redirect URI needs a host and no user information")
        if parts.scheme == "http" and not _loopback_http(uri):
            raise InvalidValue(
                "redirect URI must be https, or http on a loopback address (RFC 8252 §7.3)"
            )
        return uri
    if _PRIVATE_SCHEME.fullmatch(parts.scheme) and not parts.netloc.startswith("/"):
        return uri  # RFC 8252 §7.1: reverse-domain private-use scheme
    raise InvalidValue(
        "redirect URI must be https, http on loopback, or a private-use scheme with a dot "
        "(com.example.app:/callback, RFC 8252 §7.1)"
    )


def redirect_uri_matches(requested: str, registered: tuple[str, ...]) -> str | None:
    """The registered URI `requested` matches (exactly; any port on http loopback)."""
    if requested in registered:
        return requested
    if not _loopback_http(requested):
        return None
    asked = urlsplit(requested)
    for one in registered:
        known = urlsplit(one)
        if (
            _loopback_http(one)
            and known.hostname == asked.hostname
            and (known.path, known.query) == (asked.path, asked.query)
            and "@" not in asked.netloc
        ):
            try:
                asked.port  # noqa: B018 (a port must be a number in range)
            except ValueError:
                return None
            return requested
    return None


def origin_of(uri: str) -> str | None:
    """The Web origin (RFC 6454 §4) of an http(s) URI, `scheme://host[:port]`; else None."""
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}".lower()
