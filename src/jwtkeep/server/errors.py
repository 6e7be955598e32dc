"""Every error the server sends, in the shape the route's contract promises.

The bodies and challenges come from the one renderer of each wire format in
`jwtkeep.errors` (`oauth_error_body`, `problem_body`, `bearer_challenge`), which the SDK
uses too; this module only adapts them to Starlette responses and picks one per route:

- Routes under `/oauth/`: RFC 6749 §5.2 JSON, `{"error", "error_description"}`; an outage
  there is `temporarily_unavailable` (the RFC 6749 §4.1.2.1 code for it).
- Everywhere else: RFC 9457 problem details (`application/problem+json`, `type`
  `about:blank`, so `title` is the HTTP status phrase, §4.2.1), with the OAuth error code
  (if any) as the `error` extension member; bearer errors keep their RFC 6750 §3
  `WWW-Authenticate` challenge.
- `StoreUnavailable` is always 503 with `Retry-After` (DESIGN.md: fail closed, never a
  4xx that hides an outage, never a 200). So is `NoSigningKey` (every key retired or
  withdrawn), logged as an error that says the fix.
- Anything unexpected is a generic 500 with no detail; the exception is logged server-side
  (structlog) with the method and route, never the query string, headers or body; its
  stack without frame locals, through the redaction of `jwtkeep.logs`.
- A client that goes away in the middle of its request body (`ClientDisconnect`) is not
  an error: one quiet line, no stack, no response (nobody is left to read it).

Nothing here echoes request input: no token, password or secret can reach a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jwtkeep.errors import (
    Conflict,
    InvalidToken,
    MissingToken,
    NoSigningKey,
    NotFound,
    OAuthError,
    StoreUnavailable,
    oauth_error_body,
    problem_body,
    status_phrase,
)
from jwtkeep.server.schemas import MEDIA_PROBLEM

__all__ = [
    "OAUTH_PREFIX",
    "UNAVAILABLE",
    "CatchAllMiddleware",
    "PayloadTooLarge",
    "install_error_handlers",
    "is_oauth_path",
    "oauth_error",
    "problem",
    "render_oauth_error",
    "render_status",
    "render_unavailable",
]

_log = structlog.get_logger("jwtkeep.server")
OAUTH_PREFIX = "/oauth/"
UNAVAILABLE = "The service is temporarily unavailable; retry later."


class PayloadTooLarge(HTTPException):
    """RFC 9110 §15.5.14: the body went over `max_body_bytes` (counted while streaming).

    An HTTPException so that FastAPI's body reader passes it through unchanged."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is too large.")


def is_oauth_path(path: str) -> bool:
    return path.startswith(OAUTH_PREFIX)


def problem(
    status: int,
    detail: str | None = None,
    *,
    error: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> JSONResponse:
    """An RFC 9457 problem details response."""
    body = problem_body(status, detail, error=error, extra=extra)
    return JSONResponse(body, status, headers=dict(headers or {}), media_type=MEDIA_PROBLEM)


def oauth_error(
    status: int, error: str, description: str = "", headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An RFC 6749 §5.2 error response."""
    return JSONResponse(oauth_error_body(error, description), status, headers=dict(headers or {}))


def render_oauth_error(path: str, exc: OAuthError) -> JSONResponse:
    if is_oauth_path(path):
        return JSONResponse(exc.body(), exc.status_code, headers=exc.headers())
    return problem(exc.status_code, exc.description or None, error=exc.error,
                   headers=exc.headers())  # fmt: skip


def render_unavailable(
    path: str, retry_after: int = StoreUnavailable.retry_after_seconds
) -> Response:
    headers = {"Retry-After": str(retry_after)}
    if is_oauth_path(path):
        return oauth_error(503, "temporarily_unavailable", UNAVAILABLE, headers)
    return problem(503, UNAVAILABLE, headers=headers)


def render_status(
    path: str, status: int, detail: str | None = None, headers: Mapping[str, str] | None = None
) -> Response:
    """A plain status (404, 405, 413, 500 ...) in the route's error shape."""
    detail = detail or status_phrase(status)
    if is_oauth_path(path):
        code = "server_error" if status >= 500 else "invalid_request"
        return oauth_error(status, code, detail, headers)
    return problem(status, detail, headers=headers)


async def _on_oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    if not isinstance(exc, InvalidToken | MissingToken):
        # The client gets the generic description (RFC 6749 §5.2); the operator gets why
        # (`reason`: a fixed phrase, never a credential). A refused token's reason is
        # logged where verification refuses it (`token.rejected`).
        _log.info("oauth.refused", route=_route(request.scope), error=exc.error,
                  status=exc.status_code, reason=exc.reason)  # fmt: skip
    return render_oauth_error(request.scope["path"], exc)


async def _on_unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StoreUnavailable)
    if isinstance(exc, NoSigningKey):
        # Not an outage that heals by itself: the operator must act; the message says how.
        _log.error("signing.no_active_key", route=_route(request.scope), reason=str(exc))
        return render_unavailable(request.scope["path"], exc.retry_after_seconds)
    # The message names the failure's type only (adapters guarantee it); no URL, no data.
    _log.warning("store.unavailable", route=_route(request.scope), reason=str(exc))
    state = getattr(request.app.state, "jwtkeep", None)
    if state is not None:
        state.metrics.store_unavailable.inc()
    return render_unavailable(request.scope["path"], exc.retry_after_seconds)


async def _on_not_found(request: Request, exc: Exception) -> Response:
    return render_status(request.scope["path"], 404, str(exc) or None)


async def _on_conflict(request: Request, exc: Exception) -> Response:
    return render_status(request.scope["path"], 409, str(exc) or None)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    return render_status(request.scope["path"], exc.status_code, detail, exc.headers)


async def _on_validation(request: Request, exc: Exception) -> Response:
    """Malformed or wrongly shaped JSON. Only where and what kind, never the input
    itself (FastAPI's default echoes it, and it may be a password)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part)[:64] for part in err.get("loc", ())][:8], "type": str(err.get("type"))}
        for err in exc.errors()[:16]
    ]
    return problem(400, "The request body is not valid for this route.", error="invalid_request",
                   extra={"errors": errors})  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OAuthError, _on_oauth_error)
    app.add_exception_handler(StoreUnavailable, _on_unavailable)
    app.add_exception_handler(NotFound, _on_not_found)
    app.add_exception_handler(Conflict, _on_conflict)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class CatchAllMiddleware:
    """The last line: an unexpected exception becomes a generic 500 with no detail.

    Logged with structlog (exception type and traceback, method, route template); the
    query string, headers and body are never logged, as they may carry credentials."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except ClientDisconnect:
            _log.info("request.client_disconnected", method=scope.get("method"),
                      route=_route(scope))  # fmt: skip
        except Exception:  # noqa: BLE001 (the last line: anything at all becomes a 500)
            _log.exception("request.failed", method=scope.get("method"), route=_route(scope),
                           response_started=started)  # fmt: skip
            if not started:
                await render_status(scope["path"], 500)(scope, receive, send)
