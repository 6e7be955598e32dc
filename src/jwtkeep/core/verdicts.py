"""The verdict cache: a token that passed the full check once, trusted from memory.

DESIGN.md "Contract: resource-server SDK": after a token passes the whole check
(structure, signature, claims, allowlist) its verdict is kept, keyed by its SHA-256
fingerprint, until its `exp`, so a repeat token skips the signature and the store. It is
safe only because every revocation publishes an event (`revocation_events`) that the
verifier's subscription applies here, and only **while that subscription is known live**:

- `beat()` is called for every sign of life of the subscription (a heartbeat answer, an
  event). When the last one is older than `silence` seconds, or `lost()` was called (a
  disconnect, an error), the cache is emptied and answers nothing until the next beat:
  every request then goes to the store again, and fails closed if the store is down.
- A verdict found while the check was running can be stale (the event that revokes it
  may have arrived meanwhile): `put` takes the `generation` read before the check, and
  keeps nothing if any event (or a loss) came in since.
- `exp` and `nbf` are checked on every hit (RFC 7519 §4.1.4-4.1.5; `nbf` with the
  verifier's leeway, given to `put`): a clock stepped back never runs a verdict before its
  `nbf`. A hit is this one call (`get`): the SDK's hot path.
- Bounded: at most `max_entries` verdicts and about `max_bytes` (an estimate of what an
  entry holds), least recently used first out.

Pure: no I/O; the clock (monotonic, for liveness) is injected.
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.revocation_events import EventKind, RevocationEvent
from jwtkeep.errors import InvalidValue

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_SILENCE",
    "ENTRY_OVERHEAD",
    "VerdictCache",
]

DEFAULT_MAX_ENTRIES = 100_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_SILENCE = 1.0
# Measured (bench/bench_throughput.py, `cache_bytes_per_entry`): what one entry costs
# beyond its strings: the dict and index slots, the entry object, the claims object and
# their small ints.
ENTRY_OVERHEAD = 600


@dataclass(frozen=True, slots=True)
class _Entry:
    claims: AccessClaims
    not_before: float  # `nbf` less the verifier's leeway
    keys: tuple[str, str, str]  # index keys: session, user, kid
    size: int


def _identity(value: str) -> str:
    return value


def _estimate(claims: AccessClaims, kid: str) -> int:
    strings = (claims.sub, claims.sid, claims.jti, claims.client_id, claims.scope, kid)
    return ENTRY_OVERHEAD + sum(sys.getsizeof(s) for s in strings) + 32 * len(claims.extra)


class VerdictCache:
    """Fingerprint -> verified claims, trusted only while the subscription is live."""

    def __init__(
        self,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        silence: float = DEFAULT_SILENCE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_bytes < ENTRY_OVERHEAD or not silence > 0:
            raise InvalidValue("verdict cache: max_entries >= 1, max_bytes >= 600, silence > 0")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.silence = silence
        self._monotonic = monotonic
        self._entries: OrderedDict[bytes, _Entry] = OrderedDict()
        # index key -> its one fingerprint, or a set once it has more: most sessions and
        # users have one live token, and a set per entry cost ~200 bytes (and GC work).
        self._index: dict[str, bytes | set[bytes]] = {}
        self._bytes = 0
        self._last_beat = float("-inf")
        self._keyer: Callable[[str], str] = _identity
        self.generation = 0

    # -- liveness ---------------------------------------------------------------------

    def beat(self) -> None:
        """The subscription showed a sign of life."""
        self._last_beat = self._monotonic()

    def restart(self, keyer: Callable[[str], str] = _identity) -> None:
        """A new subscription: empty, live from now, with how its events name sessions and
        users (the HTTPS stream names them by a per-connection keyed hash)."""
        self.lost()
        self._keyer = keyer
        self.beat()

    def lost(self) -> None:
        """The subscription is gone or unsure: forget everything, trust nothing."""
        self._last_beat = float("-inf")
        self._clear()

    def live(self) -> bool:
        if self._monotonic() - self._last_beat <= self.silence:
            return True
        if self._entries or self._last_beat != float("-inf"):
            self.lost()  # silence counts as a loss: an event may have been missed
        return False

    # -- verdicts ---------------------------------------------------------------------

    def get(self, fp: bytes, now: float) -> AccessClaims | None:
        """The cached claims of a live verdict, or None (then do the full check)."""
        entry = self._entries.get(fp)
        if entry is None:
            return None
        if self._monotonic() - self._last_beat > self.silence:
            self.live()  # the subscription went silent: empty the cache (see `live`)
            return None
        claims = entry.claims
        if now >= claims.exp:  # RFC 7519 §4.1.4, on every hit
            self._drop(fp)
            return None
        if now < entry.not_before:  # RFC 7519 §4.1.5: the clock went back
            return None
        self._entries.move_to_end(fp)
        return claims

    def put(
        self, fp: bytes, claims: AccessClaims, kid: str, generation: int, *, leeway: int = 0
    ) -> None:
        """Keep a verdict made while `generation` was current; nothing if it is stale.
        `leeway`: the verifier's clock-skew allowance, for the `nbf` check of each hit."""
        if generation != self.generation or not self.live() or fp in self._entries:
            return
        keys = (
            "s" + self._keyer(claims.sid),
            "u" + self._keyer(claims.sub),
            "k" + kid,
        )
        entry = _Entry(claims, claims.nbf - leeway, keys, _estimate(claims, kid))
        self._entries[fp] = entry
        self._bytes += entry.size
        for key in keys:
            members = self._index.get(key)
            if members is None:
                self._index[key] = fp
            elif isinstance(members, bytes):
                self._index[key] = {members, fp}
            else:
                members.add(fp)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def apply(self, event: RevocationEvent) -> None:
        """Drop exactly what the event revokes (everything for `all`)."""
        self.generation += 1
        if event.kind is EventKind.TOKEN:
            try:
                self._drop(bytes.fromhex(event.value))
            except ValueError:
                self._clear()
        elif event.kind is EventKind.ALL:
            self._clear()
        else:
            prefix = {EventKind.SESSION: "s", EventKind.USER: "u", EventKind.KID: "k"}[event.kind]
            members = self._index.get(prefix + event.value)
            for fp in [members] if isinstance(members, bytes) else list(members or ()):
                self._drop(fp)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def estimated_bytes(self) -> int:
        return self._bytes

    def _drop(self, fp: bytes) -> None:
        entry = self._entries.pop(fp, None)
        if entry is None:
            return
        self._bytes -= entry.size
        index = self._index
        for key in entry.keys:
            members = index.get(key)
            if members == fp:
                del index[key]
            elif isinstance(members, set):
                members.discard(fp)
                if not members:
                    del index[key]

    def _clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._index.clear()
        self._bytes = 0
