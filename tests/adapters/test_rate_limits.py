"""The rate-limit port over `limits` (`jwtkeep.adapters.rate_limits`), in memory and on a
real Redis: atomic hits that refuse without counting, tests and windows that count
nothing, and the same Redis keys the login guard always used."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from jwtkeep.adapters.rate_limits import NAMESPACE, _item, open_rate_limits
from jwtkeep.ports.rate_limits import RateLimit, RateLimits

LIMIT = RateLimit(amount=3, window=15 * 60)
KEY = ("login", "pair", "digest", "192.0.2.1")


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def counters(request: pytest.FixtureRequest) -> AsyncIterator[RateLimits]:
    url = None if request.param == "memory" else request.getfixturevalue("fresh_redis_url")
    counters = open_rate_limits(url, timeout=1.0)
    try:
        yield counters
    finally:
        await counters.close()


async def test_hits_fit_up_to_the_amount_and_a_refused_hit_counts_nothing(
    counters: RateLimits,
) -> None:
    assert [await counters.hit(LIMIT, KEY) for _ in range(4)] == [True, True, True, False]
    stats = await counters.window(LIMIT, KEY)
    assert stats.hits == 3
    assert time.time() < stats.reset_at <= time.time() + LIMIT.window
    assert await counters.test(LIMIT, KEY) is False
    assert await counters.test(LIMIT, ("another", "key")) is True


async def test_test_and_window_count_nothing_and_clear_forgets(counters: RateLimits) -> None:
    for _ in range(5):
        assert await counters.test(LIMIT, KEY) is True
        await counters.window(LIMIT, KEY)
    assert (await counters.window(LIMIT, KEY)).hits == 0
    await counters.hit(LIMIT, KEY)
    await counters.hit(LIMIT, KEY)
    await counters.clear(LIMIT, KEY)
    assert (await counters.window(LIMIT, KEY)).hits == 0


@pytest.mark.parametrize(
    ("limit", "key"),
    [
        (RateLimit(10, 900), f"{NAMESPACE}/k/10/15/minute"),
        (RateLimit(100, 3600), f"{NAMESPACE}/k/100/1/hour"),
        (RateLimit(300, 60), f"{NAMESPACE}/k/300/1/minute"),
        (RateLimit(5, 45), f"{NAMESPACE}/k/5/45/second"),
    ],
)
def test_the_counters_keep_the_keys_the_guard_always_used(limit: RateLimit, key: str) -> None:
    # A counter in Redis survives the upgrade: the same `limits` keys as before the port.
    assert _item(limit).key_for("k") == key
