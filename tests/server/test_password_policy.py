"""New passwords over HTTP (NIST SP 800-63B §5.1.1.2): `POST /users` and `POST /auth/password`
refuse common or breached passwords, whitespace-only ones and the username."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.server.conftest import ACCOUNT_SCOPE, PASSWORD, USERNAME, Login, bearer

STRONG = "plum kettle orbit seventeen"
REFUSED = [
    ("password123", "too common"),
    ("Qwertyuiop", "too common"),
    (" " * 8, "only whitespace"),
]


def assert_refused(response: httpx.Response, password: str, reason: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert reason in response.json()["detail"]
    if password.strip():
        assert password not in response.text


@pytest.mark.parametrize("settings_overrides", [{"allow_registration": True}])
@pytest.mark.parametrize(
    ("username", "password", "reason"),
    [("carol", p, r) for p, r in REFUSED] + [("carol.smith", "Carol.Smith", "username")],
)
async def test_registration_refuses_weak_passwords(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any], username: str,
    password: str, reason: str,
) -> None:  # fmt: skip
    response = await client.post("/users", json={"username": username, "password": password})
    assert_refused(response, password, reason)


@pytest.mark.parametrize("settings_overrides", [{"allow_registration": True}])
async def test_registration_accepts_a_strong_passphrase(
    client: httpx.AsyncClient, settings_overrides: dict[str, Any]
) -> None:
    response = await client.post("/users", json={"username": "carol", "password": STRONG})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(("password", "reason"), [*REFUSED, (f" {USERNAME.upper()}  ", "username")])
async def test_password_change_refuses_weak_passwords(
    client: httpx.AsyncClient, login: Login, password: str, reason: str
) -> None:
    tokens = await login(scope=ACCOUNT_SCOPE)
    response = await client.post(
        "/auth/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": PASSWORD, "new_password": password},
    )
    assert_refused(response, password, reason)
    assert (await login())["access_token"]  # the old password still works


async def test_password_change_accepts_a_strong_passphrase(
    client: httpx.AsyncClient, login: Login
) -> None:
    tokens = await login(scope=ACCOUNT_SCOPE)
    response = await client.post(
        "/auth/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": PASSWORD, "new_password": STRONG},
    )
    assert response.status_code == 204, response.text
    assert (await login(password=STRONG))["access_token"]
