"""Token store URLs (jwtkeep/adapters/redis/connect.py): every form, against real servers
where one can run here (TLS cannot: the bundled redis-server is built without it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from jwtkeep.adapters.redis import RedisTokenStore
from jwtkeep.adapters.redis.connect import parse_hosts
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.errors import ConfigurationError, StoreUnavailable
from jwtkeep.ports import AccessRecord, Session
from jwtkeep.runtime import open_token_store
from tests.support.redis_server import RedisProcess, RedisSentinel

NOW = 1_800_000_000.0
PASSWORD = "correct-horse-battery-staple"


async def _round_trip(store: RedisTokenStore) -> None:
    """Every path the store has: scripts, the pipelined hot path, plain commands."""
    user, sid = str(uuid4()), uuid4().hex
    record = AccessRecord(fingerprint(f"t-{sid}"), user, sid, "j", "web", int(NOW) + 300)
    session = Session(sid, user, "web", "read", NOW, NOW, NOW + 3600, NOW + 86400)
    await store.start_session(session, fingerprint(f"r-{sid}"), record, NOW)
    assert await store.is_allowed(record.fingerprint, user, sid, NOW)
    assert await store.get_session(sid, NOW) == session
    await store.ping()
    assert await store.end_session(user, sid)
    assert not await store.is_allowed(record.fingerprint, user, sid, NOW)


@pytest.fixture
def secured_redis(redis_executable: str, tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(redis_executable, tmp_path / "auth", password=PASSWORD)
    server.start()
    yield server
    server.terminate()


async def test_password_and_db_from_the_url(secured_redis: RedisProcess) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{secured_redis.port}/3"
    store = await open_token_store(url)
    try:
        await _round_trip(store)  # type: ignore[arg-type]
    finally:
        await store.close()
    with secured_redis.client() as admin:
        admin.select(3)
        assert admin.dbsize() > 0  # the sid -> user mapping stayed, in db 3
        admin.select(0)
        assert admin.dbsize() == 0


async def test_a_wrong_password_fails_closed_without_saying_it(secured_redis: RedisProcess) -> None:
    store = RedisTokenStore.from_url(f"redis://:not-{PASSWORD}@127.0.0.1:{secured_redis.port}/0")
    try:
        with pytest.raises(StoreUnavailable) as failed:
            await store.is_allowed(fingerprint("x"), "u", "s", NOW)
        with pytest.raises(StoreUnavailable):
            await store.add_access(AccessRecord(fingerprint("x"), "u", "s", "j", "c", 1), NOW)
    finally:
        await store.close()
    assert PASSWORD not in repr(failed.value)
    assert PASSWORD not in str(failed.value.__cause__)


async def test_sentinel_finds_the_master(redis_sentinel: RedisSentinel) -> None:
    redis_sentinel.master.flush()
    store = await open_token_store(redis_sentinel.url)
    try:
        assert isinstance(store, RedisTokenStore)
        await _round_trip(store)
    finally:
        await store.close()


async def test_an_unknown_sentinel_service_fails_closed(redis_sentinel: RedisSentinel) -> None:
    url = redis_sentinel.url.replace("/jwtkeep/", "/nobody/")
    store = RedisTokenStore.from_url(url)
    try:
        with pytest.raises(StoreUnavailable):
            await store.is_allowed(fingerprint("x"), "u", "s", NOW)
        with pytest.raises(StoreUnavailable):
            await store.list_sessions("u", NOW)
    finally:
        await store.close()


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://127.0.0.1:26379",  # no service name
        "redis+sentinel://127.0.0.1:26379/svc/notadb",
        "redis+sentinel://127.0.0.1:notaport/svc",
        "redis+cluster://127.0.0.1:7000/1",  # a cluster has only db 0
        "redis+cluster://127.0.0.1:7000?ssl=true",
        "redis+cluster://[::1:7000",
        "redis+cluster://:70000",
        "redis://127.0.0.1:6379/0?db=notanumber",
        "memcached://127.0.0.1",
    ],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        RedisTokenStore.from_url(url)


@pytest.mark.parametrize(
    "url",
    [
        f"redis+sentinel://admin:{PASSWORD}@127.0.0.1:notaport/svc",
        f"redis+cluster://:{PASSWORD}@127.0.0.1:99999",
    ],
)
def test_a_bad_url_never_echoes_its_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as failed:
        RedisTokenStore.from_url(url)
    assert PASSWORD not in str(failed.value)


def test_timeouts_and_pool_size_must_make_sense() -> None:
    with pytest.raises(ConfigurationError):
        RedisTokenStore.from_url("redis://127.0.0.1/0", timeout=0)
    with pytest.raises(ConfigurationError):
        RedisTokenStore.from_url("redis://127.0.0.1/0", pool_size=0)


def test_host_lists() -> None:
    assert parse_hosts("a:1,b,[::1]:3, [fe80::2]", 9) == [
        ("a", 1),
        ("b", 9),
        ("::1", 3),
        ("fe80::2", 9),
    ]
