"""One engine per database: every transaction is one call, `await engine.read(work)` or
`await engine.write(work)`, where `work(conn)` is a plain function that runs the whole
transaction's statements on a synchronous SQLAlchemy `Connection`.

SQLite (https://sqlite.org/wal.html, https://sqlite.org/pragma.html,
https://sqlite.org/lang_transaction.html) runs on the standard library's `sqlite3` in a
small pool of worker threads, one thread hop per transaction (aiosqlite hopped once per
statement, BEGIN and COMMIT included: ten hops for a refresh rotation; bench/README.md).
WAL mode so readers never block the writer; `synchronous=NORMAL`, which in WAL mode is
durable against an application crash and loses at most the last commits on a power cut
(never corrupts); foreign keys on; a busy timeout. SQLite allows one writer at a time, so
write transactions are serialized inside the process (an `asyncio.Lock`) and start with
`BEGIN IMMEDIATE`, which takes the write lock up front: a read-modify-write (refresh
rotation) can then never interleave with another one, and another process waits on the
busy timeout instead of failing half-way. `sqlite3` keeps each connection's prepared
statements (its statement cache), and SQLAlchemy its compiled SQL, so a statement is
prepared once per connection.

PostgreSQL stays on asyncpg: the same `work(conn)` runs through `AsyncConnection.run_sync`
(every statement is still an async asyncpg call). Plain READ COMMITTED transactions;
read-modify-write steps lock the row they decide on with `SELECT ... FOR UPDATE` (see
`sessions.py`).

Every entry point translates driver failures (`errors.translate_errors`), so callers only
ever see `StoreUnavailable` for an outage.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.pool import StaticPool

from jwtkeep.adapters.sql.errors import translate_errors
from jwtkeep.adapters.sql.url import is_sqlite, parse_url

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["SQLITE_THREADS", "SqlEngine", "Work"]

T = TypeVar("T")
Work = Callable[[Connection], T]
"""One transaction's statements, run on a synchronous connection inside the transaction."""

_BEGIN_OPTION = "jwtkeep_sqlite_begin"
# Worker threads for SQLite: a transaction takes tens of microseconds, and sqlite3 holds the
# GIL outside its C calls, so more threads only add switching (bench/README.md).
SQLITE_THREADS = 4


class SqlEngine:
    """The engine, the SQLite writer lock, and the read/write transaction runners."""

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
    """Whole transactions on worker threads, with the in-process writer queue."""

    def __init__(self, url: str, *, pool_size: int, timeout: float) -> None:
        self.timeout = timeout
        memory = _is_sqlite_memory(url)
        self.engine = _create_sqlite_engine(url, pool_size=pool_size, timeout=timeout)
        self._threads = ThreadPoolExecutor(
            max_workers=1 if memory else min(pool_size, SQLITE_THREADS),
            thread_name_prefix="jwtkeep-sqlite",
        )
        # SQLite has one writer: queue writers here rather than on the file lock.
        self._write_lock = asyncio.Lock()
        # An in-memory SQLite database is one shared connection: readers queue too.
        self._read_lock = self._write_lock if memory else None

    async def run(self, work: Work[T], *, write: bool) -> T:
        lock = self._write_lock if write else self._read_lock
        begin = "IMMEDIATE" if write else "DEFERRED"
        if lock is None:
            return await asyncio.get_running_loop().run_in_executor(
                self._threads, self._transaction, work, begin
            )
        # Waiting in the queue is bounded by the timeout (then: StoreUnavailable).
        async with asyncio.timeout(self.timeout):
            await lock.acquire()
        try:
            future = asyncio.get_running_loop().run_in_executor(
                self._threads, self._transaction, work, begin
            )
        except BaseException:
            lock.release()
            raise
        # The lock is held until the thread is done, even if the caller is cancelled:
        # a transaction that already started finishes (commits or rolls back) first.
        future.add_done_callback(lambda done: _release(lock, done))
        return await asyncio.shield(future)

    def _transaction(self, work: Work[T], begin: str) -> T:
        with translate_errors(), self.engine.connect() as conn:
            conn.execution_options(**{_BEGIN_OPTION: begin})  # in place (SQLAlchemy 2)
            with conn.begin():
                return work(conn)

    async def dispose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._threads, self.engine.dispose)
        self._threads.shutdown(wait=False)


def _release(lock: asyncio.Lock, done: asyncio.Future[Any]) -> None:
    lock.release()
    if not done.cancelled():
        done.exception()  # retrieved: a cancelled caller's failure is not "never retrieved"


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
        conn.exec_driver_sql(f"BEGIN {mode}")
