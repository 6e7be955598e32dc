"""Sessions and their refresh-token families (RFC 9700 §4.14.2, RFC 6749 §10.4).

Each session is one row; each refresh token it ever issued is one row holding the token's
fingerprint and its state: `current` (the one that may be used) or `used` (already
exchanged, kept until the session ends so that a replay is recognised as reuse).

A session is live while `now < expires_at` where `expires_at = min(idle_expires_at,
absolute_expires_at)`. Every statement here runs inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, insert, select, update

from jwtkeep.adapters.sql.schema import RefreshTokenRow, SessionRow
from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.ports.records import RefreshState, Session

__all__ = [
    "USED_KEPT",
    "delete_session",
    "delete_user_sessions",
    "insert_refresh",
    "insert_session",
    "live_sessions",
    "lock_live_session",
    "mark_used",
    "refresh_state",
    "touch_session",
]


USED_KEPT = 32  # as the Redis store keeps (adapters/redis/rotate_refresh.lua)


def insert_session(conn: Connection, session: Session) -> None:
    conn.execute(
        insert(SessionRow).values(
            sid=session.sid,
            user_id=session.user_id,
            client_id=session.client_id,
            scope=session.scope,
            created_at=session.created_at,
            last_used_at=session.last_used_at,
            idle_expires_at=session.idle_expires_at,
            absolute_expires_at=session.absolute_expires_at,
            expires_at=session.expires_at(),
            user_agent=session.user_agent,
            ip=session.ip,
        )
    )


def insert_refresh(conn: Connection, sid: str, fp: Fingerprint, absolute_expires_at: float) -> None:
    conn.execute(
        insert(RefreshTokenRow).values(
            fingerprint=bytes(fp),
            sid=sid,
            state=RefreshState.CURRENT.value,
            expires_at=absolute_expires_at,
        )
    )


def live_sessions(conn: Connection, now: float, **where: str) -> list[Session]:
    """Live sessions matching `where` (column=value), newest first."""
    query = select(SessionRow.__table__).where(SessionRow.expires_at > now)
    for column, value in where.items():
        query = query.where(getattr(SessionRow, column) == value)
    query = query.order_by(SessionRow.created_at.desc(), SessionRow.sid.desc())
    return [_session(row) for row in (conn.execute(query)).all()]


def lock_live_session(conn: Connection, user_id: str, sid: str, now: float) -> float | None:
    """Lock the user's live session row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite
    already holds the database write lock) and return its absolute expiry, or None.

    Locking the session row first serializes every rotation and reuse check of one refresh
    family, so two concurrent uses of one refresh token cannot both succeed (no fork)."""
    query = (
        select(SessionRow.absolute_expires_at)
        .where(SessionRow.sid == sid, SessionRow.user_id == user_id, SessionRow.expires_at > now)
        .with_for_update()
    )
    absolute: float | None = (conn.execute(query)).scalar()
    return absolute


def refresh_state(
    conn: Connection, user_id: str, sid: str, fp: Fingerprint, now: float
) -> RefreshState | None:
    """The state of `fp` in the user's live session `sid`, or None."""
    query = (
        select(RefreshTokenRow.state)
        .join(SessionRow, SessionRow.sid == RefreshTokenRow.sid)
        .where(
            RefreshTokenRow.fingerprint == bytes(fp),
            RefreshTokenRow.sid == sid,
            SessionRow.user_id == user_id,
            SessionRow.expires_at > now,
        )
    )
    state: str | None = (conn.execute(query)).scalar()
    return None if state is None else RefreshState(state)


def mark_used(conn: Connection, sid: str, fp: Fingerprint, now: float) -> None:
    """Use up `fp`, and forget all but the newest `USED_KEPT` used-up fingerprints of the
    session: a session refreshed every 5 minutes for 30 days would otherwise keep 8,640.
    Reuse of an older one is then unknown (refused all the same) rather than reuse."""
    conn.execute(
        update(RefreshTokenRow)
        .where(RefreshTokenRow.fingerprint == bytes(fp))
        .values(state=RefreshState.USED.value, used_at=now)
    )
    used = (RefreshTokenRow.sid == sid) & (RefreshTokenRow.state == RefreshState.USED.value)
    newest = (
        select(RefreshTokenRow.fingerprint)
        .where(used)
        .order_by(RefreshTokenRow.used_at.desc())
        .limit(USED_KEPT)
    )
    conn.execute(delete(RefreshTokenRow).where(used, RefreshTokenRow.fingerprint.not_in(newest)))


def touch_session(
    conn: Connection, sid: str, now: float, idle_timeout: int, absolute: float
) -> None:
    """Record a use: the idle deadline moves, never past the absolute lifetime."""
    idle_expires_at = min(now + idle_timeout, absolute)
    conn.execute(
        update(SessionRow)
        .where(SessionRow.sid == sid)
        .values(
            last_used_at=now,
            idle_expires_at=idle_expires_at,
            expires_at=min(idle_expires_at, absolute),
        )
    )


def delete_session(conn: Connection, user_id: str, sid: str) -> bool:
    """Delete the user's session `sid` and its whole refresh family; True if it existed."""
    result = conn.execute(
        delete(SessionRow).where(SessionRow.sid == sid, SessionRow.user_id == user_id)
    )
    if result.rowcount == 0:
        return False
    # ON DELETE CASCADE does this too; saying it keeps the rule visible and independent
    # of the SQLite foreign_keys pragma.
    conn.execute(delete(RefreshTokenRow).where(RefreshTokenRow.sid == sid))
    return True


def delete_user_sessions(conn: Connection, user_id: str, except_sid: str | None) -> list[str]:
    """Delete every session of the user but `except_sid` and their refresh families."""
    query = delete(SessionRow).where(SessionRow.user_id == user_id)
    if except_sid is not None:
        query = query.where(SessionRow.sid != except_sid)
    sids = sorted((conn.execute(query.returning(SessionRow.sid))).scalars())
    if sids:
        conn.execute(delete(RefreshTokenRow).where(RefreshTokenRow.sid.in_(sids)))
    return sids


def _session(row: Row[Any]) -> Session:
    return Session(
        sid=row.sid,
        user_id=row.user_id,
        client_id=row.client_id,
        scope=row.scope,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        idle_expires_at=row.idle_expires_at,
        absolute_expires_at=row.absolute_expires_at,
        user_agent=row.user_agent,
        ip=row.ip,
    )
