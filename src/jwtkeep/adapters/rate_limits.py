"""The rate-limit port (`jwtkeep.ports.rate_limits`) over the `limits` library: a moving
window in memory (one process) or in the Redis the token store lives in, so every
replica counts together (a Lua script makes each hit atomic there).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar
from urllib.parse import urlsplit

from limits import (
    RateLimitItem,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from jwtkeep.errors import StoreUnavailable
from jwtkeep.ports.rate_limits import RateLimit, WindowStats

__all__ = ["NAMESPACE", "LimitsRateLimits", "limiter_storage_uri", "open_rate_limits"]

NAMESPACE = "jwtkeep-attempts"
T = TypeVar("T")


def limiter_storage_uri(token_store_url: str | None) -> tuple[str, dict[str, float | str | bool]]:
    """The `limits` async storage URI (and options) for a jwtkeep token-store URL."""
    if token_store_url is None or not token_store_url.startswith(("redis", "rediss")):
        return "async+memory://", {}
    parts = urlsplit(token_store_url)
    if parts.scheme == "redis+sentinel":
        # jwtkeep: redis+sentinel://host:port[,host:port]/service[/db]; limits wants the
        # service as the whole path and the db as an option.
        segments = [s for s in parts.path.split("/") if s]
        options: dict[str, float | str | bool] = {}
        if len(segments) > 1 and segments[1].isdigit():
            options["db"] = int(segments[1])
        service = segments[0] if segments else ""
        return f"async+redis+sentinel://{parts.netloc}/{service}", options
    return f"async+{token_store_url}", {}


class _MemoryStorage(MemoryStorage):
    """`limits`' in-process storage, with a `clear` its expiry sweep survives.

    The sweep lists the keys, then reads `events[key]` for each after an await; the stock
    `clear` deletes the key, so a clear in between (every successful login clears its
    pair counter) killed the sweep with a KeyError nobody retrieved, logged as "Task
    exception was never retrieved" when the task was collected. Emptying the list in
    place counts the same (a moving window of no entries) and the sweep then drops it.
    """

    async def clear(self, key: str) -> None:
        self.storage.pop(key, None)
        self.expirations.pop(key, None)
        if key in self.events:
            self.events[key] = []


def open_rate_limits(token_store_url: str | None, *, timeout: float) -> LimitsRateLimits:
    """Memory, or the Redis named by the token-store URL (`timeout`: its socket timeouts)."""
    uri, options = limiter_storage_uri(token_store_url)
    if uri == "async+memory://":
        return LimitsRateLimits(_MemoryStorage())
    options |= {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    storage = storage_from_string(uri, implementation="redispy", wrap_exceptions=True, **options)
    assert isinstance(storage, Storage)
    return LimitsRateLimits(storage)


def _item(limit: RateLimit) -> RateLimitItem:
    # The coarsest unit that divides the window, so the keys are the ones `limits` always
    # used for these limits (a counter in Redis survives an upgrade).
    for unit, per in ((3600, RateLimitItemPerHour), (60, RateLimitItemPerMinute)):
        if limit.window % unit == 0:
            return per(limit.amount, limit.window // unit, namespace=NAMESPACE)
    return RateLimitItemPerSecond(limit.amount, limit.window, namespace=NAMESPACE)


class LimitsRateLimits:
    """`RateLimits` over one `limits` async storage, moving-window strategy."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._items: dict[RateLimit, RateLimitItem] = {}

    def _of(self, limit: RateLimit) -> RateLimitItem:
        item = self._items.get(limit)
        if item is None:
            item = self._items[limit] = _item(limit)
        return item

    async def hit(self, limit: RateLimit, key: tuple[str, ...]) -> bool:
        return await _call(self._limiter.hit(self._of(limit), *key))

    async def test(self, limit: RateLimit, key: tuple[str, ...]) -> bool:
        return await _call(self._limiter.test(self._of(limit), *key))

    async def clear(self, limit: RateLimit, key: tuple[str, ...]) -> None:
        await _call(self._limiter.clear(self._of(limit), *key))

    async def window(self, limit: RateLimit, key: tuple[str, ...]) -> WindowStats:
        item = self._of(limit)
        stats = await _call(self._limiter.get_window_stats(item, *key))
        return WindowStats(hits=item.amount - stats.remaining, reset_at=stats.reset_time)

    async def close(self) -> None:
        """Close the Redis client, if any (the memory storage needs nothing)."""
        bridge = getattr(self._storage, "bridge", None)
        client = bridge.get_connection() if bridge is not None else None
        closer = getattr(client, "aclose", None)
        if closer is not None:
            await closer()


async def _call(call: Awaitable[T]) -> T:
    try:
        return await call
    except Exception as exc:  # the port's contract: fail closed, whatever the storage raised
        raise StoreUnavailable(f"rate limit storage unavailable ({type(exc).__name__})") from exc
