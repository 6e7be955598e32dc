"""The audit trail (implements `jwtkeep.ports.AuditLog`).

CONVENTIONS "Errors": why a token was refused goes here, never to the client; and never
the token itself (only its `jti`).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Row, Table, insert, select

from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.schema import AuditEventRow
from jwtkeep.ports.records import AuditEvent

__all__ = ["SqlAuditLog"]


class SqlAuditLog:
    def __init__(self, engine: SqlEngine) -> None:
        self._engine = engine

    async def record(self, event: AuditEvent) -> None:
        values = {
            "at": event.at,
            "event": event.event,
            "user_id": event.user_id,
            "client_id": event.client_id,
            "sid": event.sid,
            "jti": event.jti,
            "ip": event.ip,
            "detail": dict(event.detail),
        }
        await self._engine.write(lambda conn: _insert(conn, values))

    async def query(
        self,
        *,
        user_id: str | None = None,
        jti: str | None = None,
        since: float | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Newest first; `since` is inclusive."""
        query = select(AuditEventRow.__table__)
        if user_id is not None:
            query = query.where(AuditEventRow.user_id == user_id)
        if jti is not None:
            query = query.where(AuditEventRow.jti == jti)
        if since is not None:
            query = query.where(AuditEventRow.at >= since)
        query = query.order_by(AuditEventRow.at.desc(), AuditEventRow.id.desc()).limit(limit)
        rows = await self._engine.read(lambda conn: conn.execute(query).all())
        return [_event(row) for row in rows]


_INSERT = insert(
    cast(Table, AuditEventRow.__table__)
)  # one statement, compiled once, for every event


def _insert(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(_INSERT, values)


def _event(row: Row[Any]) -> AuditEvent:
    return AuditEvent(
        at=row.at,
        event=row.event,
        user_id=row.user_id,
        client_id=row.client_id,
        sid=row.sid,
        jti=row.jti,
        ip=row.ip,
        detail=dict(row.detail),
    )
