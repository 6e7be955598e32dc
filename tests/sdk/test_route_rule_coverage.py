"""Route rules as a resource server applies them: `/admin/*` covers `/admin` itself, and
`deny_unmatched=True` refuses (403) a request that no rule matches (deny by default),
through the ASGI middleware and the Flask extension."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from jwtkeep.sdk import JwtkeepMiddleware, Verifier
from jwtkeep.sdk.flask import Jwtkeep
from tests.sdk.helpers import Minter

ROUTES = ["* /admin/*=admin", "GET /orders/*=orders:read"]
PATHS = ["/admin", "/admin/users", "/administrator", "/orders", "/orders/1", "/other"]
DENY_CHALLENGE = 'Bearer realm="jwtkeep", error="insufficient_scope"'


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _echo(request: Request) -> Response:
    claims = getattr(request.state, "jwtkeep", None)
    return JSONResponse({"sub": claims.sub if claims else None})


def starlette_app(verifier: Verifier, **options: Any) -> Starlette:
    routes = [Route(path, _echo, methods=["GET", "POST"]) for path in [*PATHS, "/health"]]
    middleware = Middleware(
        JwtkeepMiddleware, verifier=verifier, routes=ROUTES, public_paths=["/health"],
        on_request=lambda _event: None, **options,
    )  # fmt: skip
    return Starlette(routes=routes, middleware=[middleware])


@pytest.fixture
async def asgi(verifier: Verifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=starlette_app(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


@pytest.fixture
async def asgi_deny(verifier: Verifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=starlette_app(verifier, deny_unmatched=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


@pytest.mark.parametrize("path", ["/admin", "/admin/", "/admin/users"])
async def test_asgi_folder_rule_covers_the_folder(
    asgi: httpx.AsyncClient, minter: Minter, path: str
) -> None:
    response = await asgi.get(path, headers=bearer(minter.token("orders:read")))
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "insufficient_scope"
    assert response.headers["www-authenticate"].endswith('scope="admin"')
    admin = await asgi.get("/admin", headers=bearer(minter.token("admin")))
    assert admin.status_code == 200


async def test_asgi_folder_rule_does_not_cover_a_longer_name(
    asgi: httpx.AsyncClient, minter: Minter
) -> None:
    response = await asgi.get("/administrator", headers=bearer(minter.token("orders:read")))
    assert response.status_code == 200  # no rule matches; deny_unmatched is off by default


async def test_asgi_unmatched_routes_stay_open_by_default(
    asgi: httpx.AsyncClient, minter: Minter
) -> None:
    response = await asgi.post("/other", headers=bearer(minter.token("orders:read")))
    assert response.status_code == 200
    assert response.json() == {"sub": minter.issued[-1].sub}


@pytest.mark.parametrize(("method", "path"), [("GET", "/other"), ("POST", "/orders/1"),
                                              ("GET", "/administrator")])  # fmt: skip
async def test_asgi_deny_unmatched_refuses_what_no_rule_allows(
    asgi_deny: httpx.AsyncClient, minter: Minter, method: str, path: str
) -> None:
    token = minter.token("orders:read admin")
    response = await asgi_deny.request(method, path, headers=bearer(token))
    assert response.status_code == 403, response.text
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "No route rule allows this request.",
    }
    assert response.headers["www-authenticate"] == DENY_CHALLENGE


async def test_asgi_deny_unmatched_keeps_the_rest_of_the_policy(
    asgi_deny: httpx.AsyncClient, minter: Minter
) -> None:
    assert (await asgi_deny.get("/orders/1", headers=bearer(minter.token()))).status_code == 200
    assert (await asgi_deny.get("/admin", headers=bearer(minter.token()))).status_code == 403
    assert (await asgi_deny.get("/health")).status_code == 200  # public paths stay public
    unauthenticated = await asgi_deny.get("/other")
    assert unauthenticated.status_code == 401  # the token is checked before the rules


def flask_app(verifier: Verifier, **options: Any) -> Flask:
    app = Flask(__name__)
    jwtkeep = Jwtkeep(
        app, verifier=verifier, routes=ROUTES, on_request=lambda _event: None, **options
    )

    def who() -> dict[str, Any]:
        return {"sub": g.jwtkeep.sub}

    for path in PATHS:
        app.add_url_rule(path, path, who, methods=["GET", "POST"])

    @app.get("/orders/<oid>/invoice")
    @jwtkeep.require_scopes("invoices:read")
    def invoice(oid: str) -> dict[str, Any]:
        return {"invoice": oid}

    return app


@pytest.fixture
def flask_client(verifier: Verifier) -> Iterator[FlaskClient]:
    app = flask_app(verifier)
    yield app.test_client()
    app.extensions["jwtkeep"].loop.close()


@pytest.fixture
def flask_deny(verifier: Verifier) -> Iterator[FlaskClient]:
    app = flask_app(verifier, deny_unmatched=True)
    yield app.test_client()
    app.extensions["jwtkeep"].loop.close()


def test_flask_folder_rule_covers_the_folder(flask_client: FlaskClient, minter: Minter) -> None:
    refused = flask_client.get("/admin", headers=bearer(minter.token("orders:read")))
    assert refused.status_code == 403
    assert refused.headers["WWW-Authenticate"].endswith('scope="admin"')
    assert flask_client.get("/admin", headers=bearer(minter.token("admin"))).status_code == 200
    longer = flask_client.get("/administrator", headers=bearer(minter.token("orders:read")))
    assert longer.status_code == 200


def test_flask_deny_unmatched(flask_deny: FlaskClient, minter: Minter) -> None:
    token = minter.token("orders:read admin invoices:read")
    refused = flask_deny.post("/other", headers=bearer(token))
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "insufficient_scope"
    assert refused.headers["WWW-Authenticate"] == DENY_CHALLENGE
    assert flask_deny.get("/orders", headers=bearer(token)).status_code == 200
    assert flask_deny.get("/other").status_code == 401


def test_flask_decorator_scopes_come_on_top_of_deny_unmatched(
    flask_deny: FlaskClient, minter: Minter
) -> None:
    # GET /orders/1/invoice matches "GET /orders/*": the rule, then the decorator's scope.
    lacking = flask_deny.get("/orders/1/invoice", headers=bearer(minter.token("orders:read")))
    assert lacking.status_code == 403
    assert lacking.headers["WWW-Authenticate"].endswith('scope="invoices:read"')
    both = minter.token("orders:read invoices:read")
    assert flask_deny.get("/orders/1/invoice", headers=bearer(both)).json == {"invoice": "1"}


def test_flask_default_keeps_unmatched_routes_open(
    flask_client: FlaskClient, minter: Minter
) -> None:
    assert flask_client.post("/other", headers=bearer(minter.token())).status_code == 200
