"""RFC 6749 §3.1 on every OAuth route: "Parameters sent without a value MUST be treated as
if they were omitted from the request", and "Request and response parameters MUST NOT be
included more than once" (an empty one included)."""

from __future__ import annotations

import httpx
import pytest

from jwtkeep.usecases.registration import CreatedApp
from tests.server.conftest import PASSWORD, USERNAME, Login

FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}


def assert_required(response: httpx.Response, name: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "invalid_request",
        "error_description": f"The {name} parameter is required.",
    }


async def test_empty_grant_type_is_missing(client: httpx.AsyncClient, web_app: CreatedApp) -> None:
    response = await client.post(
        "/oauth/token", data={"grant_type": "", "client_id": web_app.app.client_id}
    )
    assert_required(response, "grant_type")


async def test_empty_refresh_token_is_missing(
    client: httpx.AsyncClient, web_app: CreatedApp
) -> None:
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "",
            "client_id": web_app.app.client_id,
        },
    )
    assert_required(response, "refresh_token")


@pytest.mark.parametrize("path", ["/oauth/revoke", "/oauth/introspect"])
async def test_empty_token_is_missing(
    client: httpx.AsyncClient, service_app: CreatedApp, path: str
) -> None:
    assert service_app.client_secret is not None
    response = await client.post(
        path,
        data={"token": "", "token_type_hint": ""},
        auth=(service_app.app.client_id, service_app.client_secret),
    )
    assert_required(response, "token")


async def test_empty_optional_parameters_on_the_token_route_are_ignored(
    client: httpx.AsyncClient, web_app: CreatedApp, login: Login
) -> None:
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": USERNAME,
            "password": PASSWORD,
            "client_id": web_app.app.client_id,
            "client_secret": "",
            "scope": "",
            "refresh_token": "",
            "token_type_hint": "",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read write"  # no scope asked: the app's default
    refreshed = await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": response.json()["refresh_token"],
            "client_id": web_app.app.client_id,
            "scope": "",
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["scope"] == "read write"


async def test_empty_hint_on_revoke_and_introspect_is_ignored(
    client: httpx.AsyncClient, service_app: CreatedApp
) -> None:
    # A confidential app introspects and revokes its own token (audiences are unique per
    # app, so only the app a token was issued to, or for, may introspect it).
    assert service_app.client_secret is not None
    api_auth = (service_app.app.client_id, service_app.client_secret)
    issued = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=api_auth
    )
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    active = await client.post(
        "/oauth/introspect", data={"token": token, "token_type_hint": ""}, auth=api_auth
    )
    assert active.status_code == 200, active.text
    assert active.json()["active"] is True
    revoked = await client.post(
        "/oauth/revoke", data={"token": token, "token_type_hint": ""}, auth=api_auth
    )
    assert revoked.status_code == 200, revoked.text
    inactive = await client.post("/oauth/introspect", data={"token": token}, auth=api_auth)
    assert inactive.json() == {"active": False}


async def test_empty_scope_on_client_credentials_is_ignored(
    client: httpx.AsyncClient, service_app: CreatedApp
) -> None:
    assert service_app.client_secret is not None
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": ""},
        auth=(service_app.app.client_id, service_app.client_secret),
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read"


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke", "/oauth/introspect"])
async def test_a_repeated_empty_parameter_is_still_refused(
    client: httpx.AsyncClient, web_app: CreatedApp, path: str
) -> None:
    body = f"grant_type=password&token=x&client_id={web_app.app.client_id}"
    response = await client.post(
        path, content=body + "&token_type_hint=&token_type_hint=", headers=FORM_HEADERS
    )
    assert response.status_code == 400, response.text
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "The token_type_hint parameter is repeated.",
    }
