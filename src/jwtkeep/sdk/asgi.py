"""`JwtkeepMiddleware`: pure ASGI token verification (Starlette, FastAPI, Litestar, ...).

Applies `jwtkeep.sdk.guard.RequestGuard` to every HTTP request and WebSocket handshake.
The common request, a repeat token (one `Authorization` header, no form body, nothing in
the URL query), is answered by the hit path in `__call__`: one pass over the headers, the
token's fingerprint (`bearer.lookup_fingerprint`), one verdict-cache call (which checks
liveness, `exp` and `nbf`), the route's scope rule; no await. Anything else, and every
miss, takes `RequestGuard.check`:
bearer token from the `Authorization` header only (RFC 6750 §2.1), token-in-URL refusal
with per-route opt-in (RFC 6750 §2.3, the article), route scope rules, 401/403/503 as
RFC 6750 §3.1 says, fail closed. Verified claims go to `scope["state"]["jwtkeep"]`
(`request.state.jwtkeep` in Starlette and FastAPI). It imports no framework.
`deny_unmatched=True` refuses (403) a request that no route rule matches, so a route added
without a rule is closed, not open (`jwtkeep.sdk.rules`).

A form body is scanned for `access_token` only when it is
`application/x-www-form-urlencoded` and at most `max_form_scan_bytes` long; the body is
then replayed to the app unchanged. A refused WebSocket handshake is closed with 1008
(policy violation) or 1013 (try again later) before it is accepted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable, MutableMapping
from typing import Any

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.scopes import RouteRule
from jwtkeep.errors import StoreUnavailable
from jwtkeep.sdk.audit import RequestHook, log_request, make_event, start_hook
from jwtkeep.sdk.bearer import URL_TOKEN_RESPONSE_HEADERS, form_has_token, lookup_fingerprint
from jwtkeep.sdk.guard import (
    FORM_CONTENT_TYPE,
    MAX_FORM_SCAN_BYTES,
    GuardRequest,
    Outcome,
    RequestGuard,
    error_response,
)
from jwtkeep.sdk.rules import PathRule
from jwtkeep.sdk.verifier import Verifier

__all__ = ["ASGIApp", "JwtkeepMiddleware", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_URL_TOKEN_HEADER_NAMES = frozenset(name.encode() for name, _ in URL_TOKEN_RESPONSE_HEADERS)
_URL_TOKEN_RAW_HEADERS = [(n.encode(), v.encode()) for n, v in URL_TOKEN_RESPONSE_HEADERS]
_FORM_TYPE = FORM_CONTENT_TYPE.encode()
_WS_POLICY_VIOLATION = 1008  # RFC 6455 §7.4.1
_WS_TRY_AGAIN_LATER = 1013


class JwtkeepMiddleware:
    """Verify the bearer token of every request that is not on a public path."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: Verifier,
        routes: Iterable[str | RouteRule] = (),
        public_paths: Iterable[str | PathRule] = (),
        token_in_query_paths: Iterable[str | PathRule] = (),
        deny_unmatched: bool = False,
        on_request: RequestHook | None = log_request,
        max_form_scan_bytes: int = MAX_FORM_SCAN_BYTES,
    ) -> None:
        self.app = app
        self.guard = RequestGuard(
            verifier,
            routes=routes,
            public_paths=public_paths,
            token_in_query_paths=token_in_query_paths,
            deny_unmatched=deny_unmatched,
        )
        self._on_request = on_request
        self.max_form_scan_bytes = max_form_scan_bytes
        # Bound once: the hit path uses them on every request.
        self._route = self.guard.table.route
        # A hit on a route without a scope rule needs nothing but the app: no audit hook,
        # no deny-by-default answer to give.
        self._plain = on_request is None and not deny_unmatched
        self._cache_get = None if verifier.cache is None else verifier.cache.get
        self._clock = verifier.clock

    @property
    def on_request(self) -> RequestHook | None:
        """The per-request hook (read-only: the hit path is chosen once, in `__init__`)."""
        return self._on_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._not_http(scope, receive, send)
            return
        method = scope.get("method", "GET")
        path = scope.get("path", "/")
        route = self._route(method, path)
        if route.public:
            await self.app(scope, receive, send)
            return
        outcome = None
        if self._cache_get is not None and not scope.get("query_string"):
            # The hit path (module doc): one `Authorization` header, no form body, nothing
            # in the URL query, a token the verdict cache vouches for. Written flat on
            # purpose: each further call here cost measurably (bench/README.md).
            value = None
            for key, header in scope.get("headers", ()):
                size = len(key)
                if size == 13 and key.lower() == b"authorization":
                    if value is not None:
                        value = None
                        break  # more than one (RFC 6750 §2): refused below
                    value = header
                elif (
                    size == 12
                    and key.lower() == b"content-type"
                    and header.lower().startswith(_FORM_TYPE)
                ):
                    value = None
                    break  # a form may carry a token (RFC 6750 §2.2): scanned below
            fp = None if value is None else lookup_fingerprint(value)
            claims = None if fp is None else self._cache_get(fp, self._clock())
            if claims is not None:
                if self._plain and route.scope is None:
                    await self.app(_with_claims(scope, claims), receive, send)
                    return
                outcome = self.guard.authorized(claims, route)  # its scope rule
        if outcome is None:  # the whole policy: it refuses, or verifies and caches
            authorization, form = _scan_headers(scope, self.max_form_scan_bytes)
            query = scope.get("query_string", b"")
            outcome, receive = await self._check(method, path, authorization, query, form, receive)
        await self._respond(scope, receive, send, outcome)

    async def _not_http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)  # lifespan, and what ASGI adds later

    async def _respond(self, scope: Scope, receive: Receive, send: Send, outcome: Outcome) -> None:
        """The error response, or the app with the claims; then the hook, if any."""
        if outcome.error is not None:
            status = await _send_error(send, outcome)
        elif self._on_request is None and not outcome.token_in_query:
            # Nobody needs the status and no header is rewritten: call the app straight.
            await self.app(_with_claims(scope, outcome.claims), receive, send)
            return
        else:
            status = await self._call_app(
                _with_claims(scope, outcome.claims), receive, send, outcome
            )
        method, path = scope.get("method", "GET"), scope.get("path", "/")
        pending = self._audit(outcome, method, path, status)
        if pending is not None:  # an async hook
            await pending

    async def _check(
        self,
        method: str,
        path: str,
        authorization: list[bytes],
        query: bytes,
        form: bool,
        receive: Receive,
    ) -> tuple[Outcome, Receive]:
        """The whole policy (`RequestGuard.check`), after scanning a form body if any."""
        form_token = False
        if form:
            receive, form_token = await self._scan_form(receive)
        headers = [value.decode("latin-1") for value in authorization]
        info = GuardRequest(method, path, headers, query.decode("latin-1"), form_token)
        return await self.guard.check(info), receive

    async def _call_app(self, scope: Scope, receive: Receive, send: Send, outcome: Outcome) -> int:
        status = 500
        no_cache = outcome.token_in_query

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if no_cache:
                    message = {**message, "headers": _no_cache(message.get("headers", []))}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            await _finish(
                self._audit(outcome, str(scope.get("method")), str(scope.get("path")), 500)
            )
            raise
        return status

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", "/"))
        if self.guard.route("GET", path).public:
            await self.app(scope, receive, send)
            return
        authorization, _ = _scan_headers(scope, self.max_form_scan_bytes)
        headers = [value.decode("latin-1") for value in authorization]
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        outcome = await self.guard.check(GuardRequest("GET", path, headers, query))
        if outcome.error is not None:
            unavailable = isinstance(outcome.error, StoreUnavailable)
            code = _WS_TRY_AGAIN_LATER if unavailable else _WS_POLICY_VIOLATION
            await send({"type": "websocket.close", "code": code})
            await _finish(self._audit(outcome, "GET", path, 403))
            return
        await self.app(_with_claims(scope, outcome.claims), receive, send)
        await _finish(self._audit(outcome, "GET", path, 101))

    def _audit(
        self, outcome: Outcome, method: str, path: str, status: int
    ) -> Coroutine[Any, Any, None] | None:
        """Call the hook for a request whose token verified; an async hook's coroutine is
        returned to be awaited (a plain function's call costs no await)."""
        if outcome.claims is None or self._on_request is None:
            return None
        event = make_event(outcome.claims, method, path, status,
                           token_in_query=outcome.token_in_query)  # fmt: skip
        return start_hook(self._on_request, event)

    async def _scan_form(self, receive: Receive) -> tuple[Receive, bool]:
        """Read up to `max_form_scan_bytes` of body, look for `access_token`, replay it."""
        buffered: list[Message] = []
        size, complete = 0, False
        while size <= self.max_form_scan_bytes:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                complete = True
                break
        body = b"".join(m.get("body", b"") for m in buffered if m["type"] == "http.request")
        found = complete and size <= self.max_form_scan_bytes and form_has_token(body)

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        return replay, found


