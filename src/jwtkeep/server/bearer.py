"""The bearer-token dependency of the server's own protected routes.

- The token comes only from `Authorization: Bearer <token>` (RFC 6750 §2.1; scheme
  case-insensitive, exactly one token, at most 4 KiB); parsing is shared with the SDK
  (`jwtkeep.sdk.bearer`). Tokens in the query or a form body never get here: the
  middleware refuses them first (RFC 6750 §2.2-2.3 refused by policy; the article: no
  tokens in URLs).
- No credentials: 401 with a bare `WWW-Authenticate: Bearer realm="jwtkeep"` (§3.1).
- A malformed credential: 400 `invalid_request` with the challenge naming it (§3.1).
- Verification is one call, `runtime.verifier.verify` (signature, claims, allowlist); a
  refused token is 401 `invalid_token`; an unreachable store is 503 (fail closed).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jwtkeep.core.claims import AccessClaims
from jwtkeep.errors import InvalidRequest, MissingToken
from jwtkeep.sdk.bearer import token_from_header
from jwtkeep.server.state import RuntimeDep

__all__ = ["BearerInvalidRequest", "ClaimsDep", "bearer_token", "current_claims"]

# Declares the scheme in the OpenAPI document only; the header is parsed below, strictly.
_DOCUMENTED_SCHEME = HTTPBearer(auto_error=False, description="an access token from /oauth/token")


class BearerInvalidRequest(InvalidRequest):
    """RFC 6750 §3.1 `invalid_request` on a protected route, with its challenge."""

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="jwtkeep", error="invalid_request"'}


def bearer_token(request: Request) -> str:
    try:
        token = token_from_header(request.headers.getlist("authorization"))
    except InvalidRequest as exc:
        raise BearerInvalidRequest(exc.description) from None
    if token is None:
        raise MissingToken()
    return token


async def current_claims(
    request: Request,
    runtime: RuntimeDep,
    _documented: Annotated[HTTPAuthorizationCredentials | None, Security(_DOCUMENTED_SCHEME)],
) -> AccessClaims:
    return await runtime.verifier.verify(bearer_token(request))


ClaimsDep = Annotated[AccessClaims, Depends(current_claims)]
