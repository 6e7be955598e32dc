"""The revoke-everything cut-off, remembered by a subscribed verifier, on a real Redis.

`RedisTokenStore.is_allowed` takes the cut-off from its `CutoffMemo` while the store's
revocation subscription is live, and reads `!cut` otherwise. These tests show that the
memo is really used (a cut-off written behind its back, without the `all` event, is not
seen), and that it is never wrong where it matters: a cut-off raised on another
connection is honoured as soon as its `all` event has arrived, a value read before that
event is not kept after it (the race), and once the subscription dies the cut-off is
read from Redis again. Waits are bounded conditions on the follower, never timings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from jwtkeep.adapters.redis import RedisTokenStore
from jwtkeep.adapters.redis.layout import CUTOFF_KEY, EVERYONE
from jwtkeep.core.clock import FixedClock
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.ports import AccessRecord, TokenStore
from jwtkeep.runtime import open_token_store
from jwtkeep.sdk import JwksKeySource, StoreAllowlist, Verifier
from jwtkeep.usecases.subscription import RevocationFollower
from tests.sdk.helpers import AUDIENCE, ISSUER, Minter
from tests.support.redis_server import CORRECTNESS_TIMEOUT, RedisProcess
from tests.support.refusals import refused_for

pytestmark = pytest.mark.redis

WAIT = 10.0
REFUSED = "not in the allowlist"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(now=float(int(time.time())))


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.fixture
async def elsewhere(restartable_redis: RedisProcess) -> AsyncIterator[TokenStore]:
    """The issuer's store: connections of its own, as another process would have."""
    store = await open_token_store(restartable_redis.url, io_timeout=CORRECTNESS_TIMEOUT)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def parts(
    restartable_redis: RedisProcess, key_source: JwksKeySource, clock: FixedClock
) -> AsyncIterator[tuple[Verifier, RedisTokenStore]]:
    """A subscribed verifier (what `Verifier.with_redis` builds), with its store at hand."""
    store = RedisTokenStore.from_url(restartable_redis.url, timeout=CORRECTNESS_TIMEOUT)
    verifier = Verifier(
        issuer=ISSUER, audience=AUDIENCE, allowlist=StoreAllowlist(store), keys=key_source,
        clock=clock, revocations=store.revocation_feed(),
    )  # fmt: skip
    async with asyncio.timeout(WAIT):
        await verifier.wait_subscribed()
    try:
        yield verifier, store
    finally:
        await verifier.aclose()
        await store.close()


async def issue(store: TokenStore, minter: Minter) -> str:
    """A new allowlisted token: first sight for the verifier (no cached verdict)."""
    token = minter.token(allowlisted=False)
    claims = minter.issued[-1]
    record = AccessRecord(fingerprint(token), claims.sub, claims.sid, claims.jti,
                          claims.client_id, claims.exp, kid=minter.key.kid)  # fmt: skip
    await store.add_access(record, minter.clock())
    return token


def cut_off_behind_its_back(redis: RedisProcess, cutoff: float) -> None:
    """A cut-off written without its `all` event: what only a memo would miss."""
    with redis.client() as client:
        client.hset(CUTOFF_KEY, EVERYONE, str(cutoff))


def read_cutoff(redis: RedisProcess) -> float | None:
    """The read `is_allowed` makes on a memo miss: the cut-off for everyone."""
    with redis.client() as client:
        raw = client.hget(CUTOFF_KEY, EVERYONE)
    return None if raw is None else float(raw)


def follower_of(verifier: Verifier) -> RevocationFollower:
    assert verifier.follower is not None
    return verifier.follower


async def test_the_memo_answers_while_subscribed(
    parts: tuple[Verifier, RedisTokenStore], minter: Minter, restartable_redis: RedisProcess
) -> None:
    verifier, store = parts
    await verifier.verify(await issue(store, minter))  # reads the cut-off (none), keeps it
    await asyncio.to_thread(cut_off_behind_its_back, restartable_redis, minter.clock() + 1)
    # Redis alone would refuse this token now; the memo (no event came) still says yes:
    # proof that the check did not read the cut-off again.
    await verifier.verify(await issue(store, minter))
    assert store.cutoffs.get(minter.issued[-1].client_id) == (True, None)


