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

`relay()` hands the events on (the issuer's HTTPS event stream): a relay is good only for
the subscription it started in (`epoch`); after a loss, or if its reader falls
`RELAY_BACKLOG` events behind, it is `broken` and its reader must end the stream, so the
client downstream distrusts its own cache too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from jwtkeep.core.revocation_events import RevocationEvent
from jwtkeep.core.verdicts import VerdictCache
from jwtkeep.errors import JwtkeepError
from jwtkeep.ports.revocation_feed import RevocationFeed

__all__ = [
    "MAX_BACKOFF",
    "RELAY_BACKLOG",
    "EventCallback",
    "Relay",
    "RevocationFollower",
    "stop_following",
]

_log = structlog.get_logger("jwtkeep.revocation")

MAX_BACKOFF = 1.0
RELAY_BACKLOG = 10_000
EventCallback = Callable[[RevocationEvent], None]


class Relay:
    def __init__(self, follower: RevocationFollower) -> None:
        self._follower = follower
        self.epoch = follower.epoch
        self.queue: asyncio.Queue[RevocationEvent] = asyncio.Queue(RELAY_BACKLOG)
        self.overflowed = False

    @property
    def broken(self) -> bool:
        follower = self._follower
        return self.overflowed or follower.epoch != self.epoch or not follower.connected.is_set()

    def push(self, event: RevocationEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    def close(self) -> None:
        self._follower.relays.discard(self)


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
        self.epoch = 0  # one more for every subscription that started
        self.relays: set[Relay] = set()

    def relay(self) -> Relay:
        """A queue of the events from now on, while this subscription lasts."""
        relay = Relay(self)
        self.relays.add(relay)
        return relay

    async def run(self) -> None:
        """Forever (until cancelled): subscribe, follow, and after a loss subscribe again."""
        backoff = 0.05
        while True:
            try:
                if await self._follow():
                    backoff = 0.05
            except (JwtkeepError, OSError) as exc:
                _log.warning("revocation.subscription_lost", reason=str(exc))
            finally:
                self.connected.clear()
                for cache in self.caches:
                    cache.lost()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _follow(self) -> bool:
        started = False
        async for signal in self.feed.listen():
            if not started:
                started = True
                for cache in self.caches:
                    cache.restart(self.feed.keyer())
                self.epoch += 1
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
            for relay in tuple(self.relays):
                relay.push(signal)
        return started


async def stop_following(task: asyncio.Task[None]) -> None:
    """Cancel a follower's task and wait for it. A cancellation that lands inside a
    client library's connect may be swallowed there, so it is repeated until it sticks."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
    if not task.cancelled() and task.exception() is not None:
        _log.warning("revocation.follower_failed", reason=type(task.exception()).__name__)
