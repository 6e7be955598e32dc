"""What the SQL token store adds to the contract suite (tests/contract/): the bounded purge
of expired rows, SQLite's cross-process write discipline, and SQL-specific errors."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select

from jwtkeep.adapters.sql import Database, SqlTokenStore
from jwtkeep.adapters.sql.engine import CHECKPOINT_EVERY
from jwtkeep.adapters.sql.revocation_events import SqlRevocationFeed
from jwtkeep.adapters.sql.schema import AccessTokenRow, RefreshTokenRow, SessionRow
from jwtkeep.core.revocation_events import RevocationEvent
from jwtkeep.errors import Conflict, StoreUnavailable
from jwtkeep.ports import RotationOutcome
from tests.contract.builders import NOW, access_for, log_in, new_fp, new_user

# An allowlist write changes its row and five indexes: six or seven WAL frames measured.
WAL_FRAMES_PER_WRITE = 10


async def row_counts(database: Database) -> dict[str, int]:
    def count(conn: Connection) -> dict[str, int]:
        return {
            row.__tablename__: conn.execute(select(func.count()).select_from(row)).one()[0]
            for row in (AccessTokenRow, SessionRow, RefreshTokenRow)
        }

    return await database.engine.read(count)


async def test_writes_purge_expired_rows_in_bounded_batches(database: Database) -> None:
    """No cron job (DESIGN "Contract: the token store"): every 5th write here deletes at
    most 3 expired rows per table; sessions take their refresh families with them."""
    store = SqlTokenStore(database.engine, owner=database, purge_every=5, purge_batch=3)
    user = new_user()
    # write 0 (purges; nothing is expired yet): a session dead at NOW + 5, its access
    # token live until NOW + 300.
    await log_in(store, user, idle_timeout=5)
    for _ in range(4):  # writes 1-4: access tokens dead at NOW + 10
        await store.add_access(access_for(user, "sid", exp=NOW + 10), NOW)
    assert await row_counts(database) == {"access_tokens": 5, "sessions": 1, "refresh_tokens": 1}

    # write 5 purges 3 of the 4 dead access tokens, the session and its refresh token.
    await store.add_access(access_for(user, "sid", exp=NOW + 100), NOW + 20)
    assert await row_counts(database) == {"access_tokens": 3, "sessions": 0, "refresh_tokens": 0}

    for _ in range(5):  # writes 6-10; write 10 purges the last dead one
        await store.add_access(access_for(user, "sid", exp=NOW + 100), NOW + 20)
    assert await row_counts(database) == {"access_tokens": 7, "sessions": 0, "refresh_tokens": 0}


async def test_a_duplicate_sid_is_a_conflict(database: Database) -> None:
    login = await log_in(database.tokens)
    with pytest.raises(Conflict):
        await database.tokens.start_session(login.session, new_fp(), access_for("u", "s"), NOW)
    assert await database.tokens.get_session(login.sid, NOW) == login.session


async def test_sqlite_rotation_is_atomic_across_processes(tmp_path: Path) -> None:
    """Two Database objects on one file stand for two processes: their in-process locks
    do not see each other, so only `BEGIN IMMEDIATE` keeps rotation from forking."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = Database.connect(url), Database.connect(url)
    try:
        await first.migrate()
        login = await log_in(first.tokens)
        assert login.refresh_fp is not None
        presented = login.refresh_fp
        outcomes = await asyncio.gather(
            *(
                db.tokens.rotate_refresh(
                    login.user_id,
                    login.sid,
                    presented,
                    new_fp(),
                    access_for(login.user_id, login.sid),
                    NOW + 1,
                    3600,
                )
                for db in [first, second] * 10
            )
        )
    finally:
        await first.close()
        await second.close()
    assert sorted(outcomes) == sorted(
        [RotationOutcome.ROTATED, RotationOutcome.REUSED] + [RotationOutcome.UNKNOWN] * 18
    )


async def test_a_short_write_waits_while_another_process_holds_the_lock(
    tmp_path: Path,
) -> None:
    """A short transaction runs on the event loop and never waits there: while another
    process (here a plain sqlite3 connection) holds the write lock, the write waits on a
    thread, on the busy timeout, and commits once the lock is free."""
    path = tmp_path / "jwtkeep.db"
    database = Database.connect(f"sqlite:///{path}", timeout=10)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        await database.migrate()
        other.execute("BEGIN IMMEDIATE")
        write = asyncio.ensure_future(database.tokens.add_access(access_for("u", "s"), NOW))
        await asyncio.sleep(0.2)
        assert not write.done()  # the event loop ran on: this sleep ended
        other.execute("COMMIT")
        await write
        assert (await row_counts(database))["access_tokens"] == 1
    finally:
        other.close()
        await database.close()


async def test_a_short_write_behind_the_writer_thread_still_runs_on_the_loop(
    tmp_path: Path,
) -> None:
    """While this process's writer thread holds the write lock (a bulk write here, a
    checkpoint in production), a short write awaits it and then runs on the event loop:
    it does not queue on the thread, where every later write would follow it."""
    database = Database.connect(f"sqlite:///{tmp_path / 'jwtkeep.db'}", timeout=10)
    started, release = threading.Event(), threading.Event()

    def hold(_conn: Connection) -> None:
        started.set()
        release.wait(10)

    def where(_conn: Connection) -> threading.Thread:
        return threading.current_thread()

    try:
        await database.migrate()
        bulk = asyncio.ensure_future(database.engine.write(hold, bulk=True))
        await asyncio.to_thread(started.wait, 10)
        short = asyncio.ensure_future(database.engine.write(where))
        await asyncio.sleep(0.1)
        assert not short.done()  # it waits for the lock, and the loop runs on
        release.set()
        await bulk
        assert await short is threading.main_thread()
    finally:
        release.set()
        await database.close()


