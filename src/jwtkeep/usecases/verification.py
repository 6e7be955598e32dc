"""The one call that verifies an access token: structure, signature, claims, allowlist.

DESIGN.md "a signed JWT is necessary but not sufficient": after the signature and every
required claim check out (`jwtkeep.core.access_token`), the token's SHA-256 fingerprint
must be in the token store. A token forged with a leaked key was never issued, so it is
not there; a logged-out token was removed. Store trouble fails closed (`StoreUnavailable`,
503), never open.

With a verdict cache (`jwtkeep.core.verdicts`, kept live by a `RevocationFollower`), a
token that passed all of this once is answered from memory until its `exp` while the
revocation subscription is live; `exp` and `nbf` are checked again on every hit.

Used by the server's own bearer routes and by `jwtkeep.sdk.Verifier`.
"""

from __future__ import annotations

import structlog

from jwtkeep.core.access_token import TokenRejected, UnknownKeyId, verify_access_token
from jwtkeep.core.claims import AccessClaims, ClaimRules
from jwtkeep.core.clock import Clock, system_clock
from jwtkeep.core.compact import parse_compact
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.verdicts import VerdictCache
from jwtkeep.errors import InvalidToken
from jwtkeep.ports.verification import AllowlistCheck, KeyRingSource

__all__ = ["TokenVerifier"]

_log = structlog.get_logger("jwtkeep.verification")


class TokenVerifier:
    def __init__(
        self,
        keys: KeyRingSource,
        allowlist: AllowlistCheck,
        rules: ClaimRules,
        clock: Clock = system_clock,
        cache: VerdictCache | None = None,
    ) -> None:
        self._keys = keys
        self._allowlist = allowlist
        self.rules = rules
        self.clock = clock  # wall time, for the claims and each cache hit
        self.cache = cache

    def cached(self, token: str) -> AccessClaims | None:
        """The verdict cache's answer for a repeat token, or None (then call `verify`).
        Synchronous: a hit awaits nothing, touches no store and logs nothing. The cache
        checks `exp` and `nbf` (with the leeway given at `put`) on every hit."""
        cache = self.cache
        return None if cache is None else cache.get(fingerprint(token), self.clock())

    async def verify(self, token: str) -> AccessClaims:
        """Return the verified claims, or raise InvalidToken (generic to the client, reason
        logged) or StoreUnavailable (the allowlist cannot be asked: fail closed)."""
        cache = self.cache
        if cache is None:
            return await self._verify(token, self.clock())
        fp = fingerprint(token)  # once: the lookup and, on a miss, the new verdict
        now = self.clock()
        claims = cache.get(fp, now)
        if claims is not None:
            return claims
        generation = cache.generation
        claims = await self._verify(token, now)
        cache.put(fp, claims, parse_compact(token).kid, generation, leeway=self.rules.leeway)
        return claims

    async def _verify(self, token: str, now: float) -> AccessClaims:
        try:
            try:
                claims = verify_access_token(token, await self._keys.ring(), self.rules, now)
            except UnknownKeyId as miss:
                ring = await self._keys.ring_after_miss(miss.kid)
                claims = verify_access_token(token, ring, self.rules, now)
        except TokenRejected as exc:
            raise self._reject(str(exc)) from None
        if not await self._allowlist.allows(token, claims, now):
            # Signed and well-formed but never issued here, or revoked: the second layer.
            raise self._reject("not in the allowlist (revoked, expired or never issued)", claims)
        return claims

    def _reject(self, reason: str, claims: AccessClaims | None = None) -> InvalidToken:
        # Never log the token itself; the jti (if verified) identifies it.
        _log.info("token.rejected", reason=reason, jti=claims.jti if claims else None)
        return InvalidToken(reason)
