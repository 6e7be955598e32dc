"""The allowlist check through the issuer's introspection endpoint (RFC 7662).

For resource servers that cannot (or should not) reach the token store directly. Each
check POSTs the token (RFC 7662 §2.1, `token_type_hint=access_token`) with HTTP Basic
client authentication (RFC 6749 §2.3.1: id and secret form-urlencoded first) and
accepts it only when the answer is 200 with `"active": true` (RFC 7662 §2.2) and, if the
answer names a `jti`, it is the verified token's own.

Fail closed: a transport error, a timeout, any non-200 answer or a body that is not a
JSON object raises `StoreUnavailable` (503), never a "yes" and never a silent "no" that
would hide an outage. A 401/403 from the issuer means this resource server's own
credentials are wrong; it is logged as an error.

`cache_seconds` (default 0, at most 5) remembers answers briefly. It delays revocation by
up to that long: a logged-out token may still pass for `cache_seconds`. Prefer the
verdict cache: `revocation_feed()` is the issuer's event stream
(`/oauth/revocation-events`, `EventStreamFeed`) under the same credentials, and a
`Verifier` with this allowlist follows it and answers repeat tokens from memory only
while the stream is live (`events=False` turns that off).
"""

from __future__ import annotations

from collections import OrderedDict
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import structlog

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.compact import MalformedToken, strict_json_object
from jwtkeep.core.fingerprint import Fingerprint, fingerprint
from jwtkeep.errors import ConfigurationError, StoreUnavailable
from jwtkeep.sdk.event_stream import EVENTS_PATH, EventStreamFeed
from jwtkeep.sdk.jwks import check_endpoint_url

__all__ = ["MAX_CACHE_ENTRIES", "MAX_CACHE_SECONDS", "MAX_RESPONSE_BYTES", "IntrospectionAllowlist"]

_log = structlog.get_logger("jwtkeep.sdk.introspection")

MAX_CACHE_SECONDS = 5.0
MAX_CACHE_ENTRIES = 10_000
MAX_RESPONSE_BYTES = 64 * 1024


class IntrospectionAllowlist:
    """An `AllowlistCheck` that asks the issuer's RFC 7662 endpoint about every token."""

    def __init__(
        self,
        introspection_url: str,
        client_id: str,
        client_secret: str,
        http_client: httpx.AsyncClient | None = None,
        *,
        cache_seconds: float = 0.0,
        allow_insecure_http: bool = False,
        timeout: float = 2.0,
        events: bool = True,
        events_url: str | None = None,
    ) -> None:
        if not 0.0 <= cache_seconds <= MAX_CACHE_SECONDS:
            raise ConfigurationError(f"cache_seconds must be between 0 and {MAX_CACHE_SECONDS}")
        self.url = check_endpoint_url(introspection_url, allow_insecure_http=allow_insecure_http)
        # RFC 6749 §2.3.1: form-urlencode the id and secret before Basic encoding.
        self._auth = httpx.BasicAuth(quote(client_id, safe=""), quote(client_secret, safe=""))
        self._client = http_client
        self._owns_client = http_client is None
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._cache: OrderedDict[Fingerprint, tuple[float, bool]] = OrderedDict()
        self._events_url = events_url or _events_url(self.url)
        self._events = events
        self._credentials = (client_id, client_secret)
        self._allow_insecure_http = allow_insecure_http

    def revocation_feed(self) -> EventStreamFeed | None:
        """The issuer's revocation event stream for this client, or None if turned off."""
        if not self._events:
            return None
        client_id, secret = self._credentials
        return EventStreamFeed(
            self._events_url, client_id, secret, self._client,
            allow_insecure_http=self._allow_insecure_http,
        )  # fmt: skip

    def __repr__(self) -> str:  # never show the client secret
        return f"IntrospectionAllowlist({self.url!r})"

    async def allows(self, token: str, claims: AccessClaims, now: float) -> bool:
        fp = fingerprint(token)
        cached = self._cache.get(fp)
        if cached is not None and now < cached[0]:
            return cached[1]
        active = await self._introspect(token, claims)
        if self._cache_seconds > 0:
            self._remember(fp, min(now + self._cache_seconds, float(claims.exp)), active, now)
        return active

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _introspect(self, token: str, claims: AccessClaims) -> bool:
        if self._client is None:
            self._client = httpx.AsyncClient()
        try:
            response = await self._client.post(
                self.url,
                data={"token": token, "token_type_hint": "access_token"},
                auth=self._auth,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
                follow_redirects=False,
            )
        except (httpx.HTTPError, OSError) as exc:
            _log.warning("introspection.unreachable", url=self.url, reason=type(exc).__name__)
            raise StoreUnavailable("introspection endpoint unreachable") from None
        if response.status_code != 200:
            log = _log.error if response.status_code in (401, 403) else _log.warning
            log("introspection.failed", url=self.url, status=response.status_code)
            raise StoreUnavailable(f"introspection answered {response.status_code}")
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise StoreUnavailable("introspection response too large")
        try:
            body = strict_json_object(response.content)
        except MalformedToken:
            raise StoreUnavailable("introspection response is not a JSON object") from None
        jti = body.get("jti")
        return body.get("active") is True and (jti is None or jti == claims.jti)

    def _remember(self, fp: Fingerprint, until: float, active: bool, now: float) -> None:
        self._cache[fp] = (until, active)
        self._cache.move_to_end(fp)
        while len(self._cache) > MAX_CACHE_ENTRIES:
            self._cache.popitem(last=False)
        # Drop a few expired entries from the old end on each write.
        for _ in range(4):
            oldest = next(iter(self._cache.items()), None)
            if oldest is None or oldest[1][0] > now:
                break
            self._cache.popitem(last=False)


def _events_url(introspection_url: str) -> str:
    """The issuer's event stream next to its introspection endpoint (same origin)."""
    parts = urlsplit(introspection_url)
    return urlunsplit((parts.scheme, parts.netloc, EVENTS_PATH, "", ""))
