"""The issuer's public keys, fetched from its JWKS and cached (a `KeyRingSource`).

- RFC 7517 §5 JWK Set from `GET {issuer}/.well-known/jwks.json` (or an explicit URL), over
  HTTPS only (RFC 7517 §9.1: trust a key no more than the way it was obtained; keys
  fetched in clear could be swapped on the wire); plain HTTP only to a loopback host and
  only with `allow_insecure_http=True`. Redirects are not followed; the size is capped.
- Only public asymmetric keys with an `alg` jwtkeep issues are used (RFC 8725 §3.1 binds
  the algorithm to the key): keys without `alg`, with any other `alg`, with private
  parameters, or symmetric (`oct`) keys are ignored, so an HMAC key smuggled into a JWKS
  can never verify anything. Keys named by a token (`jku`, `x5u`, `jwk`) are never fetched
  (RFC 8725 §3.10); the core refuses such headers outright.
- Cached per `Cache-Control: max-age`, clamped to [60 s, 24 h] (300 s when absent).
- A `kid` miss may reload the set, but at most once per `min_refresh_interval` and one
  fetch at a time (concurrent misses wait for it), so tokens with random kids cannot be
  used to flood the issuer.
- When a refresh fails, the last good set keeps serving until it is `max_stale` seconds
  past its expiry; with no usable set at all, `StoreUnavailable` (fail closed, 503).
- `withdraw(kid)` (a kid revocation event: the key-leak drill) drops the key at once and
  for good in this process, whatever a cached or stale JWKS still lists.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from jwtkeep.core.clock import Clock, system_clock
from jwtkeep.core.compact import strict_json_object
from jwtkeep.core.hosts import is_loopback
from jwtkeep.core.jose import ASYMMETRIC_ALGS, JoseKey, load_key
from jwtkeep.core.keyring import KeyRing, KeyStatus, RingKey
from jwtkeep.errors import ConfigurationError, InvalidValue, StoreUnavailable

__all__ = [
    "DEFAULT_MAX_AGE",
    "MAX_JWKS_BYTES",
    "MAX_KEYS",
    "MAX_MAX_AGE",
    "MIN_MAX_AGE",
    "JwksKeySource",
    "check_endpoint_url",
    "parse_jwks",
]

_log = structlog.get_logger("jwtkeep.sdk.jwks")

MIN_MAX_AGE = 60.0
MAX_MAX_AGE = 86_400.0
DEFAULT_MAX_AGE = 300.0
MAX_JWKS_BYTES = 256 * 1024
MAX_KEYS = 64
# RFC 7517 §6.2.2, §6.3.2, §6.4: members that only a private key has ("k": symmetric).
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)


def check_endpoint_url(url: str, *, allow_insecure_http: bool) -> str:
    """HTTPS, or plain HTTP to a loopback host when explicitly allowed; else ConfigurationError."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        if allow_insecure_http:
            return url
        raise ConfigurationError(f"{url} is plain HTTP; pass allow_insecure_http=True (loopback)")
    raise ConfigurationError(f"{url} must be an https:// URL")


def _jwk_to_key(jwk: Any) -> JoseKey | None:
    """One usable public verification key, or None (the reason is logged, not raised)."""
    if not isinstance(jwk, dict):
        return None
    alg, kid = jwk.get("alg"), jwk.get("kid")
    if alg not in ASYMMETRIC_ALGS or not isinstance(kid, str) or not kid:
        return None  # no alg, HS256/none/unknown alg, or no kid: never guess
    if _PRIVATE_MEMBERS.intersection(jwk) or jwk.get("use", "sig") != "sig":
        return None
    try:
        key = load_key(alg, kid, jwk)
    except Exception as exc:  # noqa: BLE001 (load_key lets the JOSE library's errors through)
        _log.warning("jwks.key_ignored", kid=kid, reason=type(exc).__name__)
        return None
    return None if key.is_private else key


def parse_jwks(document: dict[str, Any]) -> KeyRing:
    """The usable keys of a JWK Set; a `kid` listed twice is dropped (ambiguous)."""
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise InvalidValue("JWKS has no keys array")
    keys = [k for k in (_jwk_to_key(jwk) for jwk in entries[:MAX_KEYS]) if k is not None]
    kids = [k.kid for k in keys]
    unique = [k for k in keys if kids.count(k.kid) == 1]
    return KeyRing(
        RingKey(kid=k.kid, alg=k.alg, status=KeyStatus.ACTIVE, created_at=float(i), key=k)
        for i, k in enumerate(unique)
    )


def _max_age(cache_control: str | None) -> float:
    """RFC 9111 §5.2.2.1 `max-age`, clamped; `no-store`/`no-cache` mean the minimum."""
    lowered = (cache_control or "").lower()
    if "no-store" in lowered or "no-cache" in lowered:
        return MIN_MAX_AGE
    match = _MAX_AGE.search(lowered)
    seconds = float(match.group(1)) if match else DEFAULT_MAX_AGE
    return min(max(seconds, MIN_MAX_AGE), MAX_MAX_AGE)


