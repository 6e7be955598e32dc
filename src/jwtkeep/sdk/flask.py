"""Flask extension and decorator (`pip install 'jwtkeep[flask]'`).

    jwtkeep = Jwtkeep(app, verifier=verifier, routes=["DELETE /orders/*=orders:admin"])

    @app.get("/orders")
    @jwtkeep.require_scopes("orders:read")
    def orders(): return {"user": g.jwtkeep.sub}

The same policy as the ASGI middleware (`jwtkeep.sdk.guard`): bearer token from the
`Authorization` header only (RFC 6750 §2.1), token-in-URL/form refusal with per-route
opt-in (RFC 6750 §2.2-2.3, the article), route rules, 401/403/503 (RFC 6750 §3.1, fail
closed). Verified claims are in `g.jwtkeep`. With `protect_all=False` only decorated
views are protected. `deny_unmatched=True` refuses (403) a protected request that no route
rule matches; a decorator's scopes come on top of the rules, they do not replace them.

Flask is synchronous and the Verifier is async: verification runs on one private event
loop in a daemon thread owned by the extension (`jwtkeep.sdk.loop.LoopThread`), so the
async httpx/Redis clients stay bound to one loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

import structlog
from flask import Flask, Response, current_app, g, request

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.scopes import RouteRule, check_scope_tokens
from jwtkeep.errors import ConfigurationError, InsufficientScope, StoreUnavailable
from jwtkeep.sdk.audit import RequestHook, log_request, make_event, start_hook
from jwtkeep.sdk.bearer import URL_TOKEN_RESPONSE_HEADERS, form_has_token
from jwtkeep.sdk.guard import (
    FORM_CONTENT_TYPE,
    MAX_FORM_SCAN_BYTES,
    GuardRequest,
    Outcome,
    RequestGuard,
    error_response,
    require_all,
)
from jwtkeep.sdk.loop import LoopThread
from jwtkeep.sdk.rules import PathRule
from jwtkeep.sdk.verifier import Verifier

__all__ = ["EXTENSION_KEY", "Jwtkeep", "require_scopes"]

_log = structlog.get_logger("jwtkeep.sdk.flask")

EXTENSION_KEY = "jwtkeep"
_OUTCOME = "_jwtkeep_outcome"
F = TypeVar("F", bound=Callable[..., Any])


class Jwtkeep:
    """Verify jwtkeep access tokens for a Flask app."""

    def __init__(
        self,
        app: Flask | None = None,
        *,
        verifier: Verifier,
        routes: Iterable[str | RouteRule] = (),
        public_paths: Iterable[str | PathRule] = (),
        token_in_query_paths: Iterable[str | PathRule] = (),
        deny_unmatched: bool = False,
        on_request: RequestHook | None = log_request,
        protect_all: bool = True,
        timeout: float = 10.0,
    ) -> None:
        self.guard = RequestGuard(
            verifier,
            routes=routes,
            public_paths=public_paths,
            token_in_query_paths=token_in_query_paths,
            deny_unmatched=deny_unmatched,
        )
        self.on_request = on_request
        self.protect_all = protect_all
        self.loop = LoopThread(timeout=timeout)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION_KEY] = self
        if self.protect_all:
            app.before_request(self._before_request)
        app.after_request(self._after_request)

    def require_scopes(self, *scopes: str) -> Callable[[F], F]:
        """Protect one view (also with `protect_all=False`) and require every scope."""
        check_scope_tokens(scopes)

        def decorator(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                refusal = self._require(scopes)
                return refusal if refusal is not None else view(*args, **kwargs)

            return cast(F, wrapper)

        return decorator

    def close(self) -> None:
        """Close the Verifier's clients and stop the private loop."""
        self.loop.run(self.guard.verifier.aclose())
        self.loop.close()

    def _require(self, scopes: tuple[str, ...]) -> Response | None:
        claims = g.get(EXTENSION_KEY)
        if not isinstance(claims, AccessClaims):
            return self._check(scopes)
        try:
            require_all(claims, scopes)
        except InsufficientScope as exc:
            earlier: Outcome | None = g.get(_OUTCOME)
            refused = Outcome(claims, exc, earlier.token_in_query if earlier else False)
            setattr(g, _OUTCOME, refused)
            return _error_response(refused)
        return None

    def _before_request(self) -> Response | None:
        if self.guard.is_public(request.method, request.path):
            return None
        return self._check(())

    def _check(self, scopes: tuple[str, ...]) -> Response | None:
        info = GuardRequest(
            method=request.method,
            path=request.path,
            authorization=request.headers.getlist("Authorization"),
            query_string=request.query_string.decode("latin-1"),
            form_token=_form_token(),
        )
        outcome = self.loop.run(self.guard.check(info, scopes=scopes))
        setattr(g, _OUTCOME, outcome)
        if outcome.error is not None:
            return _error_response(outcome)
        setattr(g, EXTENSION_KEY, outcome.claims)
        return None

    def _after_request(self, response: Response) -> Response:
        outcome: Outcome | None = g.pop(_OUTCOME, None)
        if outcome is None:
            return response
        if outcome.token_in_query:
            for name, value in URL_TOKEN_RESPONSE_HEADERS:
                response.headers[name] = value
        if outcome.claims is not None and self.on_request is not None:  # None: no hook
            self._audit(outcome, response.status_code)
        return response

    def _audit(self, outcome: Outcome, status: int) -> None:
        assert outcome.claims is not None
        assert self.on_request is not None
        event = make_event(
            outcome.claims, request.method, request.path, status,
            token_in_query=outcome.token_in_query,
        )  # fmt: skip
        pending = start_hook(self.on_request, event)
        if pending is not None:
            try:
                self.loop.run(pending)
            except StoreUnavailable:
                _log.error("audit_hook.timed_out", jti=event.jti)


def require_scopes(*scopes: str) -> Callable[[F], F]:
    """Like `Jwtkeep.require_scopes`, finding the extension on the current app."""
    check_scope_tokens(scopes)

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            extension = current_app.extensions.get(EXTENSION_KEY)
            if not isinstance(extension, Jwtkeep):
                raise ConfigurationError("require_scopes needs Jwtkeep(app, verifier=...) first")
            return extension.require_scopes(*scopes)(view)(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def _form_token() -> bool:
    if request.mimetype != FORM_CONTENT_TYPE:
        return False
    length = request.content_length
    if length is None or length > MAX_FORM_SCAN_BYTES:
        return False
    # cache=True: the view can still read request.form / get_data() afterwards.
    return form_has_token(request.get_data(cache=True))


def _error_response(outcome: Outcome) -> Response:
    assert outcome.error is not None
    status, headers, body = error_response(outcome.error)
    response = Response(body, status=status, headers=headers)
    if outcome.token_in_query:
        for name, value in URL_TOKEN_RESPONSE_HEADERS:
            response.headers[name] = value
    return response
