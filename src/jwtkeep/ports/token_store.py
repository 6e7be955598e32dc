"""The token store: the second layer (DESIGN.md "Contract: the token store").

Semantics every adapter must keep (checked by `tests/contract/`):
- `add`/`start`/`rotate` write before the token is returned; if they raise, no token is
  handed out.
- A record lives exactly until the token's `exp` (store-side TTL; no cron job).
- Ending a session removes its access-token fingerprints and its refresh family at once.
- Any failure to reach the store raises `jwtkeep.errors.StoreUnavailable`; never a
  silent False that could be mistaken for "revoked", never a True.
- Nothing stored is a raw token: fingerprints, ids and metadata only.
- A session id is never taken over: starting a session with a sid that exists raises
  `DuplicateSession` and changes nothing.
- Every change that makes an access token unacceptable publishes a revocation event
  (`jwtkeep.core.revocation_events`) in the same atomic step: `remove_access` a token
  event, `end_session` and reuse in `rotate_refresh` a session event, `end_user_sessions`
  a user event, `revoke_signed_by` a kid event, `end_everything` and
  `end_client_sessions` an `all` event (with the cut-off, before any sweep).
  `revocation_feed()` subscribes to them.

Every method takes both `sub` and `sid` where it could need them, so an adapter can put
all of a user's keys in one Redis Cluster hash slot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.ports.records import (
    AccessRecord,
    AuditEvent,
    RefreshState,
    RotationOutcome,
    Session,
)
from jwtkeep.ports.repositories import AuditLog
from jwtkeep.ports.revocation_feed import RevocationFeed

__all__ = ["AccessTokenStore", "Progress", "RotationAudit", "SessionStore", "TokenStore"]

Progress = Callable[[int, int], None]
"""`progress(done, total)`: a long step's headway (total is an estimate; may grow)."""

RotationAudit = Callable[[RotationOutcome], AuditEvent | None]
"""The audit event of a refresh rotation's outcome (None: nothing to record)."""


class AccessTokenStore(Protocol):
    async def add_access(self, record: AccessRecord, now: float) -> None:
        """Allowlist one access token until `record.exp`."""

    async def is_allowed(
        self,
        fp: Fingerprint,
        sub: str,
        sid: str,
        now: float,
        issued_at: float | None = None,
        client_id: str | None = None,
    ) -> bool:
        """True if the fingerprint is allowlisted and not past its expiry, and the token
        (issued at `issued_at`, its `iat`, to `client_id`) was not ended by
        `end_everything` or `end_client_sessions`: a store that ends them with a cut-off
        refuses tokens issued at or before it, and a token of unknown `issued_at` as if
        it were."""

    async def remove_access(self, fp: Fingerprint, sub: str, sid: str) -> bool:
        """Revoke one access token (RFC 7009). True if it was present."""

    async def revoke_signed_by(self, kid: str, now: float) -> int:
        """The key-leak drill: publish the kid event, then drop every access token that
        key signed; the number dropped."""

    def revocation_feed(self) -> RevocationFeed:
        """A subscription to this store's revocation events (one per listener)."""
        ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    async def close(self) -> None: ...


class SessionStore(Protocol):
    async def start_session(
        self, session: Session, refresh_fp: Fingerprint | None, access: AccessRecord, now: float
    ) -> None:
        """Atomically create the session, its current refresh fingerprint (if any) and
        the first access token's allowlist record.

        A sid that exists (a live session, of this user or another) raises
        `jwtkeep.errors.DuplicateSession` and changes nothing: neither the existing
        session, nor its refresh family, nor its access tokens, nor who owns the sid."""

    async def rotate_refresh(
        self,
        user_id: str,
        sid: str,
        presented_fp: Fingerprint,
        new_refresh_fp: Fingerprint,
        access: AccessRecord,
        now: float,
        idle_timeout: int,
        reuse_interval: float = 0.0,
        audit: RotationAudit | None = None,
    ) -> RotationOutcome:
        """Atomically (RFC 9700 §4.14.2 refresh token rotation):
        - if `presented_fp` is the session's current refresh token and the session is
          alive: it becomes used, `new_refresh_fp` becomes current, `access` is
          allowlisted, `last_used_at = now`, `idle_expires_at = min(now + idle_timeout,
          absolute_expires_at)`; ROTATED.
        - if `presented_fp` is the newest used-up token (the current one's parent) and it
          was used up at most `reuse_interval` seconds ago: change nothing; RACED (a
          client's own tabs refreshing at once; `JWTKEEP_REFRESH_REUSE_INTERVAL`).
        - if `presented_fp` is one of the session's used refresh tokens (the newest 32 at
          least are remembered; older ones may be forgotten so a long session's family
          stays bounded): end the whole session (refresh family and all its access
          tokens); REUSED.
        - otherwise (no session, expired, unknown token): change nothing; UNKNOWN.

        `audit`, only for a store that `keeps_audit` the caller's trail: `audit(outcome)`
        (unless None) is appended to the audit trail in the same atomic step, so the
        rotation and its event are committed together or not at all."""

    def keeps_audit(self, audit: AuditLog) -> bool:
        """True if `audit` lives in this store's own database (one SQL database for both):
        `rotate_refresh` can then record into it in the rotation's transaction."""
        ...

    async def refresh_state(
        self, user_id: str, sid: str, fp: Fingerprint, now: float
    ) -> RefreshState | None:
        """CURRENT if `fp` is the live session's current refresh token, USED if it is one of
        its used-up ones, None otherwise (for RFC 7662 introspection and RFC 7009 revocation)."""

    async def get_session(self, sid: str, now: float) -> Session | None:
        """The live session, or None if ended or expired."""

    async def list_sessions(self, user_id: str, now: float) -> list[Session]:
        """The user's live sessions, newest first."""

    async def end_session(self, user_id: str, sid: str) -> bool:
        """End one session: its refresh family and every access token it issued."""

    async def end_user_sessions(self, user_id: str, except_sid: str | None = None) -> list[str]:
        """End every session of the user (but `except_sid`); return the sids ended."""

    async def end_everything(self, now: float, progress: Progress | None = None) -> int:
        """End every session and access token of every user (`sessions revoke-everything`,
        the answer to a stolen database or an unknown breach), at once: when the first
        step is done, none that exists is accepted any more, on any replica. A store may
        get there with a cut-off (refusing whatever was issued or started at or before
        `now`) and sweep the leftovers afterwards, reporting to `progress`. Return the
        number of live sessions ended."""

    async def end_client_sessions(
        self, client_id: str, now: float, progress: Progress | None = None
    ) -> int:
        """As `end_everything`, for every session (and its access tokens) issued to one
        app (`app disable`, `app delete`). Its client_credentials tokens, whose `sub`
        is the app, are the caller's to end (`end_user_sessions(app.id)`)."""


class TokenStore(AccessTokenStore, SessionStore, Protocol):
    """One backend holds both, so ending a session is one atomic step."""
