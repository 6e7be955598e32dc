"""Pure ASGI middleware: security headers, the body size cap, credentials-in-URL refusal.

- Security headers on every response: `X-Content-Type-Options: nosniff`,
  `Referrer-Policy: no-referrer`, `X-Frame-Options: DENY`, a `Content-Security-Policy`
  that lets nothing load or frame (a JSON API renders nothing; the hosted HTML pages set
  a policy of their own, `jwtkeep.server.pages`, still with `frame-ancestors 'none'`),
  `Strict-Transport-Security` when served over TLS
  (RFC 6797 §7.2: only over secure transport), and `Cache-Control: no-store` unless the
  route chose its own (JWKS, metadata). Any `Server` header an inner layer set is dropped.
- The body cap (`settings.max_body_bytes`): a declared `Content-Length` over it is refused
  at once with 413; a body without one is counted while it streams and cut off at the cap
  (RFC 9110 §15.5.14). An unparseable or repeated `Content-Length` is 400 (RFC 9110 §8.6).
- Credentials in the URL: any request whose query carries `access_token`,
  `refresh_token`, `token`, `client_secret` or `password` is refused with 400
  `invalid_request` (RFC 6750 §2.3 refused by policy, RFC 9700 §4.3.2, RFC 6749 §3.2: the
  token endpoint takes POST bodies; the article: no tokens in URLs). On non-OAuth routes a
  form body with `access_token` is refused too (RFC 6750 §2.2, refused by policy).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwtkeep.errors import InvalidRequest
from jwtkeep.sdk.bearer import form_has_token
from jwtkeep.server.account_auth import BearerInvalidRequest
from jwtkeep.server.errors import PayloadTooLarge, is_oauth_path, render_oauth_error, render_status
from jwtkeep.server.forms import FORM_MEDIA_TYPE

__all__ = [
    "CACHE_CONTROL_NO_STORE",
    "CSP",
    "HSTS",
    "URL_CREDENTIAL_PARAMETERS",
    "BodyLimitMiddleware",
    "CredentialsInUrlMiddleware",
    "SecurityHeadersMiddleware",
    "security_headers",
]

URL_CREDENTIAL_PARAMETERS = frozenset(
    {"access_token", "refresh_token", "token", "client_secret", "password"}
)
HSTS = "max-age=31536000"
CSP = "default-src 'none'; frame-ancestors 'none'"
CACHE_CONTROL_NO_STORE = "no-store"


def security_headers(*, over_tls: bool) -> list[tuple[str, str]]:
    """The headers every response carries, app responses and the listener's own framing
    errors alike (`jwtkeep.server.listener`); plus `Cache-Control: no-store` by default."""
    headers = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Content-Security-Policy", CSP),
    ]
    if over_tls:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = security_headers(over_tls=scope.get("scheme") == "https")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                del headers["server"]
                for name, value in added:
                    if name == "Content-Security-Policy" and name in headers:
                        continue  # a hosted page's own policy (also frame-ancestors 'none')
                    headers[name] = value
                if "cache-control" not in headers:
                    headers["Cache-Control"] = CACHE_CONTROL_NO_STORE
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _declared_length(headers: Headers) -> int | None:
    """The Content-Length, None if absent; InvalidRequest if garbage or repeated."""
    values = headers.getlist("content-length")
    if not values:
        return None
    if len(values) > 1 or not values[0].strip().isdigit() or not values[0].strip().isascii():
        raise InvalidRequest("The Content-Length header is not valid.")
    return int(values[0].strip())


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            declared = _declared_length(Headers(scope=scope))
        except InvalidRequest as exc:
            await render_oauth_error(scope["path"], exc)(scope, receive, send)
            return
        if declared is not None and declared > self.max_bytes:
            await render_status(scope["path"], 413, PayloadTooLarge().detail)(scope, receive, send)
            return
        received = 0

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise PayloadTooLarge()
            return message

        await self.app(scope, capped_receive, send)


def _query_has_credentials(query_string: bytes) -> bool:
    text = query_string.decode("latin-1")
    return any(
        name in URL_CREDENTIAL_PARAMETERS
        for name, _ in parse_qsl(text, keep_blank_values=True, errors="replace")
    )


def _is_form(scope: Scope) -> bool:
    content_type = Headers(scope=scope).get("content-type", "")
    return content_type.split(";")[0].strip().lower() == FORM_MEDIA_TYPE


class CredentialsInUrlMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if _query_has_credentials(scope.get("query_string", b"")):
            await self._refuse(scope, receive, send, "Credentials must not be sent in the URL.")
            return
        if is_oauth_path(path) or not _is_form(scope):
            await self.app(scope, receive, send)
            return
        try:
            body, replay = await _buffer(receive)
        except PayloadTooLarge as exc:
            await render_status(path, 413, exc.detail)(scope, receive, send)
            return
        if form_has_token(body):
            await self._refuse(
                scope, receive, send, "Access tokens go in the Authorization header."
            )
            return
        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, description: str) -> None:
        path: str = scope["path"]
        error = (
            InvalidRequest(description)
            if is_oauth_path(path)
            else BearerInvalidRequest(description)
        )
        await render_oauth_error(path, error)(scope, receive, send)


async def _buffer(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole (already capped) body, and a `receive` that plays it back once."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay
