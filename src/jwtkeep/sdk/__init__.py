"""jwtkeep.sdk: verify jwtkeep access tokens in your own API (a resource server).

    from jwtkeep.sdk import IntrospectionAllowlist, JwtkeepMiddleware, Verifier

    verifier = Verifier.with_redis(
        issuer="https://auth.example.com", audience="orders-api", redis_url="redis://..."
    )
    app.add_middleware(JwtkeepMiddleware, verifier=verifier, routes=["DELETE /orders/*=admin"])

A token is accepted only if its signature (key from the issuer's JWKS, algorithm from the
key), its claims (issuer, audience, times, ids) *and* the allowlist (the issuer's token
store, or RFC 7662 introspection) all say yes. A repeat token is answered from the
verdict cache while the revocation subscription is live (docs/revocation.md). See
docs/sdk.md.

Framework modules are imported on demand, so this package needs none of them:
`jwtkeep.sdk.fastapi` (FastAPI), `jwtkeep.sdk.flask` (`jwtkeep[flask]`). The ASGI
middleware is framework-free.
"""

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.scopes import RouteRule, parse_route_rule
from jwtkeep.core.verdicts import VerdictCache
from jwtkeep.errors import InsufficientScope, InvalidRequest, InvalidToken, StoreUnavailable
from jwtkeep.ports.verification import AllowlistCheck, KeyRingSource
from jwtkeep.sdk.allowlist import StoreAllowlist
from jwtkeep.sdk.asgi import JwtkeepMiddleware
from jwtkeep.sdk.audit import RequestEvent, RequestHook, log_request
from jwtkeep.sdk.bearer import MissingToken
from jwtkeep.sdk.event_stream import EventStreamFeed
from jwtkeep.sdk.introspection import IntrospectionAllowlist
from jwtkeep.sdk.jwks import JwksKeySource
from jwtkeep.sdk.rules import PathRule, authorize, parse_routes
from jwtkeep.sdk.verifier import Verifier

__all__ = [
    "AccessClaims",
    "AllowlistCheck",
    "EventStreamFeed",
    "InsufficientScope",
    "IntrospectionAllowlist",
    "InvalidRequest",
    "InvalidToken",
    "JwksKeySource",
    "JwtkeepMiddleware",
    "KeyRingSource",
    "MissingToken",
    "PathRule",
    "RequestEvent",
    "RequestHook",
    "RouteRule",
    "StoreAllowlist",
    "StoreUnavailable",
    "VerdictCache",
    "Verifier",
    "authorize",
    "log_request",
    "parse_route_rule",
    "parse_routes",
]