async def test_short_writes_keep_the_wal_checkpointed(tmp_path: Path) -> None:
    """The short path's connection never checkpoints (that would fsync on the event loop):
    the writer thread does, once CHECKPOINT_EVERY short writes have come since the last
    complete one, and short writes queue behind it rather than race it for the lock. So
    at most CHECKPOINT_EVERY + 1 writes (one may be in flight) go into the WAL between two
    resets, each at most WAL_FRAMES_PER_WRITE frames, and the WAL file, which keeps the
    largest size it ever reached, never holds more, under CPU load too. (Before, a
    checkpoint that came back busy, or was still running at the next due write, was only
    tried again CHECKPOINT_EVERY writes later: 7,826 frames under load.)"""
    path = tmp_path / "jwtkeep.db"
    database = Database.connect(f"sqlite:///{path}")
    writes = 20 * CHECKPOINT_EVERY
    try:
        await database.migrate()
        for _ in range(writes):
            await database.tokens.add_access(access_for("u", "s"), NOW)
        await database.engine.write(lambda _conn: None, bulk=True)  # after the checkpoints
        other = sqlite3.connect(path)
        try:
            # (busy, frames in the WAL, frames copied): PASSIVE only looks, waits for nothing
            _, frames, _ = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            (page_size,) = other.execute("PRAGMA page_size").fetchone()
        finally:
            other.close()
        wal_bytes = path.with_name(path.name + "-wal").stat().st_size
    finally:
        await database.close()
    # https://sqlite.org/fileformat2.html#walformat: a 32-byte header, then frames of a
    # 24-byte header and one page each.
    largest_wal = (wal_bytes - 32) // (page_size + 24)
    assert 0 < frames <= largest_wal <= WAL_FRAMES_PER_WRITE * (CHECKPOINT_EVERY + 1)


async def test_an_in_memory_sqlite_store_serializes_its_one_connection() -> None:
    """`sqlite://` is a single shared connection: concurrent readers and writers must
    take turns or their transactions would collide."""
    database = Database.connect("sqlite://")
    try:
        await database.migrate()
        login = await log_in(database.tokens)
        assert login.refresh_fp is not None
        rotations = [
            database.tokens.rotate_refresh(
                login.user_id,
                login.sid,
                login.refresh_fp,
                new_fp(),
                access_for(login.user_id, login.sid),
                NOW + 1,
                3600,
            )
            for _ in range(10)
        ]
        reads = [database.tokens.list_sessions(login.user_id, NOW + 1) for _ in range(10)]
        outcomes, _ = await asyncio.gather(asyncio.gather(*rotations), asyncio.gather(*reads))
    finally:
        await database.close()
    assert sorted(outcomes) == sorted(
        [RotationOutcome.ROTATED, RotationOutcome.REUSED] + [RotationOutcome.UNKNOWN] * 8
    )


async def test_a_sqlite_write_that_waited_past_the_timeout_never_runs(tmp_path: Path) -> None:
    """A short write that finds the write lock taken (here by a bulk write on the writer
    thread) queues on the writer thread; one whose wait exceeded the store timeout is
    refused with StoreUnavailable (fail closed) and changes nothing."""
    database = Database.connect(f"sqlite:///{tmp_path / 'jwtkeep.db'}", timeout=0.05)
    release = threading.Event()
    try:
        await database.migrate()
        blocker = asyncio.ensure_future(
            database.engine.write(lambda _conn: release.wait(10), bulk=True)
        )
        await asyncio.sleep(0.02)  # the bulk write holds the write lock
        queued = asyncio.ensure_future(database.tokens.add_access(access_for("u", "s"), NOW))
        await asyncio.sleep(0.2)  # the second write has now waited past the timeout
        release.set()
        assert await blocker is True
        with pytest.raises(StoreUnavailable, match="queue wait"):
            await queued
        assert (await row_counts(database))["access_tokens"] == 0
    finally:
        release.set()
        await database.close()


@pytest.mark.parametrize("writer", ["this process", "another process"])
async def test_sqlite_feed_reads_an_event_before_its_poll(tmp_path: Path, writer: str) -> None:
    """With the poll interval an hour, only the wake-up (this process committed the event:
    `wake_feeds`) or the check of the WAL file (another process, here another engine on
    the same file, as the CLI is) can deliver it; a stuck feed fails the bounded wait."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    listener = Database.connect(url)
    await listener.migrate()
    other = Database.connect(url) if writer == "another process" else listener
    feed = SqlRevocationFeed(listener.engine, poll=3600)
    signals = feed.listen()
    try:
        async with asyncio.timeout(10):
            assert await anext(signals) is None  # subscribed
            login = await log_in(other.tokens)
            assert await other.tokens.end_session(login.user_id, login.sid)
            expected = RevocationEvent.session(login.sid, login.user_id, ["web"])
            assert await anext(signals) == expected
    finally:
        await signals.aclose()  # type: ignore[attr-defined]
        await other.close()
        await listener.close()
