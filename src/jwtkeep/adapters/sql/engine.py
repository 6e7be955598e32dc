"""One async engine per database, with the transaction discipline each backend needs.

SQLite (https://sqlite.org/wal.html, https://sqlite.org/lang_transaction.html): WAL mode
so readers never block the writer, foreign keys on, a busy timeout. SQLite allows one
writer at a time, so write transactions are serialized inside the process (an
`asyncio.Lock`) and start with `BEGIN IMMEDIATE`, which takes the write lock up front: a
read-modify-write (refresh rotation) can then never interleave with another one, and
another process waits on the busy timeout instead of failing half-way.

PostgreSQL: plain READ COMMITTED transactions; read-modify-write steps lock the row they
decide on with `SELECT ... FOR UPDATE` (see `sessions.py`).

Every entry point translates driver failures (`errors.translate_errors`), so callers only
ever see `StoreUnavailable` for an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from jwtkeep.adapters.sql.errors import translate_errors
from jwtkeep.adapters.sql.url import is_sqlite, parse_url
from jwtkeep.errors import ConfigurationError

__all__ = ["SqlEngine"]

_BEGIN_OPTION = "jwtkeep_sqlite_begin"


class SqlEngine:
    """The engine, the SQLite writer lock, and read/write transaction helpers."""

    def __init__(self, url: str, *, pool_size: int, timeout: float) -> None:
        self.sqlite = is_sqlite(url)
        self.timeout = timeout
        self.async_engine: AsyncEngine = _create_engine(url, pool_size=pool_size, timeout=timeout)
        # SQLite has one writer: queue writers here rather than on the file lock.
        self._write_lock = asyncio.Lock() if self.sqlite else None
        # An in-memory SQLite database is one shared connection: readers queue too.
        self._read_lock = self._write_lock if _is_sqlite_memory(url) else None
        if self.sqlite:
            _install_sqlite_hooks(self.async_engine, timeout)

    @property
    def dialect(self) -> str:
        return self.async_engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only transaction (a consistent snapshot on both backends)."""
        with translate_errors():
            if self._read_lock is None:
                async with self.async_engine.connect() as conn, conn.begin():
                    yield conn
                return
            async with (
                self._locked(self._read_lock),
                self.async_engine.connect() as conn,
                conn.begin(),
            ):
                yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction; on SQLite serialized in-process and `BEGIN IMMEDIATE`."""
        with translate_errors():
            if self._write_lock is None:
                async with self.async_engine.begin() as conn:
                    yield conn
                return
            async with self._locked(self._write_lock), self.async_engine.connect() as conn:
                await conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
                async with conn.begin():
                    yield conn

    @asynccontextmanager
    async def _locked(self, lock: asyncio.Lock) -> AsyncIterator[None]:
        """Hold `lock`, waiting no longer than the timeout (then: StoreUnavailable)."""
        async with asyncio.timeout(self.timeout):
            await lock.acquire()
        try:
            yield
        finally:
            lock.release()

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.async_engine.dispose()


def _create_engine(url: str, *, pool_size: int, timeout: float) -> AsyncEngine:
    connect_args: dict[str, Any] = {"timeout": timeout}  # SQLite: its busy timeout
    # `pool_size` is the most connections this engine opens (no overflow).
    options: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": timeout}
    if not is_sqlite(url):
        # asyncpg: `timeout` bounds connecting, `command_timeout` every statement.
        connect_args["command_timeout"] = timeout
        connect_args["server_settings"] = {"application_name": "jwtkeep"}
        # A connection broken by a database restart is noticed at checkout and replaced,
        # so the store recovers by itself (DESIGN "Contract: the token store").
        options["pool_pre_ping"] = True
    elif _is_sqlite_memory(url):
        options = {}  # one static connection
    try:
        return create_async_engine(
            parse_url(url),
            connect_args=connect_args,
            # Statement parameters (fingerprints, hashes) never go into an error message.
            hide_parameters=True,
            **options,
        )
    except ImportError as exc:  # the driver is an optional extra (pyproject.toml)
        install = "pip install 'jwtkeep'" if is_sqlite(url) else "pip install 'jwtkeep[postgres]'"
        raise ConfigurationError(
            f"the database URL needs the {exc.name or 'database'} driver, "
            f"which is not installed: {install}"
        ) from None


def _is_sqlite_memory(url: str) -> bool:
    return is_sqlite(url) and parse_url(url).database in (None, "", ":memory:")


def _install_sqlite_hooks(engine: AsyncEngine, timeout: float) -> None:
    """The SQLAlchemy recipe for real SQLite transactions: the driver emits no BEGIN of
    its own; we emit `BEGIN` or `BEGIN IMMEDIATE` (per connection option) ourselves."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={int(timeout * 1000)}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
