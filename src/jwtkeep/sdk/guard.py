"""The request policy every framework adapter shares (ASGI, FastAPI, Flask).

An adapter turns its request into a `GuardRequest`, asks `RequestGuard.check`, and turns the
`Outcome` back into its own response. The policy, in order:

1. public paths need no token and are passed through untouched;
2. a token in a form body, or in the URL query of a route without opt-in, is refused with
   400 `invalid_request` (RFC 6750 §2.2-2.3, RFC 9700 §4.3.2; the article: no tokens in
   URLs); more than one transmission method is refused too (RFC 6750 §2);
3. no bearer credentials: 401 with a bare `Bearer` challenge (RFC 6750 §3.1);
4. `Verifier.verify`: a refused token is 401 `invalid_token`; an unreachable allowlist or
   key source is 503 with `Retry-After` (fail closed);
5. the first matching route rule's scope must be in the token: else 403
   `insufficient_scope` (RFC 6750 §3.1). With `deny_unmatched=True` a request that no
   rule matches is refused the same way (deny by default; `jwtkeep.sdk.rules`).

On an opted-in route that received its token in the query, every response carries
`Cache-Control: no-store`, `Pragma: no-cache` and `Referrer-Policy: no-referrer`.

`JwtkeepMiddleware` answers one case of this policy without calling `check`: a request
with exactly one `Authorization` header, no form body and no URL query, whose token the
verdict cache vouches for (steps 2-4 then have nothing to refuse); step 5 is still
`authorized`. Everything else, and every miss, goes through `check`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.scopes import RouteRule
from jwtkeep.errors import (
    InsufficientScope,
    InvalidRequest,
    JwtkeepError,
    OAuthError,
    StoreUnavailable,
    oauth_error_body,
)
from jwtkeep.sdk.bearer import (
    MissingToken,
    query_tokens,
    single_query_token,
    token_from_header,
)
from jwtkeep.sdk.rules import PathRule, Route, RouteTable, check_scope
from jwtkeep.sdk.verifier import Verifier

__all__ = [
    "FORM_CONTENT_TYPE",
    "MAX_FORM_SCAN_BYTES",
    "GuardRequest",
    "Outcome",
    "RequestGuard",
    "error_response",
    "require_all",
]

MAX_FORM_SCAN_BYTES = 64 * 1024
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

_UNAVAILABLE = "Access tokens cannot be checked right now; try again shortly."


@dataclass(frozen=True)
class GuardRequest:
    method: str
    path: str
    authorization: Sequence[str]  # every Authorization header value, as received
    query_string: str
    form_token: bool = False  # an `access_token` field was found in a form body


class Outcome(NamedTuple):
    """What the guard decided. `claims` is set whenever the token verified (even on 403).
    A named tuple: one is made per request, and a frozen dataclass costs three times as
    much to build."""

    claims: AccessClaims | None = None
    error: JwtkeepError | None = None
    token_in_query: bool = False


class RequestGuard:
    def __init__(
        self,
        verifier: Verifier,
        *,
        routes: Iterable[str | RouteRule] = (),
        public_paths: Iterable[str | PathRule] = (),
        token_in_query_paths: Iterable[str | PathRule] = (),
        deny_unmatched: bool = False,
    ) -> None:
        self.verifier = verifier
        self.table = RouteTable(routes, public_paths, token_in_query_paths)
        self.routes = self.table.routes
        self.deny_unmatched = deny_unmatched

    def route(self, method: str, path: str) -> Route:
        return self.table.route(method, path)

    def is_public(self, method: str, path: str) -> bool:
        return self.table.route(method, path).public

    async def check(self, request: GuardRequest, *, scopes: Iterable[str] = ()) -> Outcome:
        """Authenticate and authorize; expected failures come back in `Outcome.error`.

        `scopes` are required on top of the route rules (the FastAPI/Flask decorators)."""
        route = self.table.route(request.method, request.path)
        in_query = route.token_in_query and bool(query_tokens(request.query_string))
        try:
            token = self._presented(request, opt_in=route.token_in_query)
            claims = self.verifier.cached(token) or await self.verifier.verify(token)
        except (OAuthError, StoreUnavailable) as exc:
            return Outcome(error=exc, token_in_query=in_query)
        return self.authorized(claims, route, scopes, in_query=in_query)

    def authorized(
        self,
        claims: AccessClaims,
        route: Route,
        scopes: Iterable[str] = (),
        *,
        in_query: bool = False,
    ) -> Outcome:
        """The outcome for verified claims: the route's scope rule and `scopes` met, or
        403 `insufficient_scope` (RFC 6750 §3.1)."""
        try:
            check_scope(claims, route.scope, deny_unmatched=self.deny_unmatched)
            if scopes:
                require_all(claims, scopes)
        except InsufficientScope as exc:
            return Outcome(claims, exc, in_query)
        return Outcome(claims, None, in_query)

    @staticmethod
    def _presented(request: GuardRequest, *, opt_in: bool) -> str:
        header_token = token_from_header(request.authorization)
        in_query = query_tokens(request.query_string)
        if request.form_token:
            raise InvalidRequest("Send the access token in the Authorization header only.")
        if in_query:
            if not opt_in:
                raise InvalidRequest(
                    "Access tokens in URLs are refused; use the Authorization header."
                )
            if request.authorization:
                raise InvalidRequest("Send the access token one way only.")
            return single_query_token(in_query)
        if header_token is None:
            raise MissingToken()
        return header_token


def require_all(claims: AccessClaims, scopes: Iterable[str]) -> None:
    """InsufficientScope (403, RFC 6750 §3.1) naming the first scope the token lacks."""
    for scope in scopes:
        if scope not in claims.scopes:
            raise InsufficientScope(scope)


def error_response(exc: JwtkeepError) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and JSON body for an OAuth error (RFC 6749 §5.2 / RFC 6750 §3.1
    shapes, rendered by the error itself) or 503 + `Retry-After` for an outage."""
    if isinstance(exc, OAuthError):
        status, headers, body = exc.status_code, exc.headers(), exc.body()
    elif isinstance(exc, StoreUnavailable):
        status, body = 503, oauth_error_body("temporarily_unavailable", _UNAVAILABLE)
        headers = {"Retry-After": str(exc.retry_after_seconds)}
    else:
        raise TypeError(f"no HTTP rendering for {type(exc).__name__}")
    headers = {**headers, "Content-Type": "application/json", "Cache-Control": "no-store"}
    return status, headers, json.dumps(body, separators=(",", ":")).encode("utf-8")
