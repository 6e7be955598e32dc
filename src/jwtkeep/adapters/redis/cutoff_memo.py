"""`CutoffMemo`: the revoke-everything cut-offs, remembered while the subscription is live.

Every allowed check needs the latest cut-off, for everyone and for the token's app
(`RedisTokenStore.is_allowed`, the `!cut` hash). Read on every check, it is a second
command on every check that would pass, about half of the first-sight throughput
(bench/results/throughput.md). A cut-off changes only through `raise_cutoff.lua`, which
publishes an `all` revocation event in the same step. So while a revocation subscription
of this store is live, a cut-off read once stays right until an `all` event arrives:

- The store's feeds (`RedisRevocationFeed`) report to the memo: `restart()` when a
  subscription is in place, `beat()` on every sign of life (a PONG: every event published
  before it has been read), `changed()` on an `all` event (or one it cannot read, which
  decodes as `all`) before it is handed on, `lost()` when the subscription ends.
- Trusted only while the last sign of life is at most `silence` seconds old (the feed's
  own bound for an unanswered PING): otherwise nothing is remembered and every check reads
  Redis, as without a subscription. Fail safe: a lost event can only be one the memo
  never relied on.
- The race: a cut-off read before an `all` event arrived but kept after it would bring
  back the old value. `put` takes the `generation` read before the read was sent and keeps
  nothing if any change, loss or restart came in since.
- Raising a cut-off in this process forgets at once (`changed()`), before its own event
  comes back.

Bounded (`MAX_APPS` apps, emptied when full); client ids come from verified tokens only.
Pure: no I/O; the monotonic clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["DEFAULT_SILENCE", "MAX_APPS", "CutoffMemo"]

DEFAULT_SILENCE = 1.0  # RedisRevocationFeed's default `silence`
MAX_APPS = 10_000
_NEVER = float("-inf")


class CutoffMemo:
    """client_id (None: a token without one) -> the latest cut-off that applies, or None."""

    def __init__(
        self, *, silence: float = DEFAULT_SILENCE, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.silence = silence
        self._monotonic = monotonic
        self._values: dict[str | None, float | None] = {}
        self._last_beat = _NEVER
        self.generation = 0

    # -- what the subscription reports ------------------------------------------------

    def restart(self) -> None:
        """A new subscription is in place: nothing read before it is kept; live from now."""
        self.lost()
        self.beat()

    def beat(self) -> None:
        self._last_beat = self._monotonic()

    def changed(self) -> None:
        """A cut-off was raised (an `all` event, or one raised here): forget every value."""
        self.generation += 1
        self._values.clear()

    def lost(self) -> None:
        """The subscription ended or is unsure: trust nothing until the next restart."""
        self._last_beat = _NEVER
        self.changed()

    # -- what the store asks ----------------------------------------------------------

    def live(self) -> bool:
        if self._monotonic() - self._last_beat <= self.silence:
            return True
        if self._values:
            self.changed()  # silence counts as a loss: an event may have been missed
        return False

    def get(self, client_id: str | None) -> tuple[bool, float | None]:
        """(True, cut-off or None) if known and trusted now, else (False, None): read it."""
        if client_id in self._values and self.live():
            return True, self._values[client_id]
        return False, None

    def put(self, client_id: str | None, cutoff: float | None, generation: int) -> None:
        """Keep a value read while `generation` was current; nothing if it may be stale."""
        if generation != self.generation or not self.live():
            return
        if len(self._values) >= MAX_APPS:
            self._values.clear()
        self._values[client_id] = cutoff
