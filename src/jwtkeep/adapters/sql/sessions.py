"""Sessions and their refresh-token families (RFC 9700 §4.14.2, RFC 6749 §10.4).

Each session is one row; each refresh token it ever issued is one row holding the token's
fingerprint and its state: `current` (the one that may be used) or `used` (already
exchanged, kept until the session ends so that a replay is recognised as reuse).

A session is live while `now < expires_at` where `expires_at = min(idle_expires_at,
absolute_expires_at)`. Every statement here runs inside the caller's transaction.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from jwtkeep.adapters.sql import prepared
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

# The statements of every rotation, built once on the Core tables and run through
# `prepared` (on SQLite compiled once, then straight to sqlite3, which keeps them prepared).
_SESSIONS = cast(Table, SessionRow.__table__)
_REFRESH = cast(Table, RefreshTokenRow.__table__)
_INSERT_SESSION = insert(_SESSIONS)
_INSERT_REFRESH = insert(_REFRESH)
_LIVE_SESSION = (
    select(_SESSIONS.c.absolute_expires_at)
    .where(
        _SESSIONS.c.sid == bindparam("p_sid"),
        _SESSIONS.c.user_id == bindparam("p_user_id"),
        _SESSIONS.c.expires_at > bindparam("p_now"),
    )
    .with_for_update()
)
_REFRESH_STATE = (
    select(_REFRESH.c.state)
    .join(_SESSIONS, _SESSIONS.c.sid == _REFRESH.c.sid)
    .where(
        _REFRESH.c.fingerprint == bindparam("p_fp"),
        _REFRESH.c.sid == bindparam("p_sid"),
        _SESSIONS.c.user_id == bindparam("p_user_id"),
        _SESSIONS.c.expires_at > bindparam("p_now"),
    )
)
_MARK_USED = (
    update(_REFRESH)
    .where(_REFRESH.c.fingerprint == bindparam("p_fp"))
    .values(state=RefreshState.USED.value, used_at=bindparam("p_now"))
)
_USED = (_REFRESH.c.sid == bindparam("p_sid")) & (_REFRESH.c.state == RefreshState.USED.value)
# The used-up ones past the newest USED_KEPT (one at most, after each rotation): one
# sorted scan of the session's rows, where a `NOT IN` of the kept ones built and probed a
# second list (measured on SQLite with 33 used rows: 27 against 41 microseconds).
_FORGET_OLD_USED = delete(_REFRESH).where(
    _REFRESH.c.fingerprint.in_(
        select(_REFRESH.c.fingerprint)
        .where(_USED)
        .order_by(_REFRESH.c.used_at.desc())
        .offset(USED_KEPT)
    ),
)
_NEWEST_USED = (
    select(_REFRESH.c.fingerprint, _REFRESH.c.used_at)
    .where(_USED)
    .order_by(_REFRESH.c.used_at.desc())
    .limit(1)
)
_TOUCH_SESSION = (
    update(_SESSIONS)
    .where(_SESSIONS.c.sid == bindparam("p_sid"))
    .values(
        last_used_at=bindparam("p_now"),
        idle_expires_at=bindparam("p_idle"),
        expires_at=bindparam("p_expires"),
    )
)


def insert_session(conn: Connection, session: Session) -> None:
    prepared.run(
        conn,
        _INSERT_SESSION,
        {
            "sid": session.sid,
            "user_id": session.user_id,
            "client_id": session.client_id,
            "scope": session.scope,
            "created_at": session.created_at,
            "last_used_at": session.last_used_at,
            "idle_expires_at": session.idle_expires_at,
            "absolute_expires_at": session.absolute_expires_at,
            "expires_at": session.expires_at(),
            "user_agent": session.user_agent,
            "ip": session.ip,
        },
    )


def insert_refresh(conn: Connection, sid: str, fp: Fingerprint, absolute_expires_at: float) -> None:
    values = {"fingerprint": bytes(fp), "sid": sid, "state": RefreshState.CURRENT.value,
              "expires_at": absolute_expires_at}  # fmt: skip
    prepared.run(conn, _INSERT_REFRESH, values)


def live_sessions(conn: Connection, now: float, **where: str) -> list[Session]:
    """Live sessions matching `where` (`sid=` or `user_id=`), newest first."""
    ((column, value),) = where.items()
    rows = prepared.rows(conn, _LIVE_SESSIONS[column], {"p_value": value, "p_now": now})
    return [_session(row) for row in rows]


def _live_sessions_by(column: str) -> Select[Any]:
    return (
        select(_SESSIONS)
        .where(
            _SESSIONS.c.expires_at > bindparam("p_now"), _SESSIONS.c[column] == bindparam("p_value")
        )
        .order_by(_SESSIONS.c.created_at.desc(), _SESSIONS.c.sid.desc())
    )


_LIVE_SESSIONS = {column: _live_sessions_by(column) for column in ("sid", "user_id")}


def lock_live_session(conn: Connection, user_id: str, sid: str, now: float) -> float | None:
    """Lock the user's live session row (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite
    already holds the database write lock) and return its absolute expiry, or None.

    Locking the session row first serializes every rotation and reuse check of one refresh
    family, so two concurrent uses of one refresh token cannot both succeed (no fork)."""
    params = {"p_sid": sid, "p_user_id": user_id, "p_now": now}
    absolute: float | None = prepared.scalar(conn, _LIVE_SESSION, params)
    return absolute


def refresh_state(
    conn: Connection, user_id: str, sid: str, fp: Fingerprint, now: float
) -> RefreshState | None:
    """The state of `fp` in the user's live session `sid`, or None."""
    params = {"p_fp": bytes(fp), "p_sid": sid, "p_user_id": user_id, "p_now": now}
    state: str | None = prepared.scalar(conn, _REFRESH_STATE, params)
    return None if state is None else RefreshState(state)


