"""Revocation events on SQL: published in the change's transaction, and the feed.

DESIGN.md "Contract: the token store": the event goes out in the same atomic step as the
change.
- PostgreSQL: `SELECT pg_notify('jwtkeep_revocations', payload)` inside the transaction;
  PostgreSQL delivers it at commit, and never if the transaction rolls back
  (PostgreSQL docs, NOTIFY: "if a NOTIFY is executed inside a transaction, the notify
  events are not delivered until and unless the transaction is committed"). The feed
  LISTENs on a dedicated connection and proves it live with `SELECT 1` every heartbeat:
  notifications that arrived before the answer have been read by then.
- SQLite: one file that several processes may use (`jwtkeep serve` and the CLI), so the
  event is a row of `revocation_events` inserted in the transaction; the feed polls for
  new rows every `poll` seconds (each poll that answers is a heartbeat). Rows older than
  `KEEP_SECONDS` are pruned by the writers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.errors import translate_errors
from jwtkeep.adapters.sql.schema import RevocationEventRow
from jwtkeep.core.revocation_events import RevocationEvent, decode_event
from jwtkeep.errors import StoreUnavailable
from jwtkeep.ports.revocation_feed import DEFAULT_HEARTBEAT

__all__ = ["CHANNEL", "KEEP_SECONDS", "SqlRevocationFeed", "publish"]

CHANNEL = "jwtkeep_revocations"
KEEP_SECONDS = 60.0
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


async def publish(conn: AsyncConnection, event: RevocationEvent) -> None:
    """Publish `event` as part of the caller's transaction."""
    payload = event.encode().decode("utf-8")
    if conn.dialect.name == "postgresql":
        await conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})
        return
    now = time.time()
    await conn.execute(delete(RevocationEventRow).where(RevocationEventRow.at < now - KEEP_SECONDS))
    await conn.execute(insert(RevocationEventRow).values(at=now, payload=payload))


def _identity(value: str) -> str:
    return value


class SqlRevocationFeed:
    """A `RevocationFeed` on PostgreSQL LISTEN or on SQLite's event table."""

    def __init__(
        self, engine: SqlEngine, *, heartbeat: float = DEFAULT_HEARTBEAT, poll: float = 0.02
    ) -> None:
        self._engine = engine
        self.heartbeat = heartbeat
        self.poll = poll

    def keyer(self) -> Callable[[str], str]:
        return _identity

    def listen(self) -> AsyncIterator[RevocationEvent | None]:
        if self._engine.sqlite:
            return self._poll_table()
        return self._listen_postgres()

    async def aclose(self) -> None:
        return None

    async def _poll_table(self) -> AsyncIterator[RevocationEvent | None]:
        async with self._engine.read() as conn:
            last = (await conn.execute(select(func.max(RevocationEventRow.id)))).scalar() or 0
        yield None
        while True:
            await asyncio.sleep(self.poll)
            async with self._engine.read() as conn:
                query = (
                    select(RevocationEventRow.id, RevocationEventRow.payload)
                    .where(RevocationEventRow.id > last)
                    .order_by(RevocationEventRow.id)
                )
                rows = (await conn.execute(query)).all()
            for row in rows:
                last = row.id
                yield decode_event(row.payload)
            yield None

    async def _listen_postgres(self) -> AsyncIterator[RevocationEvent | None]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            queue.put_nowait(payload)

        def on_lost(_conn: Any) -> None:
            queue.put_nowait(None)

        with translate_errors():
            conn = await self._engine.async_engine.connect()
        try:
            with translate_errors():
                raw: Any = (await conn.get_raw_connection()).driver_connection
                await raw.add_listener(CHANNEL, on_notify)
                raw.add_termination_listener(on_lost)
            yield None
            while True:
                async for item in self._drain(queue):
                    yield item
                try:
                    await raw.fetchval("SELECT 1", timeout=max(self.heartbeat * 4, 1.0))
                except Exception as exc:  # noqa: BLE001 (asyncpg's errors, timeouts, OSError)
                    raise StoreUnavailable(
                        f"revocation subscription (postgresql): {type(exc).__name__}"
                    ) from None
                async for item in self._drain(queue):
                    yield item
                yield None
        finally:
            await asyncio.shield(conn.invalidate())
            await asyncio.shield(conn.close())

    async def _drain(self, queue: asyncio.Queue[str | None]) -> AsyncIterator[RevocationEvent]:
        """Every notification received so far, then wait up to a heartbeat for more."""
        deadline = time.monotonic() + self.heartbeat
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                payload = await asyncio.wait_for(queue.get(), remaining)
            except TimeoutError:
                return
            if payload is None:
                raise StoreUnavailable("revocation subscription (postgresql): connection lost")
            yield decode_event(payload)
