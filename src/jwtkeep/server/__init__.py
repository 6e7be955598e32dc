"""The HTTP edge of the jwtkeep auth server: a FastAPI app that only translates HTTP to
the use cases (DESIGN.md "Contract: HTTP API"; docs/http-api.md).

    from jwtkeep.server import create_app, create_app_from_settings

`create_app(runtime)` serves an already built `jwtkeep.runtime.Runtime` (tests, embedding);
`create_app_from_settings(settings)` builds and closes its own runtime in the ASGI
lifespan (`jwtkeep serve`); `jwtkeep.server.app:app_factory` is the uvicorn factory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jwtkeep.server.app import (
        UVICORN_OPTIONS,
        app_factory,
        create_app,
        create_app_from_settings,
        create_metrics_app,
    )

__all__ = [
    "UVICORN_OPTIONS",
    "app_factory",
    "create_app",
    "create_app_from_settings",
    "create_metrics_app",
]


def __getattr__(name: str) -> Any:
    # Lazy: `jwtkeep.server.tls` (used by `jwtkeep init`) must not pull in the web stack.
    if name in __all__:
        from jwtkeep.server import app  # noqa: PLC0415

        return getattr(app, name)
    raise AttributeError(name)
