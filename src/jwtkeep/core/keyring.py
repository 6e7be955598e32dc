"""The key ring: which key signs, which keys verify, what the JWKS publishes.

Key lifecycle (RFC 7517 §4.5 `kid`; RFC 8725 §3.1 algorithm bound to the key):
- `active`: verifies and is published. The one that signs is the newest active key whose
  `activates_at` has come (`signing_kid`): an active key whose time has not come yet is
  the *next* key, published in the JWKS before it signs so that verifiers caching the
  JWKS (RFC 9111 `max-age`, `JWKS_MAX_AGE`) already hold it when its first token comes.
  Which key signs is a pure function of the key set and the clock, so every replica
  agrees without talking to the others.
- `retiring`: no longer signs, still verifies and is published until its tokens expire
  (`retires_at`, after which the rotation schedule retires it).
- `retired`: neither verifies nor is published.
- `compromised`: the key-leak drill; refused everywhere at once, and final.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from jwtkeep.core.jose import JoseKey
from jwtkeep.errors import NoSigningKey

__all__ = [
    "JWKS_MAX_AGE",
    "KeyRing",
    "KeyStatus",
    "KeyTimes",
    "RingKey",
    "signing_kid",
    "signs_from",
]

JWKS_MAX_AGE = 300
"""Seconds a verifier may cache the JWKS (the `Cache-Control: max-age` it is served with)."""


class KeyStatus(enum.StrEnum):
    ACTIVE = "active"
    RETIRING = "retiring"
    RETIRED = "retired"
    COMPROMISED = "compromised"


class KeyTimes(Protocol):
    """What decides which key signs: a stored key and a ring key both have it."""

    @property
    def kid(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> float: ...
    @property
    def activates_at(self) -> float | None: ...


def signs_from(key: KeyTimes) -> float:
    """When `key` starts (or started) to sign."""
    return key.created_at if key.activates_at is None else key.activates_at


def signing_kid(keys: Iterable[KeyTimes], now: float) -> str | None:
    """The kid of the key that signs at `now`: the active key activated most recently
    (ties: the newest). None if no active key has activated yet."""
    due = [k for k in keys if k.status == KeyStatus.ACTIVE and signs_from(k) <= now]
    if not due:
        return None
    return max(due, key=lambda k: (signs_from(k), k.created_at, k.kid)).kid


@dataclass(frozen=True)
class RingKey:
    kid: str
    alg: str
    status: KeyStatus
    created_at: float
    key: JoseKey | None  # None for withdrawn keys: they are never unsealed again
    activates_at: float | None = None  # None: signs from `created_at`

    @property
    def verifies(self) -> bool:
        return self.key is not None and self.status in (KeyStatus.ACTIVE, KeyStatus.RETIRING)


class KeyRing:
    """An immutable snapshot of keys; build a new one when keys change."""

    def __init__(self, keys: Iterable[RingKey]) -> None:
        self._keys = tuple(sorted(keys, key=lambda k: k.created_at))
        self._verifiers = {k.kid: k.key for k in self._keys if k.key is not None and k.verifies}
        self._signers = [k for k in self._keys if k.key is not None and k.key.is_private]

    @property
    def keys(self) -> tuple[RingKey, ...]:
        return self._keys

    def signer(self, now: float) -> JoseKey:
        """The private key that signs at `now` (`signing_kid`); `NoSigningKey` (a 503)
        if there is none."""
        kid = signing_kid(self._signers, now)
        if kid is None:
            raise NoSigningKey
        return self.signer_by_kid(kid)

    def signer_by_kid(self, kid: str) -> JoseKey:
        """The private key `kid`, if it may still sign; `NoSigningKey` otherwise. For a
        second token that must carry the first one's key (an ID token beside its access
        token), whatever `signer(now)` would pick a moment later."""
        for ring_key in self._signers:
            if ring_key.kid == kid and ring_key.key is not None:
                return ring_key.key
        raise NoSigningKey

    def verifier(self, kid: str) -> JoseKey | None:
        """The key for `kid` if it may verify; None for unknown, retired or compromised."""
        return self._verifiers.get(kid)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """RFC 7517 §5 JWK Set of the public keys that verify (never HMAC, never private),
        the next key included: published before it signs."""
        public = [key for key in self._verifiers.values() if key.alg != "HS256"]
        return {"keys": [key.public_jwk() for key in public]}
