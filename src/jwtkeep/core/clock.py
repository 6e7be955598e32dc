"""Injected time and randomness (CONVENTIONS: tests use a fixed clock and never sleep)."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Clock",
    "FixedClock",
    "RandomBytes",
    "new_id",
    "system_clock",
    "system_random",
]

Clock = Callable[[], float]
"""Returns the current Unix time in seconds."""

RandomBytes = Callable[[int], bytes]
"""Returns n cryptographically strong random bytes."""

system_clock: Clock = time.time
system_random: RandomBytes = secrets.token_bytes


@dataclass
class FixedClock:
    """A clock for tests: stands still until told to move."""

    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def new_id(random: RandomBytes, nbytes: int = 16) -> str:
    """A URL-safe identifier from `nbytes` random bytes (16 bytes = 128 bits, RFC 9068 §2.2 jti)."""
    return base64.urlsafe_b64encode(random(nbytes)).rstrip(b"=").decode("ascii")
