"""`EventStreamFeed`: the issuer's revocation events over HTTPS (Server-Sent Events).

The client half of `GET /oauth/revocation-events` (docs/revocation.md): a `RevocationFeed`
for resource servers that cannot reach the token store. It authenticates as the API's
confidential client (HTTP Basic, RFC 6749 §2.3.1), reads the stream line by line
(WHATWG HTML "Server-sent events": `data:` lines make an event, a blank line ends it,
lines starting with `:` are comments) and yields:
- `None` for the `hello` event (the subscription is in place; it carries the salt with
  which this connection names sids and subs) and for every `: hb` heartbeat comment;
- each revocation event.

Any transport error, a non-200 answer, the stream ending, or no line for `silence`
seconds (the read timeout) ends `listen()` with `StoreUnavailable`: the verifier then
empties its verdict cache and asks the issuer about every token until the stream is
back. HTTPS only (plain HTTP to a loopback host only with `allow_insecure_http=True`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from urllib.parse import quote

import httpx

from jwtkeep.core.revocation_events import MAX_EVENT_BYTES, RevocationEvent, decode_event
from jwtkeep.errors import StoreUnavailable
from jwtkeep.sdk.jwks import check_endpoint_url

__all__ = ["EVENTS_PATH", "EventStreamFeed"]

EVENTS_PATH = "/oauth/revocation-events"


def _identity(value: str) -> str:
    return value


def _keyed(salt: bytes) -> Callable[[str], str]:
    """As the issuer names a sid or sub on this connection (HMAC-SHA256, RFC 2104)."""

    def name(value: str) -> str:
        digest = hmac.new(salt, value.encode("utf-8"), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    return name


def _salt(data: str) -> bytes:
    try:
        salt = json.loads(data)["salt"]
        return base64.urlsafe_b64decode(salt + "=" * (-len(salt) % 4))
    except (ValueError, TypeError, KeyError):
        raise StoreUnavailable("revocation stream: a malformed hello") from None


class EventStreamFeed:
    """A `RevocationFeed` reading the issuer's Server-Sent Events stream."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        http_client: httpx.AsyncClient | None = None,
        *,
        allow_insecure_http: bool = False,
        silence: float = 1.0,
        connect_timeout: float = 2.0,
    ) -> None:
        self.url = check_endpoint_url(url, allow_insecure_http=allow_insecure_http)
        self._auth = httpx.BasicAuth(quote(client_id, safe=""), quote(client_secret, safe=""))
        self._client = http_client
        self._owns_client = http_client is None
        self._timeout = httpx.Timeout(silence, connect=connect_timeout)
        self._keyer: Callable[[str], str] = _identity

    def __repr__(self) -> str:  # never show the client secret
        return f"EventStreamFeed({self.url!r})"

    def keyer(self) -> Callable[[str], str]:
        return self._keyer

    async def listen(self) -> AsyncIterator[RevocationEvent | None]:
        if self._client is None:
            self._client = httpx.AsyncClient()
        if self._client.is_closed:  # a caller's client closed under us: httpx would raise
            raise StoreUnavailable("revocation stream: its HTTP client is closed")
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        try:
            async with self._client.stream(
                "GET", self.url, auth=self._auth, headers=headers, timeout=self._timeout,
                follow_redirects=False,
            ) as response:  # fmt: skip
                if response.status_code != 200:
                    raise StoreUnavailable(f"revocation stream answered {response.status_code}")
                async for signal in self._signals(response):
                    yield signal
        except (httpx.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"revocation stream: {type(exc).__name__}") from None
        raise StoreUnavailable("revocation stream ended")

    async def _signals(self, response: httpx.Response) -> AsyncIterator[RevocationEvent | None]:
        kind, data, hello = "message", "", False
        async for line in response.aiter_lines():
            if len(line) > MAX_EVENT_BYTES:
                raise StoreUnavailable("revocation stream: a line too long")
            if line.startswith(":"):
                if hello:
                    yield None  # a heartbeat comment
            elif line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data += line[5:].lstrip(" ")
            elif line == "" and data:
                if kind == "hello":
                    self._keyer = _keyed(_salt(data))
                    hello = True
                    yield None
                elif hello:
                    yield decode_event(data)
                kind, data = "message", ""

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None
