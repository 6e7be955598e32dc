"""Follow a revocation feed: keep verdict caches and key rings in step with the store.

DESIGN.md "Contract: resource-server SDK": a cached verdict is trusted only while the
subscription is known live. `RevocationFollower.run()` is the one loop that does it, for
replicas (`jwtkeep serve`) and SDK verifiers alike:
- the first sign of a new subscription restarts every cache (empty, live);
- every later sign of life beats them; every event is applied to them, then handed to
  the `on_event` callbacks (a key ring drops a withdrawn kid);
- a lost subscription empties them at once (`VerdictCache.lost`), and the loop
  subscribes again with a short backoff. While it is down, every request goes to the
  store, which fails closed if it is down too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from jwtkeep.core.revocation_events import RevocationEvent
from jwtkeep.core.verdicts import VerdictCache
from jwtkeep.errors import JwtkeepError
from jwtkeep.ports.revocation_feed import RevocationFeed

__all__ = ["MAX_BACKOFF", "EventCallback", "RevocationFollower"]

_log = structlog.get_logger("jwtkeep.revocation")

MAX_BACKOFF = 1.0
EventCallback = Callable[[RevocationEvent], None]


class RevocationFollower:
    def __init__(
        self,
        feed: RevocationFeed,
        caches: Sequence[VerdictCache] = (),
        on_event: Sequence[EventCallback] = (),
    ) -> None:
        self.feed = feed
        self.caches = tuple(caches)
        self.on_event = list(on_event)
        self.events_seen = 0
        self.connected = asyncio.Event()

    async def run(self) -> None:
        """Forever (until cancelled): subscribe, follow, and after a loss subscribe again."""
        backoff = 0.05
        while True:
            try:
                await self._follow()
            except (JwtkeepError, OSError) as exc:
                _log.warning("revocation.subscription_lost", reason=str(exc))
            finally:
                self.connected.clear()
                for cache in self.caches:
                    cache.lost()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _follow(self) -> None:
        started = False
        async for signal in self.feed.listen():
            if not started:
                started = True
                for cache in self.caches:
                    cache.restart(self.feed.keyer())
                self.connected.set()
                _log.info("revocation.subscribed")
            for cache in self.caches:
                cache.beat()
            if signal is None:
                continue
            self.events_seen += 1
            for cache in self.caches:
                cache.apply(signal)
            for callback in self.on_event:
                callback(signal)
