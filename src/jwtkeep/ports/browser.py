"""What the browser sign-in needs stored: authorization codes, login sessions, consents.

Held in the SQL database (SQLite or PostgreSQL) whichever token store is configured:
codes and login sessions are few and short-lived, their single-use and end steps are one
SQL statement each, and the sessions they start live in the token store like any other.
Nothing stored is a raw code or cookie value: fingerprints only.
"""

from __future__ import annotations

from typing import Protocol

from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.ports.records import AuthorizationCode, CodeRedemption, LoginSession

__all__ = ["AuthorizationCodeStore", "ConsentStore", "LoginSessionStore"]


class AuthorizationCodeStore(Protocol):
    async def add_code(self, code: AuthorizationCode, now: float) -> None:
        """Store a new code (and purge long-expired ones)."""

    async def redeem_code(self, fp: Fingerprint, sid: str, now: float) -> CodeRedemption:
        """Atomically, single use (RFC 6749 §4.1.2): if the code is unexpired and was
        never redeemed, mark it redeemed by session `sid` and return it. If it was
        redeemed before, mark it replayed and return `replayed=True` with the `sid` it
        gave. Otherwise (unknown, expired) `code=None`."""

    async def was_replayed(self, fp: Fingerprint) -> bool:
        """True once a redeemed code has been presented again."""


class LoginSessionStore(Protocol):
    async def add_login(self, login: LoginSession, now: float) -> None:
        """Store a new login session (and purge expired ones)."""

    async def login_by_fingerprint(self, fp: Fingerprint, now: float) -> LoginSession | None:
        """The live login session whose cookie has this fingerprint."""

    async def link_session(self, login_id: str, user_id: str, sid: str) -> bool:
        """Remember that session `sid` was started from this login (SSO, logout). False,
        and nothing stored, if the login session is gone (a logout, logout-all or
        revoke-everything ended it): the caller must end `sid` again."""

    async def end_login(self, login_id: str) -> list[tuple[str, str]]:
        """Delete the login session; return the (user_id, sid) pairs started from it."""

    async def end_user_logins(self, user_id: str) -> int:
        """Delete every login session of the user; return how many there were."""

    async def end_all_logins(self) -> int:
        """Delete every login session of every user; return how many there were."""


class ConsentStore(Protocol):
    async def has_consent(self, user_id: str, client_id: str, scope: str) -> bool:
        """Did the user consent to exactly this scope set (space-separated, sorted)?"""

    async def add_consent(self, user_id: str, client_id: str, scope: str, now: float) -> None:
        """Remember the consent (idempotent)."""
