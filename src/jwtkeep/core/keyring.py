"""The key ring: which key signs, which keys verify, what the JWKS publishes.

Key lifecycle (RFC 7517 §4.5 `kid`; RFC 8725 §3.1 algorithm bound to the key):
- `active`: the newest active key signs; all active keys verify and are published.
- `retiring`: no longer signs, still verifies and is published until its tokens expire.
- `retired`: neither verifies nor is published.
- `compromised`: the key-leak drill; refused everywhere at once.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from jwtkeep.core.jose import JoseKey
from jwtkeep.errors import NoSigningKey

__all__ = ["KeyRing", "KeyStatus", "RingKey"]


class KeyStatus(enum.StrEnum):
    ACTIVE = "active"
    RETIRING = "retiring"
    RETIRED = "retired"
    COMPROMISED = "compromised"


@dataclass(frozen=True)
class RingKey:
    kid: str
    alg: str
    status: KeyStatus
    created_at: float
    key: JoseKey | None  # None for withdrawn keys: they are never unsealed again

    @property
    def verifies(self) -> bool:
        return self.key is not None and self.status in (KeyStatus.ACTIVE, KeyStatus.RETIRING)


class KeyRing:
    """An immutable snapshot of keys; build a new one when keys change."""

    def __init__(self, keys: Iterable[RingKey]) -> None:
        self._keys = tuple(sorted(keys, key=lambda k: k.created_at))
        self._verifiers = {k.kid: k.key for k in self._keys if k.key is not None and k.verifies}

    @property
    def keys(self) -> tuple[RingKey, ...]:
        return self._keys

    def signer(self) -> JoseKey:
        """The newest active private key; `NoSigningKey` (a 503) if there is none."""
        for ring_key in reversed(self._keys):
            key = ring_key.key
            if ring_key.status is KeyStatus.ACTIVE and key is not None and key.is_private:
                return key
        raise NoSigningKey

    def verifier(self, kid: str) -> JoseKey | None:
        """The key for `kid` if it may verify; None for unknown, retired or compromised."""
        return self._verifiers.get(kid)

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        """RFC 7517 §5 JWK Set of the public keys that verify (never HMAC, never private)."""
        public = [key for key in self._verifiers.values() if key.alg != "HS256"]
        return {"keys": [key.public_jwk() for key in public]}
