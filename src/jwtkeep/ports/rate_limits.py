"""Rate-limit counters (DESIGN.md "Architecture": a port like the token store's).

What the login guard (`jwtkeep.server.ratelimit`) needs: counters of hits under a key in
a moving window. Semantics every adapter keeps:
- `hit` counts one hit *atomically* and says whether it fit, so parallel requests
  cannot all pass a limit that only one more would reach; a hit that does not fit is
  not counted.
- `test` and `window` count nothing.
- Counters are shared by every process that uses the same backend (Redis), or local to
  the process (memory).
- Any failure to reach the counters raises `jwtkeep.errors.StoreUnavailable`, never a
  "fits": the caller fails closed (an unreachable counter must not open the gate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["RateLimit", "RateLimits", "WindowStats"]


@dataclass(frozen=True)
class RateLimit:
    """At most `amount` hits per key within any `window` seconds."""

    amount: int
    window: int


@dataclass(frozen=True)
class WindowStats:
    """A key's counter now: the hits in the window, and when (epoch seconds) the
    oldest of them leaves it."""

    hits: int
    reset_at: float


class RateLimits(Protocol):
    async def hit(self, limit: RateLimit, key: tuple[str, ...]) -> bool:
        """Count one hit atomically; False (and nothing counted) if it does not fit."""

    async def test(self, limit: RateLimit, key: tuple[str, ...]) -> bool:
        """True if one more hit would fit now."""

    async def clear(self, limit: RateLimit, key: tuple[str, ...]) -> None:
        """Forget the key's hits."""

    async def window(self, limit: RateLimit, key: tuple[str, ...]) -> WindowStats: ...

    async def close(self) -> None: ...
