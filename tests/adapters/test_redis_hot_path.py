"""The auto-pipelined hot path (jwtkeep/adapters/redis/multiplex.py): many concurrent
checks share one connection and each gets its own answer, even when callers give up
half-way (cancellation) or the server replies with an error."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from jwtkeep.adapters.redis import RedisTokenStore
from jwtkeep.adapters.redis.multiplex import PipelinedConnection, pack_command
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.ports import AccessRecord
from tests.support.redis_server import CORRECTNESS_TIMEOUT, RedisProcess

NOW = 1_800_000_000.0


@pytest.fixture(params=["redis", "redis-cluster"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[RedisTokenStore]:
    fixture = "fresh_redis_url" if request.param == "redis" else "fresh_redis_cluster_url"
    store = RedisTokenStore.from_url(request.getfixturevalue(fixture), timeout=CORRECTNESS_TIMEOUT)
    yield store
    await store.close()


def _record(user: str, sid: str, index: int, exp: int) -> AccessRecord:
    return AccessRecord(fingerprint(f"hot-{user}-{sid}-{index}"), user, sid, "j", "web", exp)


async def test_concurrent_checks_each_get_their_own_answer(store: RedisTokenStore) -> None:
    users = [str(uuid4()) for _ in range(20)]
    records = [
        _record(user, sid, index, int(NOW) + (300 if index % 3 else 5))
        for user in users
        for sid in ("s1", "s2")
        for index in range(10)
    ]
    added = records[::2]  # every other one is never issued
    for record in added:
        await store.add_access(record, NOW)

    async def check(record: AccessRecord) -> bool:
        return await store.is_allowed(record.fingerprint, record.sub, record.sid, NOW + 10)

    results = await asyncio.gather(*(check(record) for record in records * 3))

    expected = [record in added and record.exp > NOW + 10 for record in records] * 3
    assert results == expected
    assert True in results
    assert False in results


async def test_cancelled_callers_do_not_shift_the_answers(store: RedisTokenStore) -> None:
    user = str(uuid4())
    allowed = [_record(user, "s", index, int(NOW) + 300) for index in range(30)]
    for record in allowed:
        await store.add_access(record, NOW)
    never = [_record(user, "s", 100 + index, int(NOW) + 300) for index in range(30)]

    for _ in range(5):
        doomed = [
            asyncio.ensure_future(store.is_allowed(r.fingerprint, user, "s", NOW)) for r in never
        ]
        kept = [
            asyncio.ensure_future(store.is_allowed(r.fingerprint, user, "s", NOW)) for r in allowed
        ]
        await asyncio.sleep(0)  # the requests are written...
        for task in doomed:  # ...and their callers give up before the replies are in
            task.cancel()
        assert await asyncio.gather(*kept) == [True] * len(allowed)
        for task in doomed:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def test_an_error_reply_goes_to_its_caller_only(redis_server: RedisProcess) -> None:
    async def address() -> tuple[str, int]:
        return "127.0.0.1", redis_server.port

    connection = PipelinedConnection(address, timeout=1.0)
    try:
        await connection.execute(b"SET", b"hot-path-string", b"1")
        calls = [
            connection.execute(b"GET", b"hot-path-string"),
            connection.execute(b"HGET", b"hot-path-string", b"field"),  # WRONGTYPE
            connection.execute(b"PING"),
        ]
        first, error, last = await asyncio.gather(*calls, return_exceptions=True)
        assert first == b"1"
        assert isinstance(error, Exception)
        assert "WRONGTYPE" in str(error)
        assert last == b"PONG"
    finally:
        await connection.close()


def test_commands_are_packed_as_resp_multibulk() -> None:
    assert pack_command(b"HGET", b"k", b"\r\n") == b"*3\r\n$4\r\nHGET\r\n$1\r\nk\r\n$2\r\n\r\n\r\n"


def test_the_store_runs_under_uvloop(redis_server: RedisProcess) -> None:
    """uvicorn runs on uvloop when it is installed; its transports are not asyncio's."""
    import uvloop  # noqa: PLC0415 (installed with uvicorn[standard], a dependency)

    redis_server.flush()

    async def scenario() -> list[bool]:
        store = RedisTokenStore.from_url(redis_server.url)
        try:
            user = str(uuid4())
            kept, revoked = (
                _record(user, "s", 1, int(NOW) + 60),
                _record(user, "s", 2, int(NOW) + 60),
            )
            for record in (kept, revoked):
                await store.add_access(record, NOW)
            await store.remove_access(revoked.fingerprint, user, "s")
            checks = [kept, revoked] * 50
            return await asyncio.gather(
                *(store.is_allowed(r.fingerprint, user, "s", NOW) for r in checks)
            )
        finally:
            await store.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == [True, False] * 50


def test_one_store_serves_one_event_loop_after_another(redis_server: RedisProcess) -> None:
    """A CLI may run the same store under asyncio.run() twice: the pipelined connection
    of the first, closed loop is dropped and a new one opened on the second."""
    redis_server.flush()
    store = RedisTokenStore.from_url(redis_server.url)
    user = str(uuid4())
    first, second = _record(user, "s", 1, int(NOW) + 60), _record(user, "s", 2, int(NOW) + 60)

    async def add_and_check(record: AccessRecord) -> bool:
        await store.add_access(record, NOW)
        return await store.is_allowed(record.fingerprint, user, "s", NOW)

    assert asyncio.run(add_and_check(first)) is True
    assert asyncio.run(add_and_check(second)) is True

    async def check_both_and_close() -> list[bool]:
        try:
            return [await store.is_allowed(r.fingerprint, user, "s", NOW) for r in (first, second)]
        finally:
            await store.close()

    assert asyncio.run(check_both_and_close()) == [True, True]
