"""Granting scopes (RFC 6749 §3.3) and narrowing them on refresh (RFC 6749 §6).

`account` and `openid` (the account API, `jwtkeep.core.scopes.ACCOUNT_SCOPES`) are granted
only when asked for explicitly, and only to an app allowed account access: RFC 6749 §3.3
lets the server grant less than the default or refuse, and a token for the account API
must never be what an app gets without asking (DESIGN.md "Contract: tokens").
"""

from __future__ import annotations

from jwtkeep.core.scopes import ACCOUNT_SCOPES, parse_scope
from jwtkeep.errors import InvalidScope

__all__ = ["grant_scope", "narrow_scope"]


def _parse(text: str | None) -> frozenset[str]:
    try:
        return parse_scope(text)
    except ValueError:
        raise InvalidScope("The requested scope is malformed.") from None


def grant_scope(
    requested: str | None, allowed: tuple[str, ...], *, account_access: bool = False
) -> str:
    """The requested scopes if all are allowed; the app's own scopes (never an account
    scope) if none are requested. `account_access` adds `account`/`openid` to what may be
    asked for (never for client_credentials: its `sub` is the app, not a user)."""
    own = frozenset(allowed) - ACCOUNT_SCOPES
    wanted = _parse(requested)
    if not wanted:
        return " ".join(sorted(own))
    if not account_access and not wanted.isdisjoint(ACCOUNT_SCOPES):
        raise InvalidScope("This client may not ask for the account or openid scope.")
    if not wanted <= own | ACCOUNT_SCOPES:
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
