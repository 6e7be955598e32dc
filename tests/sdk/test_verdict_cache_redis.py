"""The SDK's verdict cache on a real Redis: fast while the subscription lives, never wrong.

`Verifier.with_redis` follows the store's revocation events (Redis pub/sub) and answers
a repeat token from memory only while that subscription is known live. Fault tests with
a real redis-server process: the subscription connection killed (`CLIENT KILL TYPE
pubsub`), Redis restarted, Redis stopped (SIGSTOP). In every case no revoked token is
accepted from the cache. Blocking process control runs in a thread so the verifier's
event loop keeps running, as it would in a real API. Waits are bounded conditions on the
verifier's state, never timing assertions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from jwtkeep.adapters.redis.layout import ACCESS, user_key
from jwtkeep.core.clock import FixedClock
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.errors import StoreUnavailable
from jwtkeep.ports import AccessRecord, TokenStore
from jwtkeep.runtime import open_token_store
from jwtkeep.sdk import JwksKeySource, Verifier
from tests.sdk.helpers import AUDIENCE, ISSUER, Minter
from tests.support.redis_server import CORRECTNESS_TIMEOUT, RedisProcess
from tests.support.refusals import refused_for

pytestmark = pytest.mark.redis

WAIT = 10.0


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(now=float(int(time.time())))


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.005)


async def issue(store: TokenStore, minter: Minter) -> tuple[str, AccessRecord]:
    token = minter.token(allowlisted=False)
    claims = minter.issued[-1]
    record = AccessRecord(fingerprint(token), claims.sub, claims.sid, claims.jti,
                          claims.client_id, claims.exp, kid=minter.key.kid)  # fmt: skip
    await store.add_access(record, minter.clock())
    return token, record


@pytest.fixture
async def parts(
    restartable_redis: RedisProcess, key_source: JwksKeySource, clock: FixedClock
) -> AsyncIterator[tuple[Verifier, TokenStore]]:
    store = await open_token_store(restartable_redis.url, io_timeout=CORRECTNESS_TIMEOUT)
    verifier = Verifier.with_redis(
        issuer=ISSUER, audience=AUDIENCE, redis_url=restartable_redis.url, keys=key_source,
        clock=clock,
    )  # fmt: skip
    async with asyncio.timeout(WAIT):
        await verifier.wait_subscribed()
    try:
        yield verifier, store
    finally:
        await verifier.aclose()
        await store.close()


def forget_behind_its_back(redis: RedisProcess, record: AccessRecord) -> None:
    """Delete a record without its event: what a missed event would leave behind."""
    with redis.client() as client:
        assert client.hdel(user_key(record.sub), ACCESS + record.fingerprint) == 1


async def test_a_repeat_token_is_answered_from_memory_while_subscribed(
    parts: tuple[Verifier, TokenStore], minter: Minter, restartable_redis: RedisProcess
) -> None:
    verifier, store = parts
    token, record = await issue(store, minter)
    await verifier.verify(token)
    forget_behind_its_back(restartable_redis, record)
    # The store would say no now; the cached verdict (no event came) still says yes:
    # proof that the repeat check skipped the store.
    assert (await verifier.verify(token)).jti == record.jti
    assert verifier.cache is not None
    assert len(verifier.cache) == 1


@pytest.mark.parametrize("revoke", ["logout", "logout-all", "rfc7009", "key-leak drill"])
async def test_every_revocation_reaches_the_cache(
    parts: tuple[Verifier, TokenStore], minter: Minter, revoke: str
) -> None:
    verifier, store = parts
    token, record = await issue(store, minter)
    await verifier.verify(token)
    assert verifier.follower is not None
    seen = verifier.follower.events_seen
    if revoke == "logout":
        assert await store.end_session(record.sub, record.sid)
    elif revoke == "logout-all":
        await store.end_user_sessions(record.sub)
    elif revoke == "rfc7009":
        assert await store.remove_access(record.fingerprint, record.sub, record.sid)
    else:
        assert await store.revoke_signed_by(minter.key.kid, minter.clock()) == 1
    await until(lambda: verifier.follower is not None and verifier.follower.events_seen > seen)
    with refused_for("not in the allowlist|unknown or withdrawn kid"):
        await verifier.verify(token)


async def test_the_drill_drops_the_kid_from_the_sdk_key_ring(
    parts: tuple[Verifier, TokenStore], minter: Minter
) -> None:
    verifier, store = parts
    token, _ = await issue(store, minter)
    await verifier.verify(token)
    assert verifier.follower is not None
    seen = verifier.follower.events_seen
    await store.revoke_signed_by(minter.key.kid, minter.clock())
    await until(lambda: verifier.follower is not None and verifier.follower.events_seen > seen)
    other, _ = await issue(store, minter)  # allowlisted, signed by the withdrawn key
    with refused_for("unknown or withdrawn kid"):
        await verifier.verify(other)


async def test_killing_the_subscription_connection_drops_the_cache(
    parts: tuple[Verifier, TokenStore], minter: Minter, restartable_redis: RedisProcess
) -> None:
    verifier, store = parts
    assert verifier.follower is not None
    token, record = await issue(store, minter)
    await verifier.verify(token)
    epoch = verifier.follower.epoch

    def kill() -> None:
        with restartable_redis.client() as client:
            assert client.client_kill_filter(_type="pubsub") >= 1

    await asyncio.to_thread(kill)
    forget_behind_its_back(restartable_redis, record)  # as if its event was lost with it
    await until(lambda: verifier.follower is not None and verifier.follower.epoch > epoch)
    with refused_for("not in the allowlist"):
        await verifier.verify(token)


async def test_a_redis_restart_never_leaves_a_cached_verdict(
    parts: tuple[Verifier, TokenStore], minter: Minter, restartable_redis: RedisProcess
) -> None:
    verifier, store = parts
    assert verifier.follower is not None
    token, _ = await issue(store, minter)
    await verifier.verify(token)
    epoch = verifier.follower.epoch
    await asyncio.to_thread(restartable_redis.stop)  # a crash: nothing persisted
    await asyncio.to_thread(restartable_redis.start)
    await until(lambda: verifier.follower is not None and verifier.follower.epoch > epoch)
    # The restarted Redis is empty: the token is no longer allowlisted anywhere.
    with refused_for("not in the allowlist"):
        await verifier.verify(token)


async def test_a_stopped_redis_empties_the_cache_and_fails_closed(
    parts: tuple[Verifier, TokenStore], minter: Minter, restartable_redis: RedisProcess
) -> None:
    verifier, store = parts
    assert verifier.follower is not None
    assert verifier.cache is not None
    token, _ = await issue(store, minter)
    await verifier.verify(token)
    assert len(verifier.cache) == 1
    restartable_redis.pause()  # SIGSTOP: sockets open, nothing answers, PINGs unanswered
    try:
        await until(
            lambda: verifier.follower is not None and not verifier.follower.connected.is_set()
        )
        assert len(verifier.cache) == 0
        with pytest.raises(StoreUnavailable, match="token store"):
            await verifier.verify(token)  # never a 200 from memory
    finally:
        restartable_redis.resume()
    await until(lambda: verifier.follower is not None and verifier.follower.connected.is_set())
    assert (await verifier.verify(token)).jti == minter.issued[-1].jti  # recovered


async def test_verdict_cache_can_be_turned_off(
    restartable_redis: RedisProcess, key_source: JwksKeySource, clock: FixedClock, minter: Minter
) -> None:
    verifier = Verifier.with_redis(
        issuer=ISSUER, audience=AUDIENCE, redis_url=restartable_redis.url, keys=key_source,
        clock=clock, verdict_cache=False,
    )  # fmt: skip
    store = await open_token_store(restartable_redis.url, io_timeout=CORRECTNESS_TIMEOUT)
    try:
        token, record = await issue(store, minter)
        await verifier.verify(token)
        forget_behind_its_back(restartable_redis, record)
        with refused_for("not in the allowlist"):
            await verifier.verify(token)
        assert verifier.cache is None
    finally:
        await verifier.aclose()
        await store.close()
