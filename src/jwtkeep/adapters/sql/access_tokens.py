"""Allowlist rows for access tokens, and the bounded purge of expired rows.

DESIGN "Contract: the token store": a record lives exactly until the token's `exp`, with
no cron job. Reads filter `expires_at > now`, so an expired row is dead at once; writes
delete a bounded batch of expired rows now and then (`purge_expired`), so the tables stay
as large as the live data.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import and_, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from jwtkeep.adapters.sql.schema import AccessTokenRow, SessionRow
from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.ports.records import AccessRecord

__all__ = [
    "delete_access",
    "delete_client_access",
    "delete_session_access",
    "delete_signed_by",
    "delete_user_access",
    "is_allowed",
    "purge_expired",
    "put_access",
]


def _whole_seconds(now: float) -> int:
    """`exp` is a whole second (RFC 7519 §2 NumericDate as an integer), so `exp > now`
    exactly when `exp > floor(now)`; comparing integers keeps drivers from rounding."""
    return math.floor(now)


async def put_access(conn: AsyncConnection, record: AccessRecord) -> None:
    """Allowlist `record` until `record.exp` (an existing row for the same fingerprint is
    replaced, as a Redis SET would)."""
    values = {
        "fingerprint": bytes(record.fingerprint),
        "sub": record.sub,
        "sid": record.sid,
        "jti": record.jti,
        "client_id": record.client_id,
        "expires_at": record.exp,
        "kid": record.kid,
    }
    insert: Any = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(AccessTokenRow).values(**values)
    updates = {key: statement.excluded[key] for key in values if key != "fingerprint"}
    await conn.execute(
        statement.on_conflict_do_update(index_elements=[AccessTokenRow.fingerprint], set_=updates)
    )


async def is_allowed(
    conn: AsyncConnection, fp: Fingerprint, sub: str, sid: str, now: float
) -> bool:
    query = select(
        exists().where(
            AccessTokenRow.fingerprint == bytes(fp),
            AccessTokenRow.sub == sub,
            AccessTokenRow.sid == sid,
            AccessTokenRow.expires_at > _whole_seconds(now),
        )
    )
    return bool((await conn.execute(query)).scalar())


async def delete_access(conn: AsyncConnection, fp: Fingerprint, sub: str, sid: str) -> bool:
    result = await conn.execute(
        delete(AccessTokenRow).where(
            AccessTokenRow.fingerprint == bytes(fp),
            AccessTokenRow.sub == sub,
            AccessTokenRow.sid == sid,
        )
    )
    return result.rowcount > 0


async def delete_session_access(conn: AsyncConnection, user_id: str, sid: str) -> int:
    """Revoke every access token issued in session `sid`; the number revoked."""
    result = await conn.execute(
        delete(AccessTokenRow).where(AccessTokenRow.sid == sid, AccessTokenRow.sub == user_id)
    )
    return result.rowcount


async def delete_user_access(conn: AsyncConnection, user_id: str, except_sid: str | None) -> int:
    """Revoke every access token of the user, but those of `except_sid`: also the tokens of
    a session that already expired, whose access tokens may outlive it by minutes."""
    condition = AccessTokenRow.sub == user_id
    if except_sid is not None:
        condition = and_(condition, AccessTokenRow.sid != except_sid)
    return (await conn.execute(delete(AccessTokenRow).where(condition))).rowcount


async def delete_signed_by(conn: AsyncConnection, kid: str) -> int:
    """Revoke every access token signed by `kid` (the key-leak drill); the number revoked."""
    result = await conn.execute(delete(AccessTokenRow).where(AccessTokenRow.kid == kid))
    return result.rowcount


async def delete_client_access(conn: AsyncConnection, client_id: str) -> None:
    """Revoke every access token issued to one app."""
    await conn.execute(delete(AccessTokenRow).where(AccessTokenRow.client_id == client_id))


async def purge_expired(conn: AsyncConnection, now: float, batch: int) -> None:
    """Delete at most `batch` expired access tokens and `batch` expired sessions (their
    refresh families go with them: ON DELETE CASCADE). `SKIP LOCKED` on PostgreSQL keeps
    concurrent purges on several replicas from waiting on, or deadlocking with, each other."""
    expired_tokens = (
        select(AccessTokenRow.fingerprint)
        .where(AccessTokenRow.expires_at <= _whole_seconds(now))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    await conn.execute(delete(AccessTokenRow).where(AccessTokenRow.fingerprint.in_(expired_tokens)))
    expired_sessions = (
        select(SessionRow.sid)
        .where(SessionRow.expires_at <= now)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    await conn.execute(delete(SessionRow).where(SessionRow.sid.in_(expired_sessions)))
