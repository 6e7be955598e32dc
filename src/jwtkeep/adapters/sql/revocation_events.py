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
  new rows every `poll` seconds (each poll that answers is a heartbeat). An event this
  process wrote does not wait for the poll: once its transaction has committed, the
  writer calls `wake_feeds(engine)` and every feed of this process on that engine reads
  at once. An event of another process (`jwtkeep keys compromised` from the CLI) is
  noticed by a cheap check every `check` seconds: a commit in WAL mode writes to the
  `-wal` file, so a change of its size or mtime (`os.stat`, no query) triggers the read
  early. The check only hastens the read; the poll alone is enough for correctness.
  Rows older than `KEEP_SECONDS` are pruned by the writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, text

from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.errors import translate_errors
from jwtkeep.adapters.sql.schema import RevocationEventRow
from jwtkeep.core.revocation_events import RevocationEvent, decode_event
from jwtkeep.errors import StoreUnavailable
from jwtkeep.ports.revocation_feed import DEFAULT_HEARTBEAT

__all__ = ["CHANNEL", "KEEP_SECONDS", "SqlRevocationFeed", "publish", "wake_feeds"]

CHANNEL = "jwtkeep_revocations"
KEEP_SECONDS = 60.0
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


_LAST_ID = select(func.max(RevocationEventRow.id))
_NEWER = (
    select(RevocationEventRow.id, RevocationEventRow.payload)
    .where(RevocationEventRow.id > bindparam("p_last"))
    .order_by(RevocationEventRow.id)
)


def publish(conn: Connection, event: RevocationEvent) -> None:
    """Publish `event` as part of the caller's transaction."""
    payload = event.encode().decode("utf-8")
    if conn.dialect.name == "postgresql":
        conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})
        return
    now = time.time()
    conn.execute(delete(RevocationEventRow).where(RevocationEventRow.at < now - KEEP_SECONDS))
    conn.execute(insert(RevocationEventRow).values(at=now, payload=payload))


# The SQLite feeds of this process, by engine: each waits on its own event, set from
# whichever loop (or thread) committed the revocation.
_Waker = tuple[asyncio.AbstractEventLoop, asyncio.Event]
_feeds: weakref.WeakKeyDictionary[SqlEngine, set[_Waker]] = weakref.WeakKeyDictionary()


def wake_feeds(engine: SqlEngine) -> None:
    """Call after a transaction that may have published has committed: this process's
    SQLite feeds on `engine` read the event table now instead of at their next poll (a
    spurious wake costs one read; nothing for PostgreSQL, whose NOTIFY is pushed)."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    for loop, wake in tuple(_feeds.get(engine, ())):
        if loop is running:
            wake.set()
        else:
            with contextlib.suppress(RuntimeError):  # that loop has closed
                loop.call_soon_threadsafe(wake.set)


def _wal_file(conn: Connection) -> str | None:
    """The main database's write-ahead log (None in memory)."""
    for row in conn.exec_driver_sql("PRAGMA database_list"):
        if row[1] == "main" and row[2]:
            return f"{row[2]}-wal"
    return None


def _wal_state(path: str | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None  # not there (yet, or after the last connection's checkpoint)
    return stat.st_size, stat.st_mtime_ns


def _last_id(conn: Connection) -> int:
    return int(conn.execute(_LAST_ID).scalar() or 0)


def _newer(conn: Connection, *, last: int) -> list[tuple[int, str]]:
    """The events after id `last`, oldest first: (id, payload)."""
    return [(row.id, row.payload) for row in conn.execute(_NEWER, {"p_last": last})]


def _identity(value: str) -> str:
    return value


class SqlRevocationFeed:
    """A `RevocationFeed` on PostgreSQL LISTEN or on SQLite's event table."""

    def __init__(
        self,
        engine: SqlEngine,
        *,
        heartbeat: float = DEFAULT_HEARTBEAT,
        poll: float = 0.02,
        check: float = 0.005,
    ) -> None:
        self._engine = engine
        self.heartbeat = heartbeat
        self.poll = poll
        self.check = check

    def keyer(self) -> Callable[[str], str]:
        return _identity

    def listen(self) -> AsyncIterator[RevocationEvent | None]:
        if self._engine.sqlite:
            return self._poll_table()
        return self._listen_postgres()

    async def aclose(self) -> None:
        return None

    async def _poll_table(self) -> AsyncIterator[RevocationEvent | None]:
        waker = (asyncio.get_running_loop(), asyncio.Event())
        wake = waker[1]
        # Registered before the first read: a commit after it wakes this feed.
        _feeds.setdefault(self._engine, set()).add(waker)
        try:
            wal = await self._engine.read(_wal_file)
            seen = _wal_state(wal)
            last = int(await self._engine.read(_last_id))
            yield None
            while True:
                await self._until_due(wake, wal, seen)
                # Both taken before the read: a commit its snapshot misses shows again.
                wake.clear()
                seen = _wal_state(wal)
                rows = await self._engine.read(functools.partial(_newer, last=last))
                for event_id, payload in rows:
                    last = event_id
                    yield decode_event(payload)
                yield None
        finally:
            _feeds.get(self._engine, set()).discard(waker)

    async def _until_due(
        self, wake: asyncio.Event, wal: str | None, seen: tuple[int, int] | None
    ) -> None:
        """Until the next read is due: woken by this process, the WAL file no longer as
        `seen` (someone committed), or the poll interval."""
        deadline = time.monotonic() + self.poll
        while (remaining := deadline - time.monotonic()) > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(self.check, remaining)):
                    await wake.wait()
                return
            if _wal_state(wal) != seen:
                return

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
