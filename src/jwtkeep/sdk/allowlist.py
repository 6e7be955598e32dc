"""The allowlist check straight against the issuer's token store (an `AllowlistCheck`).

The second layer of DESIGN.md "a signed JWT is necessary but not sufficient": the token's
SHA-256 fingerprint must still be in the store (one lookup). Used by the server for its
own routes and introspection, and by a resource server that can reach the store
(`Verifier.with_redis`, which opens the store with `open_redis_store`). The other
allowlist is `jwtkeep.sdk.introspection` (RFC 7662).
"""

from __future__ import annotations

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.errors import ConfigurationError
from jwtkeep.ports.token_store import AccessTokenStore, TokenStore

__all__ = ["StoreAllowlist", "open_redis_store"]


class StoreAllowlist:
    """The allowlist straight from a token store: SHA-256 fingerprint, one lookup.

    `owned=True`: the allowlist opened the store and closes it in `aclose` (as
    `Verifier.aclose` does); a store the caller passed in stays the caller's."""

    def __init__(self, store: AccessTokenStore, *, owned: bool = False) -> None:
        self._store = store
        self._owned = owned

    async def allows(self, token: str, claims: AccessClaims, now: float) -> bool:
        return await self._store.is_allowed(
            fingerprint(token), claims.sub, claims.sid, now, issued_at=claims.iat,
            client_id=claims.client_id,
        )  # fmt: skip

    async def aclose(self) -> None:
        if self._owned:
            self._owned = False
            await self._store.close()


def open_redis_store(redis_url: str) -> TokenStore:
    """The issuer's Redis token store, read by a resource server (`jwtkeep[redis]`; the
    documented read-only ACL is enough, docs/revocation.md)."""
    try:
        from jwtkeep.adapters.redis import RedisTokenStore  # noqa: PLC0415 (optional extra)
    except ImportError as exc:
        raise ConfigurationError("with_redis needs: pip install 'jwtkeep[redis]'") from exc
    return RedisTokenStore.from_url(redis_url)