@dataclass(frozen=True)
class _Cached:
    ring: KeyRing
    fetched_at: float
    expires_at: float


class JwksKeySource:
    """A cached, rate-limited view of the issuer's JWKS. One instance per event loop."""

    def __init__(
        self,
        issuer: str | None = None,
        *,
        jwks_url: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        allow_insecure_http: bool = False,
        min_refresh_interval: float = 30.0,
        max_stale: float = 3600.0,
        timeout: float = 5.0,
        clock: Clock = system_clock,
    ) -> None:
        if jwks_url is None:
            if issuer is None:
                raise ConfigurationError("JwksKeySource needs an issuer or a jwks_url")
            jwks_url = issuer.rstrip("/") + "/.well-known/jwks.json"
        self.url = check_endpoint_url(jwks_url, allow_insecure_http=allow_insecure_http)
        self._client = http_client
        self._owns_client = http_client is None
        self._min_refresh_interval = min_refresh_interval
        self._max_stale = max_stale
        self._timeout = timeout
        self._clock = clock
        self._cached: _Cached | None = None
        self._last_attempt: float | None = None
        self._last_failed = False
        self._generation = 0
        self._lock: asyncio.Lock | None = None
        self._withdrawn: set[str] = set()

    def withdraw(self, kid: str) -> None:
        """Never verify with `kid` again (RFC 7517 §9.1: a leaked key is no key)."""
        self._withdrawn.add(kid)
        # The drill made a new signing key: let the next kid miss fetch it at once (kid
        # events come from the issuer's store, not from a token, so this is no flood).
        self._last_attempt = None
        cached = self._cached
        if cached is not None:
            self._cached = _Cached(self._without(cached.ring), cached.fetched_at, cached.expires_at)

    def _without(self, ring: KeyRing) -> KeyRing:
        if not self._withdrawn:
            return ring
        return KeyRing(k for k in ring.keys if k.kid not in self._withdrawn)

    async def ring(self) -> KeyRing:
        """The cached ring; refreshed (single-flight, rate-limited) once it has expired."""
        cached = self._cached
        if cached is not None and self._clock() < cached.expires_at:
            return cached.ring
        return await self._refresh(self._generation, kid=None)

    async def ring_after_miss(self, kid: str) -> KeyRing:
        """Reload on an unknown `kid`, at most once per `min_refresh_interval`. A withdrawn
        kid is no unknown one: its tokens are refused from the ring at hand, without a
        JWKS round trip (and without using up the fetch the drill's new key needs)."""
        if kid in self._withdrawn:
            return await self.ring()
        return await self._refresh(self._generation, kid=kid)

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _refresh(self, seen_generation: int, kid: str | None) -> KeyRing:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # single flight: one fetch at a time
            if self._generation != seen_generation and self._cached is not None:
                return self._cached.ring  # someone else fetched while we waited
            if self._may_fetch(kid):
                await self._fetch()
            return self._usable_ring(kid)

    def _may_fetch(self, kid: str | None) -> bool:
        cached = self._cached
        if cached is not None and kid is not None and cached.ring.verifier(kid) is not None:
            return False
        if self._last_attempt is None:
            return True
        return self._clock() - self._last_attempt >= self._min_refresh_interval

    def _usable_ring(self, kid: str | None) -> KeyRing:
        cached = self._cached
        if cached is None:
            raise StoreUnavailable("the issuer's JWKS could not be fetched")
        if self._clock() > cached.expires_at + self._max_stale:
            raise StoreUnavailable("the cached JWKS is too old and cannot be refreshed")
        if kid is not None and self._last_failed and cached.ring.verifier(kid) is None:
            # We cannot tell an unknown key from a new one while the issuer is down.
            raise StoreUnavailable("the issuer's JWKS could not be refreshed")
        return cached.ring

    async def _fetch(self) -> None:
        now = self._clock()
        self._last_attempt = now
        try:
            document, cache_control = await self._download()
            ring = parse_jwks(document)
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError, TypeError) as exc:
            self._last_failed = True
            _log.warning("jwks.fetch_failed", url=self.url, reason=type(exc).__name__)
            return
        self._last_failed = False
        self._cached = _Cached(self._without(ring), now, now + _max_age(cache_control))
        self._generation += 1
        _log.info("jwks.fetched", url=self.url, kids=[k.kid for k in ring.keys])

    async def _download(self) -> tuple[dict[str, Any], str | None]:
        if self._client is None:
            self._client = httpx.AsyncClient()
        request = self._client.build_request(
            "GET", self.url, headers={"Accept": "application/json"}, timeout=self._timeout
        )
        response = await self._client.send(request, stream=True, follow_redirects=False)
        try:
            if response.status_code != 200:
                raise InvalidValue(f"JWKS answered {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise InvalidValue("JWKS document too large")
        finally:
            await response.aclose()
        return strict_json_object(bytes(body)), response.headers.get("cache-control")