def mark_used(conn: Connection, sid: str, fp: Fingerprint, now: float) -> None:
    """Use up `fp`, and forget all but the newest `USED_KEPT` used-up fingerprints of the
    session: a session refreshed every 5 minutes for 30 days would otherwise keep 8,640.
    Reuse of an older one is then unknown (refused all the same) rather than reuse."""
    prepared.run(conn, _MARK_USED, {"p_fp": bytes(fp), "p_now": now})
    prepared.run(conn, _FORGET_OLD_USED, {"p_sid": sid})


def is_recent_parent(
    conn: Connection, sid: str, fp: Fingerprint, now: float, interval: float
) -> bool:
    """Is `fp` the session's newest used-up token (the current one's parent), used up at
    most `interval` seconds ago? (`JWTKEEP_REFRESH_REUSE_INTERVAL`.)"""
    newest = prepared.first(conn, _NEWEST_USED, {"p_sid": sid})
    if newest is None or newest.fingerprint != bytes(fp) or newest.used_at is None:
        return False
    return bool(now - newest.used_at <= interval)


def touch_session(
    conn: Connection, sid: str, now: float, idle_timeout: int, absolute: float
) -> None:
    """Record a use: the idle deadline moves, never past the absolute lifetime."""
    idle_expires_at = min(now + idle_timeout, absolute)
    params = {"p_sid": sid, "p_now": now, "p_idle": idle_expires_at,
              "p_expires": min(idle_expires_at, absolute)}  # fmt: skip
    prepared.run(conn, _TOUCH_SESSION, params)


def delete_session(conn: Connection, user_id: str, sid: str) -> str | None:
    """Delete the user's session `sid` and its whole refresh family; its client, None if
    it did not exist."""
    query = delete(SessionRow).where(SessionRow.sid == sid, SessionRow.user_id == user_id)
    client: str | None = conn.execute(query.returning(SessionRow.client_id)).scalar()
    if client is None:
        return None
    # ON DELETE CASCADE does this too; saying it keeps the rule visible and independent
    # of the SQLite foreign_keys pragma.
    conn.execute(delete(RefreshTokenRow).where(RefreshTokenRow.sid == sid))
    return client


def delete_user_sessions(
    conn: Connection, user_id: str, except_sid: str | None
) -> tuple[list[str], set[str]]:
    """Delete every session of the user but `except_sid` and their refresh families; the
    sids (sorted) and the clients of the sessions deleted."""
    query = delete(SessionRow).where(SessionRow.user_id == user_id)
    if except_sid is not None:
        query = query.where(SessionRow.sid != except_sid)
    rows = conn.execute(query.returning(SessionRow.sid, SessionRow.client_id)).all()
    sids = sorted(row.sid for row in rows)
    if sids:
        conn.execute(delete(RefreshTokenRow).where(RefreshTokenRow.sid.in_(sids)))
    return sids, {row.client_id for row in rows}


def delete_client_sessions(conn: Connection, client_id: str, now: float) -> int:
    """Delete every session of one app and their refresh families; the number live."""
    query = delete(SessionRow).where(SessionRow.client_id == client_id)
    rows = (conn.execute(query.returning(SessionRow.sid, SessionRow.expires_at))).all()
    sids = [row.sid for row in rows]
    for start in range(0, len(sids), 500):
        chunk = sids[start : start + 500]
        conn.execute(delete(RefreshTokenRow).where(RefreshTokenRow.sid.in_(chunk)))
    return sum(1 for row in rows if row.expires_at > now)


def end_everything(conn: Connection, now: float) -> int:
    """Every session, refresh token and access token goes; the number of live sessions."""
    live = select(func.count()).select_from(SessionRow).where(SessionRow.expires_at > now)
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("LOCK TABLE sessions, refresh_tokens, access_tokens IN ACCESS EXCLUSIVE MODE")
        )
        ended = int((conn.execute(live)).scalar() or 0)
        conn.execute(text("TRUNCATE refresh_tokens, access_tokens, sessions"))
        return ended
    ended = int((conn.execute(live)).scalar() or 0)
    for table in (RefreshTokenRow, AccessTokenRow, SessionRow):
        conn.execute(delete(table))
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
