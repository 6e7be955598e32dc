"""`JwtkeepMiddleware`: pure ASGI token verification (Starlette, FastAPI, Litestar, ...).

Applies `jwtkeep.sdk.guard.RequestGuard` to every HTTP request and WebSocket handshake:
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

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.scopes import RouteRule
from jwtkeep.errors import StoreUnavailable
from jwtkeep.sdk.audit import RequestHook, call_hook, log_request, make_event
from jwtkeep.sdk.bearer import URL_TOKEN_RESPONSE_HEADERS, form_has_token
from jwtkeep.sdk.guard import (
    FORM_CONTENT_TYPE,
    MAX_FORM_SCAN_BYTES,
    Outcome,
    RequestGuard,
    RequestInfo,
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
        on_request: RequestHook = log_request,
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
        self.on_request = on_request
        self.max_form_scan_bytes = max_form_scan_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        method = str(scope.get("method", "GET")) if kind == "http" else "GET"
        path = str(scope.get("path", "/"))
        if kind not in ("http", "websocket") or self.guard.is_public(method, path):
            await self.app(scope, receive, send)
            return
        form_token = False
        if kind == "http" and self._scannable_form(scope):
            receive, form_token = await self._scan_form(receive)
        outcome = await self.guard.check(_request_info(scope, method, path, form_token=form_token))
        if kind == "websocket":
            await self._websocket(scope, receive, send, outcome)
            return
        if outcome.error is not None:
            status = await _send_error(send, outcome)
        else:
            status = await self._call_app(_with_claims(scope, outcome), receive, send, outcome)
        await self._audit(outcome, method, path, status)

    async def _call_app(self, scope: Scope, receive: Receive, send: Send, outcome: Outcome) -> int:
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if outcome.token_in_query:
                    message = {**message, "headers": _no_cache(message.get("headers", []))}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            await self._audit(outcome, str(scope.get("method")), str(scope.get("path")), 500)
            raise
        return status

    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, outcome: Outcome
    ) -> None:
        if outcome.error is not None:
            unavailable = isinstance(outcome.error, StoreUnavailable)
            code = _WS_TRY_AGAIN_LATER if unavailable else _WS_POLICY_VIOLATION
            await send({"type": "websocket.close", "code": code})
            await self._audit(outcome, "GET", str(scope.get("path")), 403)
            return
        await self.app(_with_claims(scope, outcome), receive, send)
        await self._audit(outcome, "GET", str(scope.get("path")), 101)

    async def _audit(self, outcome: Outcome, method: str, path: str, status: int) -> None:
        if outcome.claims is not None:  # only requests whose token verified
            event = make_event(
                outcome.claims, method, path, status, token_in_query=outcome.token_in_query
            )
            await call_hook(self.on_request, event)

    def _scannable_form(self, scope: Scope) -> bool:
        content_type = _header(scope, b"content-type")
        if content_type is None or not content_type.lower().startswith(FORM_CONTENT_TYPE):
            return False
        length = _header(scope, b"content-length")
        return length is None or (length.isdigit() and int(length) <= self.max_form_scan_bytes)

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


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _request_info(scope: Scope, method: str, path: str, *, form_token: bool) -> RequestInfo:
    authorization = [
        bytes(value).decode("latin-1")
        for key, value in scope.get("headers", [])
        if key.lower() == b"authorization"
    ]
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    return RequestInfo(method, path, authorization, query, form_token=form_token)


def _with_claims(scope: Scope, outcome: Outcome) -> Scope:
    """A child scope whose per-request state holds the verified claims."""
    claims: AccessClaims | None = outcome.claims
    return {**scope, "state": {**scope.get("state", {}), "jwtkeep": claims}}


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
