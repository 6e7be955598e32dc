"""`GET /oauth/revocation-events`: the revocation events as a Server-Sent Events stream.

For resource servers that cannot reach the token store (`IntrospectionAllowlist`, an
issuer on the SQLite default): the same events the replica follows, so their verdict
cache is as safe as one on the store's own subscription (docs/revocation.md says why SSE
over RFC 8935/8936 Security Event Token delivery and OpenID SSF/CAEP).

- Only an authenticated confidential client (HTTP Basic or the form fields are not
  possible on a GET, so Basic only, RFC 6749 §2.3.1), like introspection (RFC 7662 §2.1).
- Which events a client gets: those of its audience. A `token`, `session` or `user`
  event goes only to a client that may introspect a token it ends (RFC 7662 §4: issued
  to that client, or to an app whose audience is the client's own or granted with
  `--introspect-audience`; `usecases.introspection.may_learn_of`), by the apps the event
  names; one whose apps the store could not name goes to every client. `kid` and `all`
  events (no user in them, and every verifier must act on them) go to every client.
- What a client may learn from them: fingerprints (SHA-256 of tokens, worthless without
  the token) and kids (public in the JWKS) as they are; sids and subs only as a keyed
  hash (HMAC-SHA256 under a random salt of this connection, sent in the first `hello`
  event), so a client can match the sessions and users of tokens it holds and learns
  nothing more about anyone else's; the apps an event names are not sent.
- `: hb` comment lines when nothing was sent for `HEARTBEAT` seconds (WHATWG HTML
  "Server-sent events": lines starting with a colon are comments), so a client can tell
  an idle stream from a dead one, also while it is sent none of many events; the stream
  ends when the replica's own subscription is lost or restarted (the client then
  reconnects and distrusts its cache meanwhile).
- `Cache-Control: no-store`; one `text/event-stream` response per connection.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from jwtkeep.core.revocation_events import EVENT_VERSION, EventKind, RevocationEvent
from jwtkeep.errors import InvalidClient, StoreUnavailable
from jwtkeep.ports import App
from jwtkeep.runtime import Runtime
from jwtkeep.server.forms import Form, client_credentials
from jwtkeep.server.schemas import oauth_errors
from jwtkeep.server.state import RuntimeDep
from jwtkeep.usecases.clients import authenticate_client
from jwtkeep.usecases.context import AuthContext
from jwtkeep.usecases.introspection import may_learn_of
from jwtkeep.usecases.subscription import RevocationFollower

__all__ = ["HEARTBEAT", "PATH", "keyed", "revocation_events", "router"]

PATH = "/oauth/revocation-events"
HEARTBEAT = 0.25
router = APIRouter()


def keyed(salt: bytes, value: str) -> str:
    """How this stream names a sid or sub: HMAC-SHA256 (RFC 2104), base64url, 128 bits."""
    digest = hmac.new(salt, value.encode("utf-8"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _wire(event: RevocationEvent, salt: bytes) -> str:
    if event.kind is EventKind.SESSION:
        body = RevocationEvent(event.kind, keyed(salt, event.value), keyed(salt, event.sub))
    elif event.kind is EventKind.USER:
        body = RevocationEvent(event.kind, keyed(salt, event.value))
    else:
        body = event.without_clients()
    return "data: " + body.encode().decode("utf-8") + "\n\n"


async def _stream(
    follower: RevocationFollower, ctx: AuthContext, client: App, salt: bytes
) -> AsyncIterator[str]:
    # The relay starts before `hello`: the client's cache starts empty at `hello`, so
    # nothing it could hold was revoked by an event it did not get.
    relay = follower.relay()
    try:
        salt_text = base64.urlsafe_b64encode(salt).rstrip(b"=").decode("ascii")
        hello = json.dumps({"v": EVENT_VERSION, "salt": salt_text}, separators=(",", ":"))
        yield f"event: hello\ndata: {hello}\n\n"
        sent = time.monotonic()
        while not relay.broken:
            try:
                wait = max(0.0, sent + HEARTBEAT - time.monotonic())
                event = await asyncio.wait_for(relay.queue.get(), wait)
            except TimeoutError:
                event = None
            try:
                learns = event is not None and await may_learn_of(ctx, client, event)
            except StoreUnavailable:
                # The apps cannot be looked up: end the stream, so the client distrusts
                # its cache and reconnects (fail closed).
                return
            if learns and event is not None:
                yield _wire(event, salt)
            elif time.monotonic() - sent >= HEARTBEAT:
                yield ": hb\n\n"
            else:
                continue
            sent = time.monotonic()
    finally:
        relay.close()


async def _client(request: Request, runtime: Runtime) -> App:
    credentials = client_credentials(request.headers.getlist("authorization"), Form({}))
    client = await authenticate_client(
        runtime.context.apps, credentials.client_id, credentials.client_secret
    )
    if not client.confidential:
        raise InvalidClient("The event stream needs a confidential client.",
                            reason="public client on the event stream")  # fmt: skip
    return client


@router.get(
    PATH,
    summary="Revocation events (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **oauth_errors(400, 401, 503)},
)
async def revocation_events(request: Request, runtime: RuntimeDep) -> StreamingResponse:
    client = await _client(request, runtime)
    follower = runtime.follower
    if not follower.connected.is_set():
        # The replica itself is not subscribed: it has nothing trustworthy to relay.
        raise StoreUnavailable("the revocation subscription is down")
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _stream(follower, runtime.context, client, secrets.token_bytes(16)),
        media_type="text/event-stream",
        headers=headers,
    )  # fmt: skip