def _scan_headers(scope: Scope, max_form_bytes: int) -> tuple[list[bytes], bool]:
    """One pass over the request headers: every `Authorization` value (RFC 6750 §2.1 wants
    exactly one; the guard refuses more), and whether the body is a form small enough to
    scan for a token (RFC 6750 §2.2)."""
    authorization: list[bytes] = []
    content_type = length = None
    for key, value in scope.get("headers", ()):
        size = len(key)
        if size == 13 and key.lower() == b"authorization":
            authorization.append(bytes(value))
        elif size == 12 and content_type is None and key.lower() == b"content-type":
            content_type = bytes(value)
        elif size == 14 and length is None and key.lower() == b"content-length":
            length = bytes(value)
    if content_type is None or not content_type.lower().startswith(_FORM_TYPE):
        return authorization, False
    scannable = length is None or (length.isdigit() and int(length) <= max_form_bytes)
    return authorization, scannable


async def _finish(pending: Coroutine[Any, Any, None] | None) -> None:
    if pending is not None:
        await pending


def _with_claims(scope: Scope, claims: AccessClaims | None) -> Scope:
    """The scope, its per-request state now holding the verified claims.

    In place, as Starlette's `request.state` writes it: the server gives every request a
    scope and a `state` dict of its own (ASGI spec, "Lifespan State": a shallow copy per
    request), so nothing outlives the request."""
    state = scope.get("state")
    if state is None:
        scope["state"] = {"jwtkeep": claims}
    else:
        state["jwtkeep"] = claims
    return scope


def _no_cache(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Replace the app's caching headers: a token-in-URL response is never stored."""
    kept = [(k, v) for k, v in headers if bytes(k).lower() not in _URL_TOKEN_HEADER_NAMES]
    return kept + _URL_TOKEN_RAW_HEADERS


async def _send_error(send: Send, outcome: Outcome) -> int:
    assert outcome.error is not None
    status, headers, body = error_response(outcome.error)
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    if outcome.token_in_query:
        raw = _no_cache(raw)
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
    return status
