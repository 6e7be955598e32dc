"""Sessions and their refresh-token families (RFC 9700 §4.14.2, RFC 6749 §10.4).

Each session is one row; each refresh token it ever issued is one row holding the token's
fingerprint and its state: `current` (the one that may be used) or `used` (already
exchanged, kept until the session ends so that a replay is recognised as reuse).

A session is live while `now < expires_at` where `expires_at = min(idle_expires_at,
absolute_expires_at)`. Every statement here runs inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from jwtkeep.adapters.sql.schema import AccessTokenRow, RefreshTokenRow, SessionRow
from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.ports.records import RefreshState, Session

__all__ = [
    "USED_KEPT",
    "delete_client_sessions",
    "delete_session",
    "delete_user_sessions",
    "end_everything",
    "insert_refresh",
    "insert_session",
    "is_recent_parent",
    "live_sessions",
    "lock_live_session",
    "mark_used",
    "refresh_state",
    "touch_session",
]


USED_KEPT = 32  # as the Redis store keeps (adapters/redis/rotate_refresh.lua)


async def insert_session(conn: AsyncConnection, session: Session) -> None:
    await conn.execute(
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


async def insert_refresh(
    conn: AsyncConnection, sid: str, fp: Fingerprint, absolute_expires_at: float
) -> None:
    await conn.execute(
        insert(RefreshTokenRow).values(
            fingerprint=bytes(fp),
            sid=sid,
            state=RefreshState.CURRENT.value,
            expires_at=absolute_expires_at,
        )
    )


async def live_sessions(conn: AsyncConnection, now: float, **where: str) -> list[Session]:
    """Live sessions matching `where` (column=value), newest first."""
    query = select(SessionRow.__table__).where(SessionRow.expires_at > now)
    for column, value in where.items():
        query = query.where(getattr(SessionRow, column) == value)
    query = query.order_by(SessionRow.created_at.desc(), SessionRow.sid.desc())
    return [_session(row) for row in (await conn.execute(query)).all()]


async def lock_live_session(
    conn: AsyncConnection, user_id: str, sid: str, now: float
) -> float | None:
    """Lock the user's live session row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite
    already holds the database write lock) and return its absolute expiry, or None.

    Locking the session row first serializes every rotation and reuse check of one refresh
    family, so two concurrent uses of one refresh token cannot both succeed (no fork)."""
    query = (
        select(SessionRow.absolute_expires_at)
        .where(SessionRow.sid == sid, SessionRow.user_id == user_id, SessionRow.expires_at > now)
        .with_for_update()
    )
    absolute: float | None = (await conn.execute(query)).scalar()
    return absolute


async def refresh_state(
    conn: AsyncConnection, user_id: str, sid: str, fp: Fingerprint, now: float
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
    state: str | None = (await conn.execute(query)).scalar()
    return None if state is None else RefreshState(state)


async def mark_used(conn: AsyncConnection, sid: str, fp: Fingerprint, now: float) -> None:
    """Use up `fp`, and forget all but the newest `USED_KEPT` used-up fingerprints of the
    session: a session refreshed every 5 minutes for 30 days would otherwise keep 8,640.
    Reuse of an older one is then unknown (refused all the same) rather than reuse."""
    await conn.execute(
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
    await conn.execute(
        delete(RefreshTokenRow).where(used, RefreshTokenRow.fingerprint.not_in(newest))
    )


async def is_recent_parent(
    conn: AsyncConnection, sid: str, fp: Fingerprint, now: float, interval: float
) -> bool:
    """Is `fp` the session's newest used-up token (the current one's parent), used up at
    most `interval` seconds ago? (`JWTKEEP_REFRESH_REUSE_INTERVAL`.)"""
    used = (RefreshTokenRow.sid == sid) & (RefreshTokenRow.state == RefreshState.USED.value)
    newest = (
        await conn.execute(
            select(RefreshTokenRow.fingerprint, RefreshTokenRow.used_at)
            .where(used)
            .order_by(RefreshTokenRow.used_at.desc())
            .limit(1)
        )
    ).first()
    if newest is None or newest.fingerprint != bytes(fp) or newest.used_at is None:
        return False
    return bool(now - newest.used_at <= interval)


async def touch_session(
    conn: AsyncConnection, sid: str, now: float, idle_timeout: int, absolute: float
) -> None:
    """Record a use: the idle deadline moves, never past the absolute lifetime."""
    idle_expires_at = min(now + idle_timeout, absolute)
    await conn.execute(
        update(SessionRow)
        .where(SessionRow.sid == sid)
        .values(
            last_used_at=now,
            idle_expires_at=idle_expires_at,
            expires_at=min(idle_expires_at, absolute),
        )
    )


async def delete_session(conn: AsyncConnection, user_id: str, sid: str) -> bool:
    """Delete the user's session `sid` and its whole refresh family; True if it existed."""
    result = await conn.execute(
        delete(SessionRow).where(SessionRow.sid == sid, SessionRow.user_id == user_id)
    )
    if result.rowcount == 0:
        return False
    # ON DELETE CASCADE does this too; saying it keeps the rule visible and independent
    # of the SQLite foreign_keys pragma.
    await conn.execute(delete(RefreshTokenRow).where(RefreshTokenRow.sid == sid))
    return True


async def delete_user_sessions(
    conn: AsyncConnection, user_id: str, except_sid: str | None
) -> list[str]:
    """Delete every session of the user but `except_sid` and their refresh families."""
    query = delete(SessionRow).where(SessionRow.user_id == user_id)
    if except_sid is not None:
        query = query.where(SessionRow.sid != except_sid)
    sids = sorted((await conn.execute(query.returning(SessionRow.sid))).scalars())
    if sids:
        await conn.execute(delete(RefreshTokenRow).where(RefreshTokenRow.sid.in_(sids)))
    return sids


async def delete_client_sessions(conn: AsyncConnection, client_id: str, now: float) -> int:
    """Delete every session of one app and their refresh families; the number live."""
    query = delete(SessionRow).where(SessionRow.client_id == client_id)
    rows = (await conn.execute(query.returning(SessionRow.sid, SessionRow.expires_at))).all()
    sids = [row.sid for row in rows]
    for start in range(0, len(sids), 500):
        chunk = sids[start : start + 500]
        await conn.execute(delete(RefreshTokenRow).where(RefreshTokenRow.sid.in_(chunk)))
    return sum(1 for row in rows if row.expires_at > now)


async def end_everything(conn: AsyncConnection, now: float) -> int:
    """Every session, refresh token and access token goes; the number of live sessions."""
    live = select(func.count()).select_from(SessionRow).where(SessionRow.expires_at > now)
    if conn.dialect.name == "postgresql":
        await conn.execute(
            text("LOCK TABLE sessions, refresh_tokens, access_tokens IN ACCESS EXCLUSIVE MODE")
        )
        ended = int((await conn.execute(live)).scalar() or 0)
        await conn.execute(text("TRUNCATE refresh_tokens, access_tokens, sessions"))
        return ended
    ended = int((await conn.execute(live)).scalar() or 0)
    for table in (RefreshTokenRow, AccessTokenRow, SessionRow):
        await conn.execute(delete(table))
    return ended


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
