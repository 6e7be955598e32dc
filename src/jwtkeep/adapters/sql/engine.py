"""One engine per database: every transaction is one call, `await engine.read(work)` or
`await engine.write(work)`, where `work(conn)` is a plain function that runs the whole
transaction's statements on a synchronous SQLAlchemy `Connection`.

SQLite (https://sqlite.org/wal.html, https://sqlite.org/pragma.html,
https://sqlite.org/lang_transaction.html) runs on the standard library's `sqlite3` on two
threads, a writer and a reader: one thread hop per transaction (aiosqlite hopped once per
statement, BEGIN and COMMIT included: ten hops for a refresh rotation; bench/README.md).
WAL mode so readers never block the writer; `synchronous=NORMAL`, which in WAL mode is
durable against a crash of the process and loses at most the last commits on a power cut
(never corrupts); foreign keys on; a busy timeout. SQLite allows one writer at a time, so
write transactions are serialized inside the process (they run, in order, on the one
writer thread) and start with `BEGIN IMMEDIATE`, which takes the write lock up front: a
read-modify-write (refresh rotation) can then never interleave with another one, and
another process waits on the busy timeout instead of failing half-way. `sqlite3` keeps
each connection's prepared statements (its statement cache), and SQLAlchemy its compiled
SQL, so a statement is prepared once per connection.

PostgreSQL stays on asyncpg: the same `work(conn)` runs through `AsyncConnection.run_sync`
(every statement is still an async asyncpg call). Plain READ COMMITTED transactions;
read-modify-write steps lock the row they decide on with `SELECT ... FOR UPDATE` (see
`sessions.py`).

Every entry point translates driver failures (`errors.translate_errors`), so callers only
ever see `StoreUnavailable` for an outage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import StaticPool

from jwtkeep.adapters.sql.errors import translate_errors
from jwtkeep.adapters.sql.url import is_sqlite, parse_url
from jwtkeep.errors import ConfigurationError, StoreUnavailable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SqlEngine", "Work"]

T = TypeVar("T")
Work = Callable[[Connection], T]
"""One transaction's statements, run on a synchronous connection inside the transaction."""

_BEGIN_OPTION = "jwtkeep_sqlite_begin"


class SqlEngine:
    """The engine, the SQLite writer queue, and the read/write transaction runners."""

    def __init__(self, url: str, *, pool_size: int, timeout: float) -> None:
        self.sqlite = is_sqlite(url)
        self.timeout = timeout
        self._sqlite: _SqliteRunner | None = None
        self._async_engine: AsyncEngine | None = None
        if self.sqlite:
            self._sqlite = _SqliteRunner(url, pool_size=pool_size, timeout=timeout)
        else:
            self._async_engine = _create_async_engine(url, pool_size=pool_size, timeout=timeout)

    @property
    def dialect(self) -> str:
        return "sqlite" if self._sqlite is not None else "postgresql"

    @property
    def async_engine(self) -> AsyncEngine:
        """PostgreSQL's asyncpg engine, for what is not a transaction (the revocation
        feed's LISTEN connection, `revocation_events.py`)."""
        if self._async_engine is None:
            raise TypeError("SQLite has no async engine: run a transaction with read/write")
        return self._async_engine

    async def read(self, work: Work[T]) -> T:
        """Run `work` in a read-only transaction (a consistent snapshot on both backends)."""
        with translate_errors():
            if self._sqlite is not None:
                return await self._sqlite.run(work, write=False)
            return await self._postgres(work)

    async def write(self, work: Work[T]) -> T:
        """Run `work` in a write transaction; on SQLite serialized in-process and
        `BEGIN IMMEDIATE`."""
        with translate_errors():
            if self._sqlite is not None:
                return await self._sqlite.run(work, write=True)
            return await self._postgres(work)

    async def _postgres(self, work: Work[T]) -> T:
        assert self._async_engine is not None
        async with self._async_engine.connect() as conn, conn.begin():
            return await conn.run_sync(work)

    async def ping(self) -> None:
        await self.read(_select_one)

    async def dispose(self) -> None:
        if self._sqlite is not None:
            await self._sqlite.dispose()
        if self._async_engine is not None:
            await self._async_engine.dispose()


def _select_one(conn: Connection) -> None:
    conn.execute(text("SELECT 1"))


