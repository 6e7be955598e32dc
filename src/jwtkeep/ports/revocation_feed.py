"""The revocation feed: a subscription to the token store's revocation events.

DESIGN.md "Contract: the token store": replicas and SDK verifiers listen. A feed is one
subscription at a time; `listen()` yields:
- `None` for every sign of life (the subscription confirmed, a heartbeat answered), at
  least every `heartbeat` seconds while the subscription is healthy;
- a `RevocationEvent` for each revocation, in the order the store published them.

The first item comes only once the subscription is in place, so nothing published after
it can be missed. Losing the subscription (disconnect, error, a heartbeat unanswered for
too long) raises `jwtkeep.errors.StoreUnavailable`; the caller then distrusts its verdict
cache and calls `listen()` again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Protocol

from jwtkeep.core.revocation_events import RevocationEvent

__all__ = ["DEFAULT_HEARTBEAT", "RevocationFeed"]

DEFAULT_HEARTBEAT = 0.25


class RevocationFeed(Protocol):
    def listen(self) -> AsyncIterator[RevocationEvent | None]:
        """The events and heartbeats of one subscription (see the module docstring)."""
        ...

    def keyer(self) -> Callable[[str], str]:
        """How this subscription's session and user events name a sid or sub (the
        identity, or a keyed hash on the issuer's HTTPS stream)."""
        ...

    async def aclose(self) -> None: ...
