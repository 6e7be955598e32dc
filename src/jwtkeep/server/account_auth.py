"""The bearer-token dependencies of the server's own protected routes: the account API.

- The token comes only from `Authorization: Bearer <token>` (RFC 6750 §2.1; scheme
  case-insensitive, exactly one token, at most 4 KiB); parsing is shared with the SDK
  (`jwtkeep.sdk.bearer`). Tokens in the query or a form body never get here: the
  middleware refuses them first (RFC 6750 §2.2-2.3 refused by policy; the article: no
  tokens in URLs).
- No credentials: 401 with a bare `WWW-Authenticate: Bearer realm="jwtkeep"` (§3.1).
- A malformed credential: 400 `invalid_request` with the challenge naming it (§3.1).
- The account API (`/userinfo`, `/auth/*`) is a resource of its own, whose audience is
  the issuer URL (DESIGN.md "Contract: tokens"). Verification is one call,
  `runtime.account_verifier.verify` (signature, claims with that audience, allowlist;
  RFC 9068 §4: the resource server's own audience must be in `aud`), so a token minted
  for an app's API is refused here: 401 `invalid_token`. So is a token whose `sub` is no
  active user (a client_credentials token: its `sub` is the app). An unreachable store
  is 503 (fail closed).
- The right audience without the needed scope (`account`; `openid` or `account` for
  `/userinfo`) is 403 `insufficient_scope` naming it (RFC 6750 §3.1).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.scopes import ACCOUNT_SCOPE, OPENID_SCOPE
from jwtkeep.errors import (
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingToken,
    bearer_challenge,
)
from jwtkeep.sdk.bearer import token_from_header
from jwtkeep.server.state import RuntimeDep

__all__ = [
    "AccountClaimsDep",
    "BearerInvalidRequest",
    "UserInfoClaimsDep",
    "account_claims",
    "bearer_token",
    "userinfo_claims",
]

# Declares the scheme in the OpenAPI document only; the header is parsed below, strictly.
_DOCUMENTED_SCHEME = HTTPBearer(
    auto_error=False, description="an access token from /oauth/token with scope `account`"
)


class BearerInvalidRequest(InvalidRequest):
    """RFC 6750 §3.1 `invalid_request` on a protected route, with its challenge."""

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": bearer_challenge(self.error)}


def bearer_token(request: Request) -> str:
    try:
        token = token_from_header(request.headers.getlist("authorization"))
    except InvalidRequest as exc:
        raise BearerInvalidRequest(exc.description) from None
    if token is None:
        raise MissingToken()
    return token


async def _account_token(request: Request, runtime: RuntimeDep) -> AccessClaims:
    claims = await runtime.account_verifier.verify(bearer_token(request))
    user = await runtime.context.users.get_user(claims.sub)
    if user is None or user.disabled:
        # A client_credentials token's sub is its app: it never acts for a user here.
        raise InvalidToken("token subject is not an active user")
    return claims


async def account_claims(
    request: Request,
    runtime: RuntimeDep,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_DOCUMENTED_SCHEME)],
) -> AccessClaims:
    """Every `/auth/*` route: the account audience and the `account` scope."""
    claims = await _account_token(request, runtime)
    if ACCOUNT_SCOPE not in claims.scopes:
        raise InsufficientScope(ACCOUNT_SCOPE)
    return claims


async def userinfo_claims(
    request: Request,
    runtime: RuntimeDep,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_DOCUMENTED_SCHEME)],
) -> AccessClaims:
    """`/userinfo`: the account audience and `openid` (OIDC Core §5.3) or `account`."""
    claims = await _account_token(request, runtime)
    if claims.scopes.isdisjoint({ACCOUNT_SCOPE, OPENID_SCOPE}):
        raise InsufficientScope(OPENID_SCOPE)
    return claims


AccountClaimsDep = Annotated[AccessClaims, Depends(account_claims)]
UserInfoClaimsDep = Annotated[AccessClaims, Depends(userinfo_claims)]
