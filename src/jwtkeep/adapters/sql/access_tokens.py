"""Allowlist rows for access tokens, and the bounded purge of expired rows.

DESIGN "Contract: the token store": a record lives exactly until the token's `exp`, with
no cron job. Reads filter `expires_at > now`, so an expired row is dead at once; writes
delete a bounded batch of expired rows now and then (`purge_expired`), so the tables stay
as large as the live data.
"""

from __future__ import annotations

import math
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, bindparam, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite

from jwtkeep.adapters.sql import prepared
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


_ACCESS = cast(Table, AccessTokenRow.__table__)
_UPSERT_COLUMNS = ("sub", "sid", "jti", "client_id", "expires_at", "kid")


def _upsert(insert: Any) -> Any:
    statement = insert(_ACCESS)
    updates = {key: statement.excluded[key] for key in _UPSERT_COLUMNS}
    return statement.on_conflict_do_update(index_elements=[_ACCESS.c.fingerprint], set_=updates)


# Built once per dialect (the ON CONFLICT clause is dialect-specific), like every hot
# statement here, and run through `prepared`.
_PUT_ACCESS = {"postgresql": _upsert(postgresql.insert), "sqlite": _upsert(sqlite.insert)}
_IS_ALLOWED = select(
    exists().where(
        _ACCESS.c.fingerprint == bindparam("p_fp"),
        _ACCESS.c.sub == bindparam("p_sub"),
        _ACCESS.c.sid == bindparam("p_sid"),
        _ACCESS.c.expires_at > bindparam("p_now"),
    )
)


def put_access(conn: Connection, record: AccessRecord) -> None:
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
    prepared.run(conn, _PUT_ACCESS[conn.dialect.name], values)


def is_allowed(conn: Connection, fp: Fingerprint, sub: str, sid: str, now: float) -> bool:
    params = {"p_fp": bytes(fp), "p_sub": sub, "p_sid": sid, "p_now": _whole_seconds(now)}
    return bool(prepared.scalar(conn, _IS_ALLOWED, params))


def delete_access(conn: Connection, fp: Fingerprint, sub: str, sid: str) -> str | None:
    """Revoke one access token; the client it was issued to, None if it was not there."""
    result = conn.execute(
        delete(AccessTokenRow)
        .where(
            AccessTokenRow.fingerprint == bytes(fp),
            AccessTokenRow.sub == sub,
            AccessTokenRow.sid == sid,
        )
        .returning(AccessTokenRow.client_id)
    )
    return result.scalar()


def delete_session_access(conn: Connection, user_id: str, sid: str) -> set[str]:
    """Revoke every access token issued in session `sid`; the clients they were issued
    to (what was deleted, for the revocation event: `RETURNING`, no second read)."""
    query = delete(AccessTokenRow).where(AccessTokenRow.sid == sid, AccessTokenRow.sub == user_id)
    return set(conn.execute(query.returning(AccessTokenRow.client_id)).scalars())


def delete_user_access(conn: Connection, user_id: str, except_sid: str | None) -> set[str]:
    """Revoke every access token of the user, but those of `except_sid`: also the tokens of
    a session that already expired, whose access tokens may outlive it by minutes. The
    clients they were issued to."""
    condition = AccessTokenRow.sub == user_id
    if except_sid is not None:
        condition = and_(condition, AccessTokenRow.sid != except_sid)
    query = delete(AccessTokenRow).where(condition).returning(AccessTokenRow.client_id)
    return set(conn.execute(query).scalars())


def delete_signed_by(conn: Connection, kid: str) -> int:
    """Revoke every access token signed by `kid` (the key-leak drill); the number revoked."""
    return conn.execute(delete(AccessTokenRow).where(AccessTokenRow.kid == kid)).rowcount


def delete_client_access(conn: Connection, client_id: str) -> None:
    """Revoke every access token issued to one app."""
    conn.execute(delete(AccessTokenRow).where(AccessTokenRow.client_id == client_id))


def purge_expired(conn: Connection, now: float, batch: int) -> None:
    """Delete at most `batch` expired access tokens and `batch` expired sessions (their
    refresh families go with them: ON DELETE CASCADE). `SKIP LOCKED` on PostgreSQL keeps
    concurrent purges on several replicas from waiting on, or deadlocking with, each other."""
    expired_tokens = (
        select(AccessTokenRow.fingerprint)
        .where(AccessTokenRow.expires_at <= _whole_seconds(now))
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    conn.execute(delete(AccessTokenRow).where(AccessTokenRow.fingerprint.in_(expired_tokens)))
    expired_sessions = (
        select(SessionRow.sid)
        .where(SessionRow.expires_at <= now)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    conn.execute(delete(SessionRow).where(SessionRow.sid.in_(expired_sessions)))
