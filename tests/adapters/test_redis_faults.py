"""Fault tests with real processes (CONVENTIONS "Tests": stop Redis mid-test, restart it).

The store fails closed while Redis is gone, stuck or busy (StoreUnavailable: never a
True, never a False), and the same store object works again once Redis is back. A Redis
that comes back empty refuses every token issued before: the allowlist is the source of
truth (DESIGN "Contract: the token store").

`asyncio.wait_for(..., HANG_GUARD)` only turns a hang into a failure; it is no timing
assertion (the store's own timeout is 0.25 s, the guard is far above it).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import redis

from jwtkeep.adapters.redis import RedisTokenStore
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.errors import StoreUnavailable
from jwtkeep.ports import AccessRecord, RotationOutcome, Session
from tests.support.redis_server import RedisProcess

NOW = 1_800_000_000.0
HANG_GUARD = 10.0


def _access(sub: str, sid: str) -> AccessRecord:
    token = f"fault-test-token-{uuid4().hex}"
    return AccessRecord(fingerprint(token), sub, sid, uuid4().hex, "web", int(NOW) + 300)


def _session(user: str) -> Session:
    return Session(uuid4().hex, user, "web", "read", NOW, NOW, NOW + 3600, NOW + 86400)


@pytest.fixture
async def store(restartable_redis: RedisProcess) -> AsyncIterator[RedisTokenStore]:
    store = RedisTokenStore.from_url(restartable_redis.url, timeout=0.25)
    yield store
    await store.close()


async def _fails_closed(call: Callable[[], Awaitable[Any]]) -> None:
    with pytest.raises(StoreUnavailable):
        await asyncio.wait_for(call(), HANG_GUARD)


def _every_operation(store: RedisTokenStore, user: str) -> list[Callable[[], Awaitable[Any]]]:
    session = _session(user)
    record = _access(user, session.sid)
    fp = record.fingerprint
    return [
        lambda: store.is_allowed(fp, user, session.sid, NOW),
        lambda: store.add_access(record, NOW),
        lambda: store.remove_access(fp, user, session.sid),
        lambda: store.start_session(session, fp, record, NOW),
        lambda: store.rotate_refresh(user, session.sid, fp, fp, record, NOW, 3600),
        lambda: store.refresh_state(user, session.sid, fp, NOW),
        lambda: store.get_session(session.sid, NOW),
        lambda: store.list_sessions(user, NOW),
        lambda: store.end_session(user, session.sid),
        lambda: store.end_user_sessions(user),
        store.ping,
    ]


async def test_a_killed_redis_fails_closed_and_the_same_store_recovers(
    store: RedisTokenStore, restartable_redis: RedisProcess
) -> None:
    user = str(uuid4())
    session = _session(user)
    first = _access(user, session.sid)
    await store.start_session(session, fingerprint("refresh-1"), first, NOW)
    assert await store.is_allowed(first.fingerprint, user, session.sid, NOW)

    restartable_redis.stop()  # SIGKILL
    for call in _every_operation(store, user):
        await _fails_closed(call)

    restartable_redis.start()  # same port, empty
    # The same store object works again: no reconnect by hand, no new store.
    again = _access(user, session.sid)
    await store.add_access(again, NOW)
    assert await store.is_allowed(again.fingerprint, user, session.sid, NOW)
    # The Redis came back empty: every token issued before is refused.
    assert not await store.is_allowed(first.fingerprint, user, session.sid, NOW)
    outcome = await store.rotate_refresh(
        user, session.sid, fingerprint("refresh-1"), fingerprint("refresh-2"), again, NOW, 60
    )
    assert outcome is RotationOutcome.UNKNOWN
    await store.ping()


async def test_a_restart_while_idle_does_not_cost_a_failed_request(
    store: RedisTokenStore, restartable_redis: RedisProcess
) -> None:
    """Pooled connections to the old process are dead; the first call after the restart
    must notice that and connect again rather than fail (or hand back a stale answer)."""
    user = str(uuid4())
    record = _access(user, uuid4().hex)
    await store.add_access(record, NOW)
    assert await store.list_sessions(user, NOW) == []

    restartable_redis.stop()
    restartable_redis.start()

    await store.add_access(record, NOW)
    assert await store.is_allowed(record.fingerprint, user, record.sid, NOW)
    assert await store.list_sessions(user, NOW) == []


async def test_a_stuck_redis_fails_closed_within_the_timeout_then_recovers(
    store: RedisTokenStore, restartable_redis: RedisProcess
) -> None:
    user = str(uuid4())
    record = _access(user, uuid4().hex)
    await store.add_access(record, NOW)

    restartable_redis.pause()  # SIGSTOP: connections stay open, nothing answers
    try:
        for call in _every_operation(store, user)[:3]:
            await _fails_closed(call)
        many = [store.is_allowed(record.fingerprint, user, record.sid, NOW) for _ in range(50)]
        results = await asyncio.wait_for(asyncio.gather(*many, return_exceptions=True), HANG_GUARD)
        assert all(isinstance(result, StoreUnavailable) for result in results)
    finally:
        restartable_redis.resume()

    assert await store.is_allowed(record.fingerprint, user, record.sid, NOW)
    await store.add_access(_access(user, record.sid), NOW)


async def test_a_busy_redis_fails_closed_then_recovers(
    store: RedisTokenStore, restartable_redis: RedisProcess
) -> None:
    """A script that runs too long makes Redis answer BUSY to everyone else."""
    user = str(uuid4())
    record = _access(user, uuid4().hex)
    await store.add_access(record, NOW)
    admin = restartable_redis.client()
    admin.config_set("lua-time-limit", 10)
    busy = threading.Thread(target=_run_busy_script, args=(restartable_redis,))
    busy.start()
    try:
        await _wait_until_busy(admin)
        await _fails_closed(lambda: store.is_allowed(record.fingerprint, user, record.sid, NOW))
        await _fails_closed(lambda: store.add_access(record, NOW))
    finally:
        admin.script_kill()
        busy.join(HANG_GUARD)
        admin.close()
    assert await store.is_allowed(record.fingerprint, user, record.sid, NOW)


def _run_busy_script(server: RedisProcess) -> None:
    with server.client() as client, pytest.raises(redis.ResponseError):
        client.eval("while true do end", 0)


async def _wait_until_busy(admin: redis.Redis) -> None:
    for _ in range(500):
        try:
            admin.ping()
        except redis.exceptions.BusyLoadingError:
            return
        except redis.ResponseError as exc:
            if str(exc).startswith("BUSY"):
                return
            raise
        await asyncio.sleep(0.01)
    raise AssertionError("Redis never became busy")


async def test_a_store_on_a_dead_address_opens_and_then_fails_closed(tmp_path: Path) -> None:
    from tests.support.services import free_port  # noqa: PLC0415

    store = RedisTokenStore.from_url(f"redis://127.0.0.1:{free_port()}/0", timeout=0.25)
    try:
        for call in _every_operation(store, str(uuid4())):
            await _fails_closed(call)
    finally:
        await store.close()


async def test_tls_to_a_server_without_tls_fails_closed(redis_server: RedisProcess) -> None:
    store = RedisTokenStore.from_url(f"rediss://127.0.0.1:{redis_server.port}/0", timeout=0.25)
    try:
        await _fails_closed(lambda: store.is_allowed(fingerprint("x"), "u", "s", NOW))
        await _fails_closed(store.ping)
    finally:
        await store.close()


async def test_a_server_that_forgot_the_scripts_gets_them_again(
    store: RedisTokenStore, restartable_redis: RedisProcess
) -> None:
    """After a failover or SCRIPT FLUSH the script cache is empty: NOSCRIPT means the
    script did not run, so the store loads it and sends it again, rotation included."""
    user = str(uuid4())
    session = _session(user)
    await store.start_session(session, fingerprint("r0"), _access(user, session.sid), NOW)
    with restartable_redis.client() as admin:
        admin.script_flush()

    outcome = await store.rotate_refresh(
        user, session.sid, fingerprint("r0"), fingerprint("r1"), _access(user, session.sid), NOW, 60
    )

    assert outcome is RotationOutcome.ROTATED
    with restartable_redis.client() as admin:
        admin.script_flush()
    again = await store.rotate_refresh(
        user, session.sid, fingerprint("r0"), fingerprint("r2"), _access(user, session.sid), NOW, 60
    )
    assert again is RotationOutcome.REUSED  # ran exactly once: r0 was used, not rotated twice
