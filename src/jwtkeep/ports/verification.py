"""The two things verifying an access token needs from the world (DESIGN.md "Contract:
tokens"): the issuer's keys and the allowlist, the second layer.

`jwtkeep.usecases.verification.TokenVerifier` takes one of each. The server gives it the
`KeyManager` and a `StoreAllowlist` over its token store; a resource server (the SDK)
gives it a `JwksKeySource` and a `StoreAllowlist` or an `IntrospectionAllowlist`.
"""

from __future__ import annotations

from typing import Protocol

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.keyring import KeyRing

__all__ = ["AllowlistCheck", "KeyRingSource"]


class KeyRingSource(Protocol):
    async def ring(self) -> KeyRing:
        """The current key ring (cached; cheap)."""

    async def ring_after_miss(self, kid: str) -> KeyRing:
        """Called when `kid` is not in the ring: may reload, rate-limited so that tokens
        with random kids cannot flood the key source."""


class AllowlistCheck(Protocol):
    async def allows(self, token: str, claims: AccessClaims, now: float) -> bool:
        """True if this issued token is still live. Raise StoreUnavailable if unsure."""