async def test_a_cutoff_raised_elsewhere_is_honoured_once_its_event_arrived(
    parts: tuple[Verifier, RedisTokenStore], minter: Minter, elsewhere: TokenStore
) -> None:
    verifier, store = parts
    await verifier.verify(await issue(store, minter))  # the memo holds "no cut-off"
    before = await issue(elsewhere, minter)
    seen = follower_of(verifier).events_seen
    await elsewhere.end_everything(minter.clock() + 1)
    await until(lambda: follower_of(verifier).events_seen > seen)
    with refused_for(REFUSED):
        await verifier.verify(before)
    minter.clock.advance(2)
    await verifier.verify(await issue(elsewhere, minter))  # issued after: accepted


async def test_a_cutoff_read_before_the_event_is_not_kept_after_it(
    parts: tuple[Verifier, RedisTokenStore],
    minter: Minter,
    elsewhere: TokenStore,
    restartable_redis: RedisProcess,
) -> None:
    verifier, store = parts
    token = await issue(store, minter)
    client_id = minter.issued[-1].client_id
    # The race, step by step: a check reads the cut-off (none yet) ...
    generation = store.cutoffs.generation
    with_nothing = await asyncio.to_thread(read_cutoff, restartable_redis)
    assert with_nothing is None
    # ... the cut-off is raised elsewhere and its event arrives ...
    seen = follower_of(verifier).events_seen
    await elsewhere.end_everything(minter.clock() + 1)
    await until(lambda: follower_of(verifier).events_seen > seen)
    # ... and only then would the check keep what it read: it must not.
    store.cutoffs.put(client_id, with_nothing, generation)
    assert store.cutoffs.get(client_id) == (False, None)
    with refused_for(REFUSED):
        await verifier.verify(token)


async def test_a_cutoff_kept_before_the_event_is_dropped_by_it(
    parts: tuple[Verifier, RedisTokenStore], minter: Minter, elsewhere: TokenStore
) -> None:
    verifier, store = parts
    await verifier.verify(await issue(store, minter))
    client_id = minter.issued[-1].client_id
    assert store.cutoffs.get(client_id) == (True, None)
    token = await issue(store, minter)
    seen = follower_of(verifier).events_seen
    await elsewhere.end_client_sessions(client_id, minter.clock() + 1)  # one app's cut-off
    await until(lambda: follower_of(verifier).events_seen > seen)
    assert store.cutoffs.get(client_id) == (False, None)
    with refused_for(REFUSED):
        await verifier.verify(token)


async def test_after_the_subscription_dies_the_cutoff_is_read_again(
    parts: tuple[Verifier, RedisTokenStore], minter: Minter, restartable_redis: RedisProcess
) -> None:
    verifier, store = parts
    await verifier.verify(await issue(store, minter))  # the memo holds "no cut-off"
    await asyncio.to_thread(cut_off_behind_its_back, restartable_redis, minter.clock() + 1)
    epoch = follower_of(verifier).epoch

    def kill() -> None:
        with restartable_redis.client() as client:
            assert client.client_kill_filter(_type="pubsub") >= 1

    await asyncio.to_thread(kill)  # any event published now would be lost with it
    await until(lambda: follower_of(verifier).epoch > epoch)
    with refused_for(REFUSED):
        await verifier.verify(await issue(store, minter))


async def test_without_a_subscription_the_cutoff_is_read_every_time(
    restartable_redis: RedisProcess, key_source: JwksKeySource, clock: FixedClock, minter: Minter
) -> None:
    store = RedisTokenStore.from_url(restartable_redis.url, timeout=CORRECTNESS_TIMEOUT)
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, allowlist=StoreAllowlist(store),
                        keys=key_source, clock=clock)  # fmt: skip
    try:
        await verifier.verify(await issue(store, minter))
        await asyncio.to_thread(cut_off_behind_its_back, restartable_redis, minter.clock() + 1)
        with refused_for(REFUSED):
            await verifier.verify(await issue(store, minter))
    finally:
        await verifier.aclose()
        await store.close()
