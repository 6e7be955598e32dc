"""The audit trail (implements `jwtkeep.ports.AuditLog`).

CONVENTIONS "Errors": why a token was refused goes here, never to the client; and never
the token itself (only its `jti`). Retention (`prune`): events older than
`JWTKEEP_AUDIT_RETENTION_DAYS` are deleted and client IPs older than
`JWTKEEP_AUDIT_IP_RETENTION_DAYS` are blanked (GDPR Art. 5(1)(e), storage limitation),
in bounded batches so a prune never holds the table for long.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Row, Table, delete, insert, or_, select, update

from jwtkeep.adapters.sql import prepared
from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.schema import AuditEventRow
from jwtkeep.ports.records import AuditEvent

__all__ = ["PRUNE_BATCH", "SqlAuditLog", "insert_event"]

PRUNE_BATCH = 5000


class SqlAuditLog:
    def __init__(self, engine: SqlEngine) -> None:
        self.engine = engine  # public: the token store on it records here too (`keeps_audit`)

    async def record(self, event: AuditEvent) -> None:
        await self.engine.write(lambda conn: insert_event(conn, event))

    async def query(
        self,
        *,
        user_id: str | None = None,
        client_id: str | None = None,
        jti: str | None = None,
        events: tuple[str, ...] = (),
        since: float | None = None,
        until: float | None = None,
        after_id: int | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Newest first; with `after_id`, oldest first (a tail reads forward)."""
        statement = select(AuditEventRow.__table__)
        row = AuditEventRow
        for column, value in ((row.user_id, user_id), (row.client_id, client_id),
                              (row.jti, jti)):  # fmt: skip
            if value is not None:
                statement = statement.where(column == value)
        if events:
            statement = statement.where(or_(*(
                row.event.startswith(name, autoescape=True) if name.endswith(".")
                else row.event == name for name in events
            )))  # fmt: skip
        if since is not None:
            statement = statement.where(row.at >= since)
        if until is not None:
            statement = statement.where(row.at < until)
        if after_id is not None:
            statement = statement.where(row.id > after_id).order_by(row.id)
        else:
            statement = statement.order_by(row.at.desc(), row.id.desc())
        statement = statement.limit(limit)
        rows = await self.engine.read(lambda conn: conn.execute(statement).all(), bulk=True)
        return [_event(one) for one in rows]

    async def prune(self, events_before: float, ips_before: float) -> int:
        return await self.engine.write(
            lambda conn: _prune(conn, events_before, ips_before), bulk=True
        )


def _prune(conn: Connection, events_before: float, ips_before: float) -> int:
    deleted = 0
    while True:
        batch = select(AuditEventRow.id).where(AuditEventRow.at < events_before)
        result = conn.execute(
            delete(AuditEventRow).where(AuditEventRow.id.in_(batch.limit(PRUNE_BATCH)))
        )
        deleted += result.rowcount
        if result.rowcount < PRUNE_BATCH:
            break
    conn.execute(
        update(AuditEventRow)
        .where(AuditEventRow.at < ips_before, AuditEventRow.ip.is_not(None))
        .values(ip=None)
    )
    return deleted


_INSERT = insert(cast(Table, AuditEventRow.__table__))  # one statement for every event


def insert_event(conn: Connection, event: AuditEvent) -> None:
    """Append `event` in the caller's transaction (`SqlAuditLog.record`'s own, or a
    refresh rotation's: `SqlTokenStore.rotate_refresh`)."""
    values = {
        "at": event.at,
        "event": event.event,
        "user_id": event.user_id,
        "client_id": event.client_id,
        "sid": event.sid,
        "jti": event.jti,
        "ip": event.ip,
        "detail": dict(event.detail),
        "actor": event.actor,
        "target": event.target,
        "reason": event.reason,
    }
    prepared.run(conn, _INSERT, values)


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
        actor=row.actor,
        target=row.target,
        reason=row.reason,
        id=row.id,
    )
