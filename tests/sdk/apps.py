"""Small Starlette and FastAPI apps protected by JwtkeepMiddleware, for the tests."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse as FastJSONResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from jwtkeep.sdk import JwtkeepMiddleware, RequestEvent, RequestHook, Verifier

ROUTES = [
    "DELETE /orders/*=orders:admin",
    "GET /reports/*=reports:read",
    "* /admin/*=admin",
]
PUBLIC = ["/health", "GET /docs/*"]
QUERY_OPT_IN = ["GET /export/*"]


def middleware_options(
    verifier: Verifier, events: list[RequestEvent], on_request: RequestHook | None = None
) -> dict[str, Any]:
    return {
        "verifier": verifier,
        "routes": ROUTES,
        "public_paths": PUBLIC,
        "token_in_query_paths": QUERY_OPT_IN,
        "on_request": on_request or events.append,
    }


def _who(claims: Any) -> dict[str, Any]:
    if claims is None:
        return {"sub": None}
    return {"sub": claims.sub, "jti": claims.jti, "scope": claims.scope}


async def _echo(request: StarletteRequest) -> Response:
    claims = getattr(request.state, "jwtkeep", None)
    body: dict[str, Any] = _who(claims)
    if request.method == "POST":
        form = await request.form()
        body["form"] = dict(form)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=600"})


async def _health(_request: StarletteRequest) -> Response:
    return PlainTextResponse("ok")


async def _boom(_request: StarletteRequest) -> Response:
    raise RuntimeError("handler failed")


async def _socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(_who(websocket.state.jwtkeep))
    await websocket.close()


def starlette_app(
    verifier: Verifier, events: list[RequestEvent], on_request: RequestHook | None = None
) -> Starlette:
    paths = ["/orders/{id}", "/reports/{id}", "/admin/{id}", "/export/{id}", "/docs/{id}"]
    routes: list[BaseRoute] = [Route(p, _echo, methods=["GET", "POST", "DELETE"]) for p in paths]
    routes += [
        Route("/health", _health),
        Route("/boom", _boom),
        WebSocketRoute("/ws", _socket),
    ]
    options = middleware_options(verifier, events, on_request)
    middleware = [Middleware(JwtkeepMiddleware, **options)]
    return Starlette(routes=routes, middleware=middleware)


def fastapi_app(verifier: Verifier, events: list[RequestEvent]) -> FastAPI:
    app = FastAPI()
    app.add_middleware(JwtkeepMiddleware, **middleware_options(verifier, events))

    async def echo(request: Request) -> FastJSONResponse:
        body = _who(getattr(request.state, "jwtkeep", None))
        if request.method == "POST":
            body["form"] = dict(await request.form())
        return FastJSONResponse(body, headers={"Cache-Control": "public, max-age=600"})

    for path in ["/orders/{id}", "/reports/{id}", "/admin/{id}", "/export/{id}", "/docs/{id}"]:
        app.add_api_route(path, echo, methods=["GET", "HEAD", "POST", "DELETE"])

    @app.get("/health")
    async def health() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("handler failed")

    return app