class _SqliteRunner:
    """Whole transactions on two threads: one writer, one reader.

    The writer thread is the in-process writer queue: SQLite has one writer at a time, so
    write transactions wait here, in order, rather than on the file lock, and the next
    one starts as soon as the last commits, without a round trip through the event loop.
    Reads have their own thread, so they never wait behind a writer (WAL). More threads
    only fight over the GIL (bench/bench_sqlite.py)."""

    def __init__(self, url: str, *, pool_size: int, timeout: float) -> None:
        self.timeout = timeout
        self.engine = _create_sqlite_engine(url, pool_size=pool_size, timeout=timeout)
        self._memory = _is_sqlite_memory(url)
        self._writer: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None

    def _thread(self, *, write: bool) -> ThreadPoolExecutor:
        """The writer or reader thread, started on first use (again after `dispose`)."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwtkeep-sqlite-w")
        if self._reader is None:
            # An in-memory SQLite database is one shared connection: readers queue too.
            self._reader = (
                self._writer
                if self._memory
                else ThreadPoolExecutor(max_workers=1, thread_name_prefix="jwtkeep-sqlite-r")
            )
        return self._writer if write else self._reader

    async def run(self, work: Work[T], *, write: bool) -> T:
        # A caller cancelled while its transaction waits in the queue takes it out of the
        # queue; one that already started finishes (commits or rolls back) on its thread.
        return await asyncio.get_running_loop().run_in_executor(
            self._thread(write=write),
            self._transaction,
            work,
            "IMMEDIATE" if write else "DEFERRED",
            time.monotonic(),
        )

    def _transaction(self, work: Work[T], begin: str, queued_at: float) -> T:
        if time.monotonic() - queued_at > self.timeout:
            # Waiting in the queue is bounded like any other store call (fail closed).
            raise StoreUnavailable("database busy (queue wait above the store timeout)")
        with translate_errors(), self.engine.connect() as conn:
            conn.execution_options(**{_BEGIN_OPTION: begin})  # in place (SQLAlchemy 2)
            with conn.begin():
                return work(conn)

    async def dispose(self) -> None:
        """Close every connection and stop the threads; idempotent, and a later call
        starts them again (as an AsyncEngine would)."""
        writer, reader = self._writer, self._reader
        self._writer = self._reader = None
        if writer is not None:
            await asyncio.get_running_loop().run_in_executor(writer, self.engine.dispose)
        self.engine.dispose()
        for thread in {writer, reader}:
            if thread is not None:
                thread.shutdown(wait=False)


def _create_sqlite_engine(url: str, *, pool_size: int, timeout: float) -> Engine:
    # check_same_thread off: a pooled connection is used by one thread at a time, but not
    # always the same one (the pool and the executor are separate).
    connect_args: dict[str, Any] = {"timeout": timeout, "check_same_thread": False}
    options: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 0, "pool_timeout": timeout}
    if _is_sqlite_memory(url):
        options = {"poolclass": StaticPool}  # one shared connection
    engine = create_engine(
        parse_url(url).set(drivername="sqlite+pysqlite"),
        connect_args=connect_args,
        # Statement parameters (fingerprints, hashes) never go into an error message.
        hide_parameters=True,
        **options,
    )
    _install_sqlite_hooks(engine, timeout)
    return engine


def _create_async_engine(url: str, *, pool_size: int, timeout: float) -> AsyncEngine:
    try:
        from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415 (jwtkeep[postgres])

        return create_async_engine(
            parse_url(url),
            # asyncpg: `timeout` bounds connecting, `command_timeout` every statement.
            connect_args={
                "timeout": timeout,
                "command_timeout": timeout,
                "server_settings": {"application_name": "jwtkeep"},
            },
            hide_parameters=True,
            # `pool_size` is the most connections this engine opens (no overflow).
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=timeout,
            # A connection broken by a database restart is noticed at checkout and replaced,
            # so the store recovers by itself (DESIGN "Contract: the token store").
            pool_pre_ping=True,
        )
    except ImportError as exc:  # the driver is an optional extra (pyproject.toml)
        raise ConfigurationError(
            f"the database URL needs the {exc.name or 'database'} driver, "
            "which is not installed: pip install 'jwtkeep[postgres]'"
        ) from None


def _is_sqlite_memory(url: str) -> bool:
    return is_sqlite(url) and parse_url(url).database in (None, "", ":memory:")


def _install_sqlite_hooks(engine: Engine, timeout: float) -> None:
    """The SQLAlchemy recipe for real SQLite transactions: the driver emits no BEGIN of
    its own; we emit `BEGIN` or `BEGIN IMMEDIATE` (per connection option) ourselves."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            # WAL + NORMAL: no fsync per commit; a crash of jwtkeep loses nothing, a power
            # cut at most the last commits (https://sqlite.org/pragma.html#pragma_synchronous).
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={int(timeout * 1000)}",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        # Straight to sqlite3: a whole SQLAlchemy execution for BEGIN cost a third of a
        # short read transaction (bench/README.md).
        conn.connection.dbapi_connection.execute(f"BEGIN {mode}")  # type: ignore[union-attr]
