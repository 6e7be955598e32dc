"""`RedisRevocationFeed`: the token store's revocation events, from Redis pub/sub.

The store's Lua scripts PUBLISH each event on `jwtkeep:revocations` in the same script
as the change (`common.lua`). A feed subscribes to it on a connection of its own and
proves that connection alive with a PING every `heartbeat` seconds: a subscribed client
gets the PONG in the same stream as the messages (Redis "PING" in RESP2 pub/sub mode), so
an answered PING means every event published before it has been read. A PING left
unanswered for `silence` seconds (a stopped or partitioned Redis), a closed connection
(`CLIENT KILL TYPE pubsub`, a restart) or any error ends `listen()` with
`StoreUnavailable`; the follower then distrusts its cache (fail closed) and subscribes
again.

The feed also keeps the store's `CutoffMemo` (if given) in step: it is live only while a
subscription is, and forgets on every `all` event before the event is handed on.

Needs only SUBSCRIBE and PING on the channel (docs/redis-acl.conf).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from jwtkeep.adapters.redis.cutoff_memo import DEFAULT_SILENCE, CutoffMemo
from jwtkeep.adapters.redis.layout import EVENTS_CHANNEL
from jwtkeep.core.revocation_events import EventKind, RevocationEvent, decode_event
from jwtkeep.errors import StoreUnavailable
from jwtkeep.ports.revocation_feed import DEFAULT_HEARTBEAT

__all__ = ["RedisRevocationFeed"]


def _identity(value: str) -> str:
    return value


class RedisRevocationFeed:
    """A `RevocationFeed` on Redis pub/sub (standalone, Sentinel's master, Cluster)."""

    def __init__(
        self,
        client_factory: Callable[[], Redis],
        *,
        heartbeat: float = DEFAULT_HEARTBEAT,
        silence: float = DEFAULT_SILENCE,
        cutoffs: CutoffMemo | None = None,
    ) -> None:
        self._client_factory = client_factory
        self.heartbeat = heartbeat
        self.silence = silence
        self._cutoffs = cutoffs if cutoffs is not None else CutoffMemo(silence=silence)

    def keyer(self) -> Callable[[str], str]:
        return _identity

    async def listen(self) -> AsyncIterator[RevocationEvent | None]:
        client = self._client_factory()
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(EVENTS_CHANNEL)
            last_ping = last_answer = time.monotonic()
            await pubsub.ping()
            while True:
                now = time.monotonic()
                if now - last_answer > self.silence:
                    raise StoreUnavailable("revocation subscription: no answer to PING")
                if now - last_ping >= self.heartbeat:
                    await pubsub.ping()
                    last_ping = now
                message = await pubsub.get_message(timeout=self.heartbeat / 2)
                if message is None:
                    continue
                kind = message.get("type")
                if kind in ("message", "pong", "subscribe"):
                    last_answer = time.monotonic()
                    yield self._signal(kind, message)
                elif kind == "unsubscribe":
                    raise StoreUnavailable("revocation subscription: unsubscribed")
        except (RedisError, OSError) as exc:
            reason = type(exc).__name__
            raise StoreUnavailable(f"revocation subscription (redis): {reason}") from exc
        finally:
            self._cutoffs.lost()
            try:
                await asyncio.shield(pubsub.aclose())  # type: ignore[no-untyped-call]
                await asyncio.shield(client.aclose())
            except (RedisError, OSError):
                pass

    def _signal(self, kind: str, message: dict[str, Any]) -> RevocationEvent | None:
        """The event (None for a sign of life), the cut-off memo told first."""
        if kind == "subscribe":
            self._cutoffs.restart()  # in place: nothing published from now on is missed
            return None
        self._cutoffs.beat()
        if kind == "pong":
            return None
        event = decode_event(message["data"])
        if event.kind is EventKind.ALL:
            self._cutoffs.changed()  # a cut-off may have been raised
        return event

    async def aclose(self) -> None:
        return None
