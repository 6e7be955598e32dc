"""The SQL token store (implements `jwtkeep.ports.TokenStore`).

The allowlist and the sessions live in one database, so ending a session (its refresh
family and every access token it issued) is one transaction. Each port method is one
transaction; see `engine.py` for how SQLite and PostgreSQL make rotation race-free.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from jwtkeep.adapters.sql import access_tokens, sessions
from jwtkeep.adapters.sql.audit import SqlAuditLog, insert_event
from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.errors import conflict_on_duplicate
from jwtkeep.adapters.sql.revocation_events import SqlRevocationFeed, publish, wake_feeds
from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.core.revocation_events import EVERYTHING, RevocationEvent
from jwtkeep.errors import DuplicateSession
from jwtkeep.ports.records import AccessRecord, RefreshState, RotationOutcome, Session
from jwtkeep.ports.repositories import AuditLog
from jwtkeep.ports.token_store import Progress, RotationAudit

if TYPE_CHECKING:
    from sqlalchemy import Connection

__all__ = ["PURGE_BATCH", "PURGE_EVERY", "SqlTokenStore"]

T = TypeVar("T")

# Every PURGE_EVERY-th timed write deletes up to PURGE_BATCH expired rows per table. A write
# adds at most two rows, and PURGE_BATCH > 2 * PURGE_EVERY, so expired rows cannot pile up.
PURGE_EVERY = 64
PURGE_BATCH = 500


class SqlTokenStore:
    """Access-token allowlist plus sessions and refresh families, in SQL."""

    def __init__(
        self,
        engine: SqlEngine,
        owner: object,
        *,
        purge_every: int = PURGE_EVERY,
        purge_batch: int = PURGE_BATCH,
    ) -> None:
        self._engine = engine
        # The store disposes the engine on close() only when nobody holds the Database it
        # came from (`Database.connect(url).tokens`); a shared Database closes it itself.
        self._owner = weakref.ref(owner)
        self._writes = itertools.count()
        self._purge_every = purge_every
        self._purge_batch = purge_batch

    # -- AccessTokenStore ------------------------------------------------------------

    async def add_access(self, record: AccessRecord, now: float) -> None:
        """Allowlist one access token until `record.exp` (nothing if already expired)."""
        if record.exp <= now:
            return

        def work(conn: Connection) -> None:
            self._maybe_purge(conn, now)
            access_tokens.put_access(conn, record)

        await self._engine.write(work)

    async def is_allowed(
        self,
        fp: Fingerprint,
        sub: str,
        sid: str,
        now: float,
        issued_at: float | None = None,
        client_id: str | None = None,
    ) -> bool:
        """True only if `fp` is allowlisted for this `sub` and `sid` and `now < exp`.
        `issued_at` and `client_id` play no part: `end_everything` and
        `end_client_sessions` delete in one transaction and leave no row to refuse."""
        return await self._engine.read(
            lambda conn: access_tokens.is_allowed(conn, fp, sub, sid, now)
        )

    async def remove_access(self, fp: Fingerprint, sub: str, sid: str) -> bool:
        """Revoke one access token (RFC 7009 §2.1). True if a record was present."""

        def work(conn: Connection) -> bool:
            client = access_tokens.delete_access(conn, fp, sub, sid)
            if client is not None:
                publish(conn, RevocationEvent.token(fp, client))
            return client is not None

        return await self._publishing(work)

    async def revoke_signed_by(self, kid: str, now: float) -> int:
        """The key-leak drill: every access token `kid` signed, and its event, at once."""

        def work(conn: Connection) -> int:
            killed = access_tokens.delete_signed_by(conn, kid)
            publish(conn, RevocationEvent.signed_by(kid))
            return killed

        return await self._publishing(work, bulk=True)

    def revocation_feed(self) -> SqlRevocationFeed:
        return SqlRevocationFeed(self._engine)

    async def ping(self) -> None:
        await self._engine.ping()

    async def close(self) -> None:
        if self._owner() is None:
            await self._engine.dispose()

    # -- SessionStore ----------------------------------------------------------------

    async def start_session(
        self, session: Session, refresh_fp: Fingerprint | None, access: AccessRecord, now: float
    ) -> None:
        """Create the session, its current refresh token and the first access token, in one
        transaction. Raise `DuplicateSession` if the sid exists (its primary key): the
        transaction rolls back, so nothing changes."""

        def work(conn: Connection) -> None:
            self._maybe_purge(conn, now)
            sessions.insert_session(conn, session)
            if refresh_fp is not None:
                sessions.insert_refresh(conn, session.sid, refresh_fp, session.absolute_expires_at)
            if access.exp > now:
                access_tokens.put_access(conn, access)

        # The fingerprints are of fresh random tokens: the only key that can collide is
        # the sid, and the database's own check of it holds under concurrent inserts.
        with conflict_on_duplicate(DuplicateSession()):
            await self._engine.write(work)

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
        """Refresh token rotation with reuse detection (RFC 9700 §4.14.2), atomically: one
        write transaction (on SQLite run at once on the event loop, under `BEGIN IMMEDIATE`),
        which also appends `audit(outcome)` to the audit trail (one commit, not two)."""

        def work(conn: Connection) -> RotationOutcome:
            outcome = rotate(conn)
            event = None if audit is None else audit(outcome)
            if event is not None:
                insert_event(conn, event)
            return outcome

        def rotate(conn: Connection) -> RotationOutcome:
            self._maybe_purge(conn, now)
            absolute = sessions.lock_live_session(conn, user_id, sid, now)
            if absolute is None:
                return RotationOutcome.UNKNOWN
            state = sessions.refresh_state(conn, user_id, sid, presented_fp, now)
            if state is None:
                return RotationOutcome.UNKNOWN
            recent = state is RefreshState.USED and reuse_interval > 0
            if recent and sessions.is_recent_parent(conn, sid, presented_fp, now, reuse_interval):
                return RotationOutcome.RACED
            if state is RefreshState.USED:
                # A replayed refresh token: attacker or victim, we cannot tell which, so
                # the whole family goes (RFC 9700 §4.14.2).
                clients = _end_session(conn, user_id, sid)
                publish(conn, RevocationEvent.session(sid, user_id, clients))
                return RotationOutcome.REUSED
            sessions.mark_used(conn, sid, presented_fp, now)
            sessions.insert_refresh(conn, sid, new_refresh_fp, absolute)
            sessions.touch_session(conn, sid, now, idle_timeout, absolute)
            if access.exp > now:
                access_tokens.put_access(conn, access)
            return RotationOutcome.ROTATED

        outcome = await self._engine.write(work)
        if outcome is RotationOutcome.REUSED:
            wake_feeds(self._engine)  # the family's session event
        return outcome

    def keeps_audit(self, audit: AuditLog) -> bool:
        return isinstance(audit, SqlAuditLog) and audit.engine is self._engine

    async def refresh_state(
        self, user_id: str, sid: str, fp: Fingerprint, now: float
    ) -> RefreshState | None:
        return await self._engine.read(
            lambda conn: sessions.refresh_state(conn, user_id, sid, fp, now)
        )

    async def get_session(self, sid: str, now: float) -> Session | None:
        found = await self._engine.read(lambda conn: sessions.live_sessions(conn, now, sid=sid))
        return found[0] if found else None

    async def list_sessions(self, user_id: str, now: float) -> list[Session]:
        return await self._engine.read(
            lambda conn: sessions.live_sessions(conn, now, user_id=user_id)
        )

    async def end_session(self, user_id: str, sid: str) -> bool:
        """End the user's session `sid`: its refresh family and every access token issued
        in it (also for a sid with access tokens but no session, e.g. client_credentials).
        True if anything was removed."""

        def work(conn: Connection) -> bool:
            clients = _end_session(conn, user_id, sid)
            if clients:
                publish(conn, RevocationEvent.session(sid, user_id, clients))
            return bool(clients)

        return await self._publishing(work)

    async def end_user_sessions(self, user_id: str, except_sid: str | None = None) -> list[str]:
        """End every session of the user but `except_sid`, and revoke every access token
        of the user outside `except_sid`; return the sids of the sessions ended, sorted."""

        def work(conn: Connection) -> list[str]:
            sids, clients = sessions.delete_user_sessions(conn, user_id, except_sid)
            clients |= access_tokens.delete_user_access(conn, user_id, except_sid)
            if clients:
                publish(conn, RevocationEvent.user(user_id, clients))
            return sids

        return await self._publishing(work)

    async def end_everything(self, now: float, progress: Progress | None = None) -> int:
        """One transaction empties the three tables, so there is nothing to sweep: on
        PostgreSQL `TRUNCATE` (constant time, whatever the row count) under an ACCESS
        EXCLUSIVE lock, which waits for every rotation in flight and makes every later
        read wait for it; on SQLite a `DELETE` of every row under the write lock. The
        `all` event goes out in the same transaction (every verdict cache empties)."""

        def work(conn: Connection) -> int:
            ended = sessions.end_everything(conn, now)
            publish(conn, EVERYTHING)
            return ended

        ended = await self._publishing(work, bulk=True)
        if progress is not None:
            progress(ended, ended)
        return ended

    async def end_client_sessions(
        self, client_id: str, now: float, progress: Progress | None = None
    ) -> int:
        """One transaction: the app's sessions, their refresh families, its access tokens,
        and an `all` event (the event schema names no app, and a verdict cache does not
        know a token's app: dropping everything is the safe reading)."""

        def work(conn: Connection) -> int:
            ended = sessions.delete_client_sessions(conn, client_id, now)
            access_tokens.delete_client_access(conn, client_id)
            publish(conn, EVERYTHING)
            return ended

        ended = await self._publishing(work, bulk=True)
        if progress is not None:
            progress(ended, ended)
        return ended

    # -- housekeeping ----------------------------------------------------------------

    async def _publishing(self, work: Callable[[Connection], T], *, bulk: bool = False) -> T:
        """A write that may publish a revocation event: once it has committed, this
        process's SQLite feeds read it at once (`wake_feeds`), not at their next poll.
        `bulk`: a long one (a sweep), run on the writer thread (`SqlEngine.write`)."""
        result = await self._engine.write(work, bulk=bulk)
        wake_feeds(self._engine)
        return result

    def _maybe_purge(self, conn: Connection, now: float) -> None:
        if next(self._writes) % self._purge_every == 0:
            access_tokens.purge_expired(conn, now, self._purge_batch)


def _end_session(conn: Connection, user_id: str, sid: str) -> set[str]:
    """End the session and its access tokens; the clients of what was deleted (empty if
    nothing was), for the revocation event."""
    # The session row first: on PostgreSQL this waits for a rotation holding its lock, so
    # the access token that rotation adds is committed before, and caught by, the delete.
    client = sessions.delete_session(conn, user_id, sid)
    clients = access_tokens.delete_session_access(conn, user_id, sid)
    return clients | {client} if client is not None else clients
