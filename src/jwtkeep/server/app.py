"""Build the FastAPI app: routes (DESIGN.md "Contract: HTTP API"), error shapes, middleware.

This module only wires HTTP around a `jwtkeep.runtime.Runtime`: routes, middleware,
metrics, the login guard over the runtime's rate-limit counters. Everything built from
settings (stores, verifiers, the revocation follower, the key schedule) is the
composition root's (`jwtkeep.runtime`). Three ways in:
- `create_app(runtime)`: serve a `Runtime` the caller built and will close (tests,
  embedding). Its lifespan runs the runtime's revocation follower.
- `create_app_from_settings(settings, migrate=False)`: the lifespan opens the runtime
  with `jwtkeep.runtime.serve_runtime` (which also runs the key rotation schedule) and
  closes it on shutdown. This is what `jwtkeep serve` runs:

      app = create_app_from_settings(settings)
      uvicorn.run(app, host=..., port=..., ssl_certfile=..., ssl_keyfile=..., **UVICORN_OPTIONS)

- `app_factory()`: for `uvicorn --factory jwtkeep.server.app:app_factory` (several workers,
  reload); reads settings with `jwtkeep.settings.load_settings()` from the `JWTKEEP_*`
  environment, plus the TOML file named by `JWTKEEP_CONFIG` if set.

`UVICORN_OPTIONS` must be passed to uvicorn: `server_header=False` (no `Server` header),
`proxy_headers=False` (uvicorn would otherwise rewrite the client address from
`X-Forwarded-For` for any peer in its own `forwarded_allow_ips`; jwtkeep applies
`settings.trusted_proxies` itself, `jwtkeep.server.client_ip`).

Middleware, outermost first: metrics, security headers, catch-all 500, CORS (a few
endpoints only, `jwtkeep.server.cors`), body size cap, credentials-in-URL refusal;
then FastAPI's exception handlers (`jwtkeep.server.errors`).
No `/docs` UI; `/openapi.json` describes every route. No `/metrics` either:
`create_metrics_app(app)` is the app of the separate metrics listener. Slash redirects are
off (a redirect would be built from the untrusted `Host` header).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.types import ASGIApp

from jwtkeep import __version__
from jwtkeep.logs import configure_logging, warn_unknown_variables
from jwtkeep.runtime import Runtime, serve_runtime
from jwtkeep.server import account, authorize, health, metadata, oauth, revocation_stream
from jwtkeep.server.client_ip import TrustedProxies
from jwtkeep.server.cors import CorsMiddleware
from jwtkeep.server.errors import CatchAllMiddleware, install_error_handlers
from jwtkeep.server.metrics import Metrics, MetricsEndpoint, MetricsMiddleware
from jwtkeep.server.middleware import (
    BodyLimitMiddleware,
    CredentialsInUrlMiddleware,
    SecurityHeadersMiddleware,
)
from jwtkeep.server.ratelimit import BruteForcePolicy, LoginLimiter
from jwtkeep.server.state import STATE_ATTRIBUTE, ServerState
from jwtkeep.settings import CONFIG_ENV, Settings, load_settings, unknown_variables
from jwtkeep.usecases.context import RequestInfo

__all__ = [
    "CONFIG_ENV",
    "UVICORN_OPTIONS",
    "Lifespan",
    "app_factory",
    "create_app",
    "create_app_from_settings",
    "create_metrics_app",
]

UVICORN_OPTIONS: dict[str, Any] = {"server_header": False, "proxy_headers": False}
# FastAPI's native OpenTelemetry records full URLs; a refused credential in a query
# string would end up in the traces. Off, unless an operator wires tracing knowingly.
_TELEMETRY_OFF: Any = {"tracing": False, "metrics": False, "logs": False}

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def _state(app: FastAPI) -> ServerState:
    state = getattr(app.state, STATE_ATTRIBUTE)
    assert isinstance(state, ServerState)
    return state


def _install_openapi(app: FastAPI) -> None:
    """The OpenAPI document as the server really answers: FastAPI's automatic 422
    responses are dropped, since validation errors are 400 problems here."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _build(settings: Settings, lifespan: Lifespan) -> FastAPI:
    app = FastAPI(
        title="jwtkeep", version=__version__, docs_url=None, redoc_url=None,
        openapi_url="/openapi.json", redirect_slashes=False, strict_content_type=True,
        lifespan=lifespan, telemetry=_TELEMETRY_OFF,
    )  # fmt: skip
    metrics = Metrics()
    state = ServerState(metrics=metrics, proxies=TrustedProxies(settings.trusted_proxies))
    setattr(app.state, STATE_ATTRIBUTE, state)
    install_error_handlers(app)
    _install_openapi(app)
    routers = (oauth.router, authorize.router, revocation_stream.router, metadata.router,
               account.router, health.router)  # fmt: skip
    for router in routers:
        app.include_router(router)
    if settings.allow_registration:
        app.include_router(account.registration_router)
    # add_middleware wraps: the last one added is the outermost.
    app.add_middleware(CredentialsInUrlMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(CorsMiddleware)
    app.add_middleware(CatchAllMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def _attach(app: FastAPI, runtime: Runtime) -> None:
    """Serve `runtime`: the login guard counts in its rate-limit counters, reports to the
    app's metrics and audits through its use-case context."""
    state = _state(app)
    metrics = state.metrics

    async def audit_slowdown(action: str, account_digest: str, bucket: str) -> None:
        # Issue 9's security event: an account came under the brute-force slowdown. The
        # account is named by the limiter's digest (no username in the trail for a name
        # that may not exist); the address bucket is kept like any audited IP.
        await runtime.context.record(
            "login.slowdown_started", RequestInfo(ip=bucket), action=action,
            account=account_digest,
        )  # fmt: skip

    limiter = LoginLimiter(
        runtime.rate_limits,
        BruteForcePolicy.from_settings(runtime.settings),
        on_throttled=lambda action: metrics.login_throttled.labels(action).inc(),
        on_slowed=lambda action, delay: metrics.login_slowdown.labels(action).observe(delay),
        on_slowdown_started=audit_slowdown,
    )
    state.attach(runtime, limiter)


def create_app(runtime: Runtime) -> FastAPI:
    """The app for a runtime the caller owns (and closes)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.following():
            yield

    app = _build(runtime.settings, lifespan)
    _attach(app, runtime)
    return app


def create_app_from_settings(settings: Settings, *, migrate: bool = False) -> FastAPI:
    """The app that opens its runtime at startup and closes it at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with serve_runtime(settings, migrate=migrate) as runtime:
            _attach(app, runtime)
            try:
                yield
            finally:
                _state(app).detach()

    return _build(settings, lifespan)


def create_metrics_app(app: FastAPI) -> ASGIApp:
    """The app of the metrics listener: `app`'s metrics at `/metrics`, security headers."""
    return SecurityHeadersMiddleware(MetricsEndpoint(_state(app).metrics))


def app_factory() -> FastAPI:
    """uvicorn `--factory` entry point: settings from the environment (and JWTKEEP_CONFIG).

    Configures logging for the worker process (jwtkeep.logs), replacing uvicorn's."""
    config = os.environ.get(CONFIG_ENV)
    settings = load_settings(Path(config) if config else None)
    configure_logging(settings.log_level, settings.log_format)
    warn_unknown_variables(unknown_variables(os.environ))
    return create_app_from_settings(settings)
