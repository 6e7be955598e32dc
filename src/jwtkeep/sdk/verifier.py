"""`Verifier`: the one object a resource server configures to check jwtkeep access tokens.

It composes what the core already does (`jwtkeep.usecases.verification.TokenVerifier`):
structure and size, signature with the key found by `kid` and the algorithm from the key
(RFC 8725 §3.1), `typ: at+jwt` (RFC 9068 §2.1), every required claim with this API's
issuer and audience (RFC 8725 §3.8-3.9), a small leeway and a bounded lifetime, and then
the second layer: the token must still be in the issuer's allowlist (DESIGN.md).

The audience is required: a token minted for another app of the same issuer must not be
accepted here (RFC 9068 §4, the article's "include iss ... to prevent the users of some
app to access your other apps").

Verdict cache (docs/revocation.md): where a revocation push channel exists (the token
store's subscription with `with_redis`, the issuer's HTTPS event stream with
`IntrospectionAllowlist`, or any `revocations=` feed), a token that passed the full check
is answered from memory until its `exp`, but only while the subscription is known live
(heartbeats; silence over `cache_silence` seconds empties the cache and every request
goes to the store again, failing closed if it is down). `verdict_cache=False` turns it
off; a `VerdictCache(...)` sets its bounds. A kid event also drops the key from the
cached key ring at once (the key-leak drill).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from jwtkeep.core.claims import AccessClaims, ClaimRules
from jwtkeep.core.clock import Clock, system_clock
from jwtkeep.core.revocation_events import EventKind, RevocationEvent
from jwtkeep.core.scopes import RouteRule
from jwtkeep.core.verdicts import VerdictCache
from jwtkeep.errors import ConfigurationError
from jwtkeep.ports.revocation_feed import RevocationFeed
from jwtkeep.ports.verification import AllowlistCheck, KeyRingSource
from jwtkeep.sdk.allowlist import StoreAllowlist, open_redis_store
from jwtkeep.sdk.jwks import JwksKeySource
from jwtkeep.sdk.rules import authorize, parse_routes
from jwtkeep.usecases.subscription import RevocationFollower, stop_following
from jwtkeep.usecases.verification import TokenVerifier

__all__ = ["MAX_LIFETIME_CEILING", "Verifier"]

MAX_LIFETIME_CEILING = 24 * 3600


@runtime_checkable
class _Closable(Protocol):
    async def aclose(self) -> None: ...


@runtime_checkable
class _HasFeed(Protocol):
    def revocation_feed(self) -> RevocationFeed | None: ...


@runtime_checkable
class _Withdraws(Protocol):
    def withdraw(self, kid: str) -> None: ...


class Verifier:
    """Verify jwtkeep access tokens for one API (one audience).

    `keys` defaults to the issuer's JWKS (`JwksKeySource(issuer)`); `allowlist` is
    required: `StoreAllowlist(store)` straight against the token store (see `with_redis`)
    or `IntrospectionAllowlist(...)` through the issuer. One Verifier per event loop.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        allowlist: AllowlistCheck,
        keys: KeyRingSource | None = None,
        leeway: int = 30,
        max_lifetime: int = 3600,
        clock: Clock = system_clock,
        revocations: RevocationFeed | None = None,
        verdict_cache: VerdictCache | bool = True,
    ) -> None:
        if not issuer or not audience:
            raise ConfigurationError("Verifier needs both an issuer and an audience")
        if not 0 <= leeway <= 300:
            raise ConfigurationError("leeway must be between 0 and 300 seconds")
        if not 0 < max_lifetime <= MAX_LIFETIME_CEILING:
            raise ConfigurationError("max_lifetime must be between 1 s and 24 h")
        self.issuer = issuer
        self.audience = audience
        self.keys: KeyRingSource = keys if keys is not None else JwksKeySource(issuer)
        self.allowlist = allowlist
        rules = ClaimRules(
            issuer=issuer, audience=audience, leeway=leeway, max_lifetime=max_lifetime
        )
        if revocations is None and isinstance(allowlist, _HasFeed):
            revocations = allowlist.revocation_feed()
        cache: VerdictCache | None = None
        if revocations is not None and verdict_cache is not False:
            cache = verdict_cache if isinstance(verdict_cache, VerdictCache) else VerdictCache()
        self.cache = cache
        self.clock = clock  # wall time: the claim checks, and every cache hit's `now`
        self._tokens = TokenVerifier(self.keys, allowlist, rules, clock, cache)
        self.follower: RevocationFollower | None = None
        if revocations is not None:
            caches = [cache] if cache is not None else []
            self.follower = RevocationFollower(revocations, caches, [self._on_event])
        self._following: asyncio.Task[None] | None = None

    def _on_event(self, event: RevocationEvent) -> None:
        if event.kind is EventKind.KID and isinstance(self.keys, _Withdraws):
            self.keys.withdraw(event.value)

    def start(self) -> None:
        """Start following revocations (done by the first `verify` otherwise)."""
        if self.follower is not None and self._following is None:
            self._following = asyncio.get_running_loop().create_task(self.follower.run())

    async def wait_subscribed(self) -> None:
        """Start, and wait until the revocation subscription is live (warm-up, tests; wrap
        it in `asyncio.timeout` to bound the wait)."""
        self.start()
        if self.follower is not None:
            await self.follower.connected.wait()

    @classmethod
    def with_redis(
        cls,
        *,
        issuer: str,
        audience: str,
        redis_url: str,
        keys: KeyRingSource | None = None,
        **options: Any,
    ) -> Verifier:
        """A Verifier whose allowlist is the issuer's Redis token store (`jwtkeep[redis]`).

        The fastest check (one Redis lookup of the fingerprint) and revocation is
        instant; the API needs network access to that Redis (read-only is enough).
        """
        store = open_redis_store(redis_url)
        options.setdefault("revocations", store.revocation_feed())
        allowlist = StoreAllowlist(store, owned=True)  # closed by `aclose`, with the rest
        return cls(issuer=issuer, audience=audience, allowlist=allowlist, keys=keys, **options)

    async def verify(self, token: str) -> AccessClaims:
        """The verified claims; raises InvalidToken (401) or StoreUnavailable (503)."""
        if self._following is None and self.follower is not None:
            self.start()
        return await self._tokens.verify(token)

    def cached(self, token: str) -> AccessClaims | None:
        """The verdict cache's claims for a repeat token (exp and nbf checked), or None:
        then `verify`. Awaits nothing; never raises for a bad token (it is not cached)."""
        return self._tokens.cached(token)

    def authorize(
        self,
        claims: AccessClaims,
        method: str,
        path: str,
        rules: Iterable[str | RouteRule],
        *,
        deny_unmatched: bool = False,
    ) -> str | None:
        """Apply route rules (`"METHOD /path=scope"` or RouteRule); raises InsufficientScope
        (403, RFC 6750 §3.1), also for a request no rule matches when `deny_unmatched`.
        Returns the scope that was required, None if no rule matched."""
        return authorize(claims, method, path, parse_routes(rules), deny_unmatched=deny_unmatched)

    async def aclose(self) -> None:
        """Close what this Verifier opened: its subscription, JWKS client, introspection
        client, store."""
        if self._following is not None:
            await stop_following(self._following)
            self._following = None
        if self.follower is not None:
            await self.follower.feed.aclose()
        for resource in (self.keys, self.allowlist):
            if isinstance(resource, _Closable):
                await resource.aclose()
