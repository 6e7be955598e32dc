"""One engine per database: every transaction is one call, `await engine.read(work)` or
`await engine.write(work)`, where `work(conn)` is a plain function that runs the whole
transaction's statements on a synchronous SQLAlchemy `Connection`.

SQLite (https://sqlite.org/wal.html, https://sqlite.org/pragma.html,
https://sqlite.org/lang_transaction.html) runs on the standard library's `sqlite3`. WAL
mode so readers never block the writer; `synchronous=NORMAL`: in WAL mode a commit
writes the WAL without an fsync, so a crash of the process loses nothing, and a power cut
or OS crash may lose the last committed transactions (each one whole, never half of
one) but never corrupts the file; foreign keys on; a busy timeout. Write transactions start
with `BEGIN IMMEDIATE`, which takes the write lock up front: a read-modify-write (refresh
rotation) can then never interleave with another one, and another process (the CLI)
waits on the busy timeout instead of failing half-way. `sqlite3` keeps each connection's
prepared statements (its statement cache), and SQLAlchemy its compiled SQL, so a
statement is prepared once per connection.

A short transaction (the default: a fixed number of rows, such as a refresh rotation or
an allowlist check) runs at once on the caller's thread, on a connection kept for it:
no thread hop at all. It takes tens of microseconds, less than the hop it saves (a hop
through a thread costs a GIL hand-over each way and one per statement; measured in
bench/README.md); its hot statements skip SQLAlchemy's execution path (`prepared.py`).
It never blocks: that connection's busy timeout is 0. While this process's writer thread
has work queued (a checkpoint, a bulk write), a short write awaits the end of it, then
runs here; when another process holds the write lock, or the connection is in use on
another thread, the transaction goes to the threads below and waits there. A synchronous
transaction cannot interleave with another one of this thread, so the in-process writes
are serialized by construction. That connection never checkpoints the WAL itself (a
checkpoint writes and fsyncs pages): once `CHECKPOINT_EVERY` short writes have come since
the last complete checkpoint, the writer thread runs a RESTART one
(https://sqlite.org/c3ref/wal_checkpoint_v2.html), and the next write starts the WAL over.
Short writes await it rather than take the write lock under its feet (which under CPU
load made it come back busy), and rather than queue on the thread behind it (then each
later short write found the lock taken by the one queued before it, and most rotations
ran on the thread: measured in bench/README.md). One that still comes back busy (another
process writing, a long reader) is retried at the next write, not `CHECKPOINT_EVERY`
writes later. A WAL that had grown past `WAL_TRUNCATE_FRAMES` all the same is truncated
to zero bytes after its checkpoint (TRUNCATE), so a burst leaves no large file behind.
The file stays about as large as the writes between two checkpoints, also under a
constant load (a passive checkpoint, racing the writes, never caught up).

A bulk transaction (`bulk=True`: its row count has no fixed bound, e.g. ending every
session, migrating) and a short one that found the lock taken by another process (or
the short path's connection in use on another thread) run on two threads, a
writer and a reader: one thread hop per transaction. Writes queue, in order, on the one
writer thread, so they wait in the process rather than on the file lock.

PostgreSQL stays on asyncpg: the same `work(conn)` runs through `AsyncConnection.run_sync`
(every statement is still an async asyncpg call). Plain READ COMMITTED transactions;
read-modify-write steps lock the row they decide on with `SELECT ... FOR UPDATE` (see
`sessions.py`).

Every entry point translates driver failures (`errors.translate_errors`), so callers only
ever see `StoreUnavailable` for an outage.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.pool import StaticPool

from jwtkeep.adapters.sql.errors import raw_sqlite_errors, translate_errors
from jwtkeep.adapters.sql.url import is_sqlite, parse_url
from jwtkeep.errors import ConfigurationError, JwtkeepError, StoreUnavailable

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["CHECKPOINT_EVERY", "WAL_TRUNCATE_FRAMES", "SqlEngine", "Work"]

T = TypeVar("T")
Work = Callable[[Connection], T]
"""One transaction's statements, run on a synchronous connection inside the transaction."""

