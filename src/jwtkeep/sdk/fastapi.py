"""FastAPI dependency: `Depends(require_scopes("orders:read"))` gives the verified claims.

Works with `JwtkeepMiddleware` (it then only checks the scopes on the claims the
middleware put in `request.state.jwtkeep`) or without it (it verifies the `Authorization`
header itself with the same rules: header only, RFC 6750 §2.1; a token in the URL or form
body is refused, RFC 6750 §2.2-2.3). A missing scope is 403 `insufficient_scope`
(RFC 6750 §3.1).

`install(app, verifier)` stores the Verifier on `app.state` and registers the handler that
renders errors in the RFC 6749 §5.2 JSON shape; without it FastAPI's default handler still
sends the right status and `WWW-Authenticate`/`Retry-After` headers.

Needs FastAPI (a dependency of the server; an API using only the SDK installs it itself).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import Response

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.scopes import check_scope_tokens
from jwtkeep.errors import ConfigurationError, InsufficientScope, JwtkeepError
from jwtkeep.sdk.bearer import form_has_token
from jwtkeep.sdk.guard import (
    FORM_CONTENT_TYPE,
    MAX_FORM_SCAN_BYTES,
    GuardRequest,
    RequestGuard,
    error_response,
    require_all,
)
from jwtkeep.sdk.verifier import Verifier

__all__ = ["VERIFIER_STATE", "JwtkeepHTTPException", "install", "require_scopes"]

VERIFIER_STATE = "jwtkeep_verifier"


class JwtkeepHTTPException(HTTPException):
    """An HTTPException carrying the rendered OAuth error (or the 503 of an outage)."""

    def __init__(self, error: JwtkeepError) -> None:
        status, headers, body = error_response(error)
        super().__init__(status_code=status, detail=str(error), headers=headers)
        self.error = error
        self.body = body


async def _render(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JwtkeepHTTPException)
    return Response(exc.body, status_code=exc.status_code, headers=exc.headers)


def install(app: FastAPI, verifier: Verifier | None = None) -> None:
    """Register the error renderer and (optionally) the app-wide Verifier."""
    if verifier is not None:
        setattr(app.state, VERIFIER_STATE, verifier)
    app.add_exception_handler(JwtkeepHTTPException, _render)


def require_scopes(
    *scopes: str, verifier: Verifier | None = None
) -> Callable[[Request], Awaitable[AccessClaims]]:
    """A dependency returning the verified claims; 403 unless they hold every scope."""
    check_scope_tokens(scopes)

    async def dependency(request: Request) -> AccessClaims:
        claims = getattr(request.state, "jwtkeep", None)
        if isinstance(claims, AccessClaims):
            try:
                require_all(claims, scopes)
            except InsufficientScope as exc:
                raise JwtkeepHTTPException(exc) from None
            return claims
        return await _verify(request, _verifier(request, verifier), scopes)

    return dependency


def _verifier(request: Request, explicit: Verifier | None) -> Verifier:
    found = explicit or getattr(request.app.state, VERIFIER_STATE, None)
    if not isinstance(found, Verifier):
        raise ConfigurationError(
            "require_scopes needs JwtkeepMiddleware, install(app, verifier) or verifier=..."
        )
    return found


async def _verify(request: Request, verifier: Verifier, scopes: tuple[str, ...]) -> AccessClaims:
    info = GuardRequest(
        method=request.method,
        path=str(request.scope.get("path", "/")),
        authorization=request.headers.getlist("authorization"),
        query_string=bytes(request.scope.get("query_string", b"")).decode("latin-1"),
        form_token=await _form_token(request),
    )
    outcome = await RequestGuard(verifier).check(info, scopes=scopes)
    if outcome.error is not None:
        raise JwtkeepHTTPException(outcome.error)
    assert outcome.claims is not None
    request.state.jwtkeep = outcome.claims
    return outcome.claims


async def _form_token(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").lower()
    length = request.headers.get("content-length", "")
    if not content_type.startswith(FORM_CONTENT_TYPE):
        return False
    if not length.isdigit() or int(length) > MAX_FORM_SCAN_BYTES:
        return False
    return form_has_token(await request.body())
