"""Self-registration (`POST /users`): off unless enabled."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from jwtkeep.usecases.registration import CreatedApp

NEW_PASSWORD = "a fine new passphrase"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"allow_registration": True}


async def test_register_then_login(client: httpx.AsyncClient, web_app: CreatedApp) -> None:
    created = await client.post("/users", json={"username": "carol", "password": NEW_PASSWORD})
    assert created.status_code == 201
    user_id = created.json()["id"]
    assert created.json() == {"id": user_id}
    assert uuid.UUID(user_id).version == 4
    tokens = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": "carol",
            "password": NEW_PASSWORD,
            "client_id": web_app.app.client_id,
            "scope": "openid",
        },
    )
    assert tokens.status_code == 200
    me = await client.get(
        "/userinfo", headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}
    )
    assert me.json()["sub"] == user_id


async def test_duplicate_username_is_409(client: httpx.AsyncClient) -> None:
    body = {"username": "dave", "password": NEW_PASSWORD}
    assert (await client.post("/users", json=body)).status_code == 201
    again = await client.post("/users", json=body)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["status"] == 409


@pytest.mark.parametrize(
    "body",
    [
        {"username": "eve", "password": "short"},
        {"username": "has space", "password": NEW_PASSWORD},
        {"username": "", "password": NEW_PASSWORD},
        {"username": "x" * 129, "password": NEW_PASSWORD},
        {"username": "eve", "password": "p" * 1025},
        {"username": "eve"},
        {"username": 42, "password": NEW_PASSWORD},
        {"username": "eve", "password": NEW_PASSWORD, "admin": True},
        ["eve", NEW_PASSWORD],
        "eve",
        None,
    ],
)
async def test_invalid_registration_is_400(client: httpx.AsyncClient, body: Any) -> None:
    response = await client.post("/users", json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert NEW_PASSWORD not in response.text


async def test_registration_is_rate_limited_per_ip(client: httpx.AsyncClient) -> None:
    statuses = []
    for index in range(12):  # the default limit is 10 a minute
        body = {"username": f"user{index}", "password": NEW_PASSWORD}
        response = await client.post("/users", json=body)
        statuses.append(response.status_code)
    assert statuses == [201] * 10 + [429, 429]
    assert response.headers["retry-after"].isdigit()
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("settings_overrides", [{"allow_registration": False}])
async def test_registration_off_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post("/users", json={"username": "frank", "password": NEW_PASSWORD})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    schema = (await client.get("/openapi.json")).json()
    assert "/users" not in schema["paths"]
