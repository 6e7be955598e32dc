"""Security and caching headers on every kind of response."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from tests.server.conftest import ACCOUNT_SCOPE, Login, bearer


async def _responses(client: httpx.AsyncClient, login: Login) -> list[httpx.Response]:
    token = (await login(scope=ACCOUNT_SCOPE))["access_token"]
    return [
        await client.get("/healthz"),
        await client.get("/userinfo", headers=bearer(token)),
        await client.get("/userinfo"),
        await client.get("/nope"),
        await client.post("/oauth/token", data={"grant_type": "nope"}),
        await client.post("/oauth/token", content=b"x" * 20_000),
        await client.get("/.well-known/jwks.json"),
        await client.get("/.well-known/oauth-authorization-server"),
        await client.get("/metrics"),
        await client.get("/userinfo", params={"access_token": token}),
    ]


async def test_security_headers_everywhere(client: httpx.AsyncClient, login: Login) -> None:
    for response in await _responses(client, login):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff", response.url
        assert headers["referrer-policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["strict-transport-security"] == "max-age=31536000"
        assert "server" not in headers
        assert "cache-control" in headers


async def test_no_hsts_over_plain_http(app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/healthz")
    assert "strict-transport-security" not in response.headers  # RFC 6797 §7.2
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_no_store_is_the_default_except_for_discovery(
    client: httpx.AsyncClient, login: Login
) -> None:
    for response in await _responses(client, login):
        path = response.request.url.path
        if path.startswith("/.well-known/"):
            assert response.headers["cache-control"].startswith("public, max-age=")
        else:
            assert response.headers["cache-control"] == "no-store", path


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        (None, 'Bearer realm="jwtkeep"'),
        (
            "Bearer not-a-token",
            'Bearer realm="jwtkeep", error="invalid_token", '
            'error_description="The access token is invalid"',
        ),
        ("Bearer a b", 'Bearer realm="jwtkeep", error="invalid_request"'),
    ],
)
async def test_www_authenticate_forms(
    client: httpx.AsyncClient, authorization: str | None, challenge: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get("/auth/sessions", headers=headers)
    assert response.headers["www-authenticate"] == challenge


async def test_token_in_url_refusal_carries_a_bearer_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/userinfo?access_token=abc")
    assert response.status_code == 400
    assert 'error="invalid_request"' in response.headers["www-authenticate"]