_BEGIN_OPTION = "jwtkeep_sqlite_begin"
# A rotation writes about ten WAL pages: a checkpoint every 100 short writes keeps the WAL
# near SQLite's own default of 1000 pages (https://sqlite.org/pragma.html#pragma_wal_autocheckpoint).
CHECKPOINT_EVERY = 100
# Four times the WAL a checkpoint normally finds: past it, checkpoints fell behind (another
# process held the lock) and the file is truncated, not only reused.
WAL_TRUNCATE_FRAMES = 4 * 10 * CHECKPOINT_EVERY


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

    async def read(self, work: Work[T], *, bulk: bool = False) -> T:
        """Run `work` in a read-only transaction (a consistent snapshot on both backends).
        `bulk`: its row count has no fixed bound (on SQLite it then runs on a thread)."""
        with translate_errors():
            if self._sqlite is not None:
                return await self._sqlite.run(work, write=False, bulk=bulk)
            return await self._postgres(work)

    async def write(self, work: Work[T], *, bulk: bool = False) -> T:
        """Run `work` in a write transaction; on SQLite under `BEGIN IMMEDIATE`."""
        with translate_errors():
            if self._sqlite is not None:
                return await self._sqlite.run(work, write=True, bulk=bulk)
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


class _Busy(JwtkeepError):
    """The short path could not start at once: run the transaction on a thread."""


class _Inline:
    """One connection for short transactions on the caller's thread; it never waits.

    BEGIN and COMMIT go straight to `sqlite3` (SQLAlchemy's transaction bookkeeping cost
    as much as a short statement); a statement the work runs through SQLAlchemy finds the
    transaction open (`_on_begin`) and is committed with it."""

    def __init__(self, url: str) -> None:
        self.engine = _create_sqlite_engine(url, pool_size=1, timeout=0.0, checkpoints=False)
        self._lock = threading.Lock()
        self._conn: Connection | None = None

    def run(self, work: Work[T], begin: str) -> T:
        """Run `work` now, or raise `_Busy` (nothing was done) when that would wait."""
        if not self._lock.acquire(blocking=False):
            raise _Busy  # in use on another thread (a second event loop)
        try:
            conn = self._conn
            if conn is None:
                conn = self._conn = self.engine.connect()
            try:
                return self._transaction(conn, work, begin)
            except exc.OperationalError as error:
                if _is_busy(error):
                    # SQLITE_BUSY comes from BEGIN IMMEDIATE (the write lock is taken:
                    # nothing ran) or a read's first statement; rolled back either way.
                    raise _Busy from None
                self._close()
                raise
            except BaseException:
                if conn.invalidated:
                    self._close()
                raise
        finally:
            self._lock.release()

    @staticmethod
    def _transaction(conn: Connection, work: Work[T], begin: str) -> T:
        dbapi: Any = conn.connection.dbapi_connection
        with raw_sqlite_errors("BEGIN"):
            dbapi.execute(f"BEGIN {begin}")
        try:
            result = work(conn)
        except BaseException:
            if conn.in_transaction():
                conn.rollback()
            with raw_sqlite_errors("ROLLBACK"):
                dbapi.rollback()
            raise
        if conn.in_transaction():
            conn.commit()  # SQLAlchemy's view of the transaction, and the transaction
        else:
            with raw_sqlite_errors("COMMIT"):
                dbapi.commit()
        return result

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def dispose(self) -> None:
        with self._lock:
            self._close()
            self.engine.dispose()


async def _drained(pending: asyncio.Future[Any], deadline: float) -> bool:
    """Wait for `pending` until `deadline`; whether it is done (its outcome is its caller's)."""
    left = deadline - time.monotonic()
    if left > 0:
        await asyncio.wait([pending], timeout=left)
    return pending.done()


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: a failed checkpoint is retried by the next one


