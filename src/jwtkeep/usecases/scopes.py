"""Granting scopes (RFC 6749 §3.3) and narrowing them on refresh (RFC 6749 §6)."""

from __future__ import annotations

from jwtkeep.core.scopes import parse_scope
from jwtkeep.errors import InvalidScope

__all__ = ["grant_scope", "narrow_scope"]


def _parse(text: str | None) -> frozenset[str]:
    try:
        return parse_scope(text)
    except ValueError:
        raise InvalidScope("The requested scope is malformed.") from None


def grant_scope(requested: str | None, allowed: tuple[str, ...]) -> str:
    """The requested scopes if all are allowed; all allowed scopes if none are requested."""
    wanted = _parse(requested)
    if not wanted:
        return " ".join(sorted(allowed))
    if not wanted <= frozenset(allowed):
        raise InvalidScope("The requested scope exceeds what this client may ask for.")
    return " ".join(sorted(wanted))


def narrow_scope(requested: str | None, granted: str) -> str:
    """RFC 6749 §6: a refresh may ask for fewer scopes, never more."""
    wanted = _parse(requested)
    original = frozenset(granted.split())
    if not wanted:
        return granted
    if not wanted <= original:
        raise InvalidScope("The requested scope exceeds the scope originally granted.")
    return " ".join(sorted(wanted))
