"""CORS (the Fetch standard's CORS protocol) for browser apps, on the endpoints a browser
app calls itself: token, revocation, JWKS, metadata, OIDC discovery and userinfo.

- Allowed origins are the Web origins (RFC 6454) of the registered redirect URIs of every
  app (for an http loopback URI, any port: RFC 8252 §7.3, as for the redirect itself);
  any other origin gets no `Access-Control-Allow-Origin` and the browser keeps the
  answer from the page. No `Access-Control-Allow-Credentials`: these endpoints take no
  cookies (RFC 9700 §2.1: tokens travel in headers and bodies, never cookies here).
- The list of origins is read from the apps at most every `ORIGINS_TTL` seconds.
- A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered here with 204;
  a plain `OPTIONS` gets 204 with `Allow`.
- Never on `/oauth/authorize`, `/login`, `/consent`, `/logout`: those are pages a user
  navigates to, and reading them from another origin is exactly what must not happen.
"""

from __future__ import annotations

import time

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwtkeep.core.hosts import is_loopback
from jwtkeep.core.redirect_uri import origin_of

__all__ = ["CORS_PATHS", "ORIGINS_TTL", "CorsMiddleware"]

CORS_PATHS = {
    "/oauth/token": "POST",
    "/oauth/revoke": "POST",
    "/.well-known/jwks.json": "GET",
    "/.well-known/oauth-authorization-server": "GET",
    "/.well-known/openid-configuration": "GET",
    "/userinfo": "GET",
}
ORIGINS_TTL = 30.0
_ALLOWED_HEADERS = "Authorization, Content-Type"
_EXPOSED_HEADERS = "WWW-Authenticate, Retry-After"


def _key(origin: str | None) -> str | None:
    """The origin as compared: an http loopback origin without its port (any port)."""
    if origin is None:
        return None
    scheme, _, rest = origin.partition("://")
    host = rest.rsplit(":", 1)[0] if not rest.endswith("]") else rest
    if scheme == "http" and is_loopback(host):
        return f"http://{host}"
    return origin


class CorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._origins: frozenset[str] = frozenset()
        self._read_at = -ORIGINS_TTL

    async def _allowed(self, scope: Scope) -> frozenset[str]:
        now = time.monotonic()
        if now - self._read_at >= ORIGINS_TTL:
            state = getattr(scope["app"].state, "jwtkeep", None)
            runtime = getattr(state, "runtime", None)
            if runtime is None:
                return frozenset()
            apps = await runtime.context.apps.list_apps()
            origins = {_key(origin_of(uri)) for one in apps for uri in one.redirect_uris}
            self._origins = frozenset(o for o in origins if o is not None)
            self._read_at = now
        return self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = CORS_PATHS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if method is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        allowed = origin is not None and _key(origin.lower()) in await self._allowed(scope)
        if scope["method"] == "OPTIONS":
            await self._preflight(
                scope,
                receive,
                send,
                method,
                origin if allowed else None,
                "access-control-request-method" in headers,
            )
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("Origin")
                if allowed and origin is not None:
                    out["Access-Control-Allow-Origin"] = origin
                    out["Access-Control-Expose-Headers"] = _EXPOSED_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    @staticmethod
    async def _preflight(
        scope: Scope,
        receive: Receive,
        send: Send,
        method: str,
        origin: str | None,
        is_preflight: bool,
    ) -> None:
        headers = {"Allow": f"{method}, OPTIONS", "Vary": "Origin"}
        if origin is not None and is_preflight:
            headers.update(
                {
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": f"{method}, OPTIONS",
                    "Access-Control-Allow-Headers": _ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "600",
                }
            )
        await Response(status_code=204, headers=headers)(scope, receive, send)