def _is_busy(error: exc.OperationalError) -> bool:
    code = getattr(error.orig, "sqlite_errorcode", None)
    # Extended result codes keep the primary code in the low byte.
    return isinstance(code, int) and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _SqliteRunner:
    """Short transactions at once on the caller's thread (`_Inline`); bulk ones, and
    short ones that would have waited, on two threads: one writer, one reader.

    The writer thread is the in-process writer queue: SQLite has one writer at a time, so
    write transactions wait here, in order, rather than on the file lock. Reads have their
    own thread, so they never wait behind a writer (WAL). More threads only fight over
    the GIL (bench/bench_sqlite.py)."""

    def __init__(self, url: str, *, pool_size: int, timeout: float) -> None:
        self.timeout = timeout
        self.engine = _create_sqlite_engine(url, pool_size=pool_size, timeout=timeout)
        self._memory = _is_sqlite_memory(url)
        # An in-memory database is one shared connection: everything queues on one thread.
        self._inline = None if self._memory else _Inline(url)
        self._writes = 0  # short writes, counted on the event loop
        self._checkpointed = 0  # of them, covered by the last complete checkpoint
        self._checkpointing = False  # set here, cleared on the writer thread
        self._writer: ThreadPoolExecutor | None = None
        self._reader: ThreadPoolExecutor | None = None
        # The newest write queued on the writer thread (FIFO: once it is done, so is
        # everything queued before it); short writes wait for it before they run.
        self._last_write: asyncio.Future[Any] | None = None

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

    async def run(self, work: Work[T], *, write: bool, bulk: bool) -> T:
        begin = "IMMEDIATE" if write else "DEFERRED"
        if self._inline is not None and not bulk:
            deadline: float | None = None
            while True:
                pending = self._pending_write() if write else None
                if pending is not None:
                    # Our writer thread has the lock or will take it (a checkpoint, a bulk
                    # write): wait for it to drain, then run here (see the module doc).
                    deadline = deadline or time.monotonic() + self.timeout
                    if not await _drained(pending, deadline):
                        break  # still busy at the store timeout: queue (and fail there)
                    continue
                try:
                    result = self._inline.run(work, begin)
                except _Busy:
                    if write and self._pending_write() is not None:
                        continue
                    break  # another process holds the lock, or a second event loop
                if write:
                    self._count_write()
                return result
        # A caller cancelled while its transaction waits in the queue takes it out of the
        # queue; one that already started finishes (commits or rolls back) on its thread.
        future = asyncio.get_running_loop().run_in_executor(
            self._thread(write=write), self._transaction, work, begin, time.monotonic()
        )
        if write:
            self._last_write = future
        result = await future
        if write and not bulk and self._inline is not None:
            self._count_write()
        return result

    def _pending_write(self) -> asyncio.Future[Any] | None:
        """What this event loop last queued on the writer thread, if it is not done."""
        last = self._last_write
        if last is None or last.done() or last.get_loop() is not asyncio.get_running_loop():
            return None
        return last

    def _count_write(self) -> None:
        """`CHECKPOINT_EVERY` short writes after the last complete checkpoint, a checkpoint
        on the writer thread (the short path's connection does none: it would fsync on the
        caller's thread). Until one completes, every further write asks again."""
        self._writes += 1
        if self._checkpointing or self._writes - self._checkpointed < CHECKPOINT_EVERY:
            return
        self._checkpointing = True
        future = asyncio.get_running_loop().run_in_executor(
            self._thread(write=True), self._run_checkpoint, self._writes
        )
        future.add_done_callback(_retrieve)
        self._last_write = future

    def _run_checkpoint(self, writes: int) -> None:
        # RESTART waits (busy timeout) for the writer and the readers of the WAL, copies it
        # all, and makes the next writer start it over; it answers (busy, WAL frames, frames
        # copied). Busy: not complete, so the next short write asks again. On the raw
        # connection: no transaction around it.
        try:
            raw = self.engine.raw_connection()
            try:
                sqlite: Any = raw.driver_connection
                busy, frames, _ = sqlite.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                if not busy and frames > WAL_TRUNCATE_FRAMES:
                    busy, _, _ = sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                raw.close()
            if not busy:
                self._checkpointed = writes
        finally:
            self._checkpointing = False

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
        if self._inline is not None:
            self._inline.dispose()
        if writer is not None:
            await asyncio.get_running_loop().run_in_executor(writer, self.engine.dispose)
        self.engine.dispose()
        for thread in {writer, reader}:
            if thread is not None:
                thread.shutdown(wait=False)


def _create_sqlite_engine(
    url: str, *, pool_size: int, timeout: float, checkpoints: bool = True
) -> Engine:
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
    _install_sqlite_hooks(engine, timeout, checkpoints=checkpoints)
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


def _install_sqlite_hooks(engine: Engine, timeout: float, *, checkpoints: bool) -> None:
    """The SQLAlchemy recipe for real SQLite transactions: the driver emits no BEGIN of
    its own; we emit `BEGIN` or `BEGIN IMMEDIATE` (per connection option) ourselves.
    Without `checkpoints`, a commit never checkpoints the WAL (the runner does)."""

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
            *(() if checkpoints else ("PRAGMA wal_autocheckpoint=0",)),
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        dbapi: Any = conn.connection.dbapi_connection
        if dbapi.in_transaction:
            return  # the short path began it (`_Inline`)
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        # Straight to sqlite3: a whole SQLAlchemy execution for BEGIN cost a third of a
        # short read transaction (bench/README.md).
        with raw_sqlite_errors("BEGIN"):
            dbapi.execute(f"BEGIN {mode}")
