"""`require_scopes` for FastAPI: with the middleware, without it, and configured three ways.

No `from __future__ import annotations` here: FastAPI must resolve the local Annotated
aliases of the endpoints at definition time.
"""

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from jwtkeep.core.claims import AccessClaims
from jwtkeep.sdk import JwtkeepMiddleware, Verifier
from jwtkeep.sdk.fastapi import install, require_scopes
from tests.sdk.helpers import Minter, SetAllowlist


def build(verifier: Verifier, mode: str) -> FastAPI:
    app = FastAPI()
    explicit = verifier if mode == "explicit" else None
    readers = Annotated[AccessClaims, Depends(require_scopes("orders:read", verifier=explicit))]
    writers = Annotated[
        AccessClaims, Depends(require_scopes("orders:read", "orders:write", verifier=explicit))
    ]

    @app.get("/orders")
    async def orders(claims: readers) -> dict[str, Any]:
        return {"jti": claims.jti}

    @app.post("/orders")
    async def create(claims: writers) -> dict[str, Any]:
        return {"jti": claims.jti}

    if mode == "middleware":
        app.add_middleware(JwtkeepMiddleware, verifier=verifier)
        install(app)
    elif mode == "app-state":
        install(app, verifier)
    else:
        install(app)
    return app


@pytest.fixture(params=["middleware", "app-state", "explicit"])
async def client(request: pytest.FixtureRequest, verifier: Verifier) -> Any:
    transport = httpx.ASGITransport(app=build(verifier, request.param))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_claims_are_returned(client: httpx.AsyncClient, minter: Minter) -> None:
    response = await client.get("/orders", headers=bearer(minter.token("orders:read")))
    assert response.status_code == 200
    assert response.json() == {"jti": minter.issued[-1].jti}


async def test_missing_scope_is_403(client: httpx.AsyncClient, minter: Minter) -> None:
    response = await client.post("/orders", headers=bearer(minter.token("orders:read")))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert 'scope="orders:write"' in response.headers["www-authenticate"]
    ok = await client.post("/orders", headers=bearer(minter.token("orders:read orders:write")))
    assert ok.status_code == 200


async def test_missing_token_is_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="jwtkeep"'
    assert response.json()["error"] == "unauthorized"


async def test_revoked_token_is_401(
    client: httpx.AsyncClient, minter: Minter, allowlist: SetAllowlist
) -> None:
    token = minter.token()
    allowlist.revoke(token)
    response = await client.get("/orders", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


async def test_query_token_is_400(client: httpx.AsyncClient, minter: Minter) -> None:
    response = await client.get("/orders", params={"access_token": minter.token()})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_outage_is_503(
    client: httpx.AsyncClient, minter: Minter, allowlist: SetAllowlist
) -> None:
    token = minter.token()
    allowlist.unavailable = True
    response = await client.get("/orders", headers=bearer(token))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"


async def test_without_install_status_and_headers_are_still_right(
    verifier: Verifier, minter: Minter
) -> None:
    app = FastAPI()

    @app.get("/orders")
    async def orders(
        claims: Annotated[AccessClaims, Depends(require_scopes("x", verifier=verifier))],
    ) -> dict[str, str]:
        return {"jti": claims.jti}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        response = await client.get("/orders", headers=bearer(minter.token("orders:read")))
    assert response.status_code == 403
    assert "insufficient_scope" in response.headers["www-authenticate"]


async def test_no_verifier_anywhere_is_a_configuration_error(minter: Minter) -> None:
    app = FastAPI()

    @app.get("/orders")
    async def orders(claims: Annotated[AccessClaims, Depends(require_scopes())]) -> str:
        return claims.jti

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        with pytest.raises(Exception, match="require_scopes needs"):
            await client.get("/orders", headers=bearer(minter.token()))


def test_bad_scope_names_are_refused_at_import_time() -> None:
    with pytest.raises(ValueError, match="malformed scope"):
        require_scopes("has space")
