"""The rate-limit port over `limits` (`jwtkeep.adapters.rate_limits`), in memory and on a
real Redis: atomic hits that refuse without counting, tests and windows that count
nothing, and the same Redis keys the login guard always used."""

from __future__ import annotations

import asyncio
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


async def test_a_clear_during_the_memory_sweep_leaves_no_failed_task() -> None:
    # limits' in-memory sweep lists the keys, then reads each after an await; a clear in
    # between used to kill it with a KeyError nobody retrieved ("Task exception was never
    # retrieved" on every successful login). On CPython 3.11 before 3.11.8 the collector
    # logging that traceback inside another ast.parse failed that parse with
    # "SystemError: AST constructor recursion depth mismatch" (CPython gh-106905).
    counters = open_rate_limits(None, timeout=1.0)
    other = ("login", "pair", "digest", "192.0.2.2")
    await counters.hit(LIMIT, KEY)
    await counters.hit(LIMIT, other)
    await asyncio.sleep(0)  # the sweep starts, and awaits its first key
    background = asyncio.all_tasks() - {asyncio.current_task()}
    assert background  # the sweep, still running
    await counters.clear(LIMIT, other)
    outcomes = await asyncio.gather(*background, return_exceptions=True)
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    assert (await counters.window(LIMIT, other)).hits == 0
    assert (await counters.window(LIMIT, KEY)).hits == 1


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
