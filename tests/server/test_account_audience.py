"""The account API (`/userinfo`, `/auth/*`) is a resource of its own (DESIGN.md "Contract:
tokens"): its audience is the issuer URL, and a token carries it only with the `account`
scope (or `openid`, for `/userinfo` alone) asked for explicitly by an app allowed account
access. A token for an app's own API, or a client_credentials token, is refused there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from jwtkeep.runtime import Runtime
from jwtkeep.usecases.registration import AppSpec, CreatedApp, create_app
from tests.server.conftest import (
    ISSUER,
    PASSWORD,
    PASSWORD_GRANTS,
    SERVICE_GRANTS,
    Login,
    basic,
    bearer,
)


@dataclass(frozen=True)
class AccountRoute:
    method: str
    path: str  # `{sid}` is filled with the token's own session
    ok_status: int
    body: dict[str, Any] | None = None

    async def call(self, client: httpx.AsyncClient, token: str, sid: str) -> httpx.Response:
        return await client.request(
            self.method, self.path.format(sid=sid), headers=bearer(token), json=self.body
        )


USERINFO = AccountRoute("GET", "/userinfo", 200)
AUTH_ROUTES = [
    AccountRoute("POST", "/auth/logout", 204),
    AccountRoute("POST", "/auth/logout-all", 204),
    AccountRoute("GET", "/auth/sessions", 200),
    AccountRoute("DELETE", "/auth/sessions/{sid}", 204),
    AccountRoute(
        "POST", "/auth/password", 204,
        {"current_password": PASSWORD, "new_password": "an even better passphrase"},
    ),
]  # fmt: skip
EVERY_ROUTE = [USERINFO, *AUTH_ROUTES]


def _ids(route: AccountRoute) -> str:
    return f"{route.method} {route.path}"


async def _sid(runtime: Runtime, token: str) -> str:
    return (await runtime.verifier.verify(token)).sid


def assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"


@pytest.mark.parametrize("route", EVERY_ROUTE, ids=_ids)
async def test_a_token_for_the_apps_own_api_is_refused_on_every_account_route(
    client: httpx.AsyncClient, runtime: Runtime, login: Login, route: AccountRoute
) -> None:
    tokens = await login(scope="read write")
    assert (await runtime.verifier.verify(tokens["access_token"])).aud == "api"
    response = await route.call(
        client, tokens["access_token"], await _sid(runtime, tokens["access_token"])
    )
    assert_invalid_token(response)


@pytest.mark.parametrize("route", EVERY_ROUTE, ids=_ids)
async def test_an_account_scoped_token_is_accepted_on_every_account_route(
    client: httpx.AsyncClient, runtime: Runtime, login: Login, route: AccountRoute
) -> None:
    tokens = await login(scope="read account")
    assert tokens["scope"] == "account read"
    claims = await runtime.verifier.verify(tokens["access_token"])
    # RFC 7519 §4.1.3: the app's audience and the account API's, the issuer URL.
    assert claims.aud == ("api", ISSUER)
    response = await route.call(client, tokens["access_token"], claims.sid)
    assert response.status_code == route.ok_status, response.text


async def test_openid_opens_userinfo_alone(
    client: httpx.AsyncClient, runtime: Runtime, login: Login
) -> None:
    tokens = await login(scope="openid")
    token = tokens["access_token"]
    assert (await runtime.verifier.verify(token)).aud == ("api", ISSUER)
    assert (await USERINFO.call(client, token, "")).status_code == 200
    for route in AUTH_ROUTES:
        response = await route.call(client, token, await _sid(runtime, token))
        assert response.status_code == 403, route
        # RFC 6750 §3.1: insufficient_scope, the challenge naming the scope needed.
        challenge = response.headers["www-authenticate"]
        assert 'error="insufficient_scope"' in challenge
        assert 'scope="account"' in challenge
        assert response.json()["error"] == "insufficient_scope"
    assert (await USERINFO.call(client, token, "")).status_code == 200  # nothing was ended


async def _client_credentials(
    client: httpx.AsyncClient, app: CreatedApp, scope: str | None = None
) -> httpx.Response:
    assert app.client_secret is not None
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    return await client.post(
        "/oauth/token", data=form, headers=basic(app.app.client_id, app.client_secret)
    )


@pytest.mark.parametrize("route", EVERY_ROUTE, ids=_ids)
async def test_a_client_credentials_token_is_refused_on_every_account_route(
    client: httpx.AsyncClient, runtime: Runtime, service_app: CreatedApp, route: AccountRoute
) -> None:
    issued = await _client_credentials(client, service_app)
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    assert_invalid_token(await route.call(client, token, await _sid(runtime, token)))
    # ...and it still works where it belongs: logout-all did not revoke it.
    answer = await client.post(
        "/oauth/introspect", data={"token": token},
        auth=(service_app.app.client_id, service_app.client_secret or ""),
    )  # fmt: skip
    assert answer.json()["active"] is True


@pytest.mark.parametrize("scope", ["account", "openid", "read account"])
async def test_client_credentials_never_get_an_account_scope(
    client: httpx.AsyncClient, service_app: CreatedApp, scope: str
) -> None:
    refused = await _client_credentials(client, service_app, scope)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("scope", ["account", "openid", "read account"])
async def test_an_app_without_account_access_cannot_get_an_account_scope(
    client: httpx.AsyncClient, runtime: Runtime, login: Login, scope: str
) -> None:
    spec = AppSpec(name="kiosk", audience="kiosk-api", scopes=("read",), grants=PASSWORD_GRANTS)
    kiosk = await create_app(runtime.context, spec)
    assert kiosk.app.account_access is False
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "password", "username": "alice", "password": PASSWORD,
              "client_id": kiosk.app.client_id, "scope": scope},
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


async def test_the_default_scope_set_has_no_account_scope(
    client: httpx.AsyncClient, runtime: Runtime, login: Login
) -> None:
    tokens = await login()
    assert tokens["scope"] == "read write"
    assert (await runtime.verifier.verify(tokens["access_token"])).aud == "api"
    assert_invalid_token(await USERINFO.call(client, tokens["access_token"], ""))


async def test_refresh_narrowed_to_drop_account_loses_the_issuer_audience(
    client: httpx.AsyncClient, runtime: Runtime, web_app: CreatedApp, login: Login
) -> None:
    tokens = await login(scope="read account")
    narrowed = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
              "client_id": web_app.app.client_id, "scope": "read"},
    )  # fmt: skip
    assert narrowed.status_code == 200, narrowed.text
    body = narrowed.json()
    assert body["scope"] == "read"
    assert (await runtime.verifier.verify(body["access_token"])).aud == "api"
    assert_invalid_token(await USERINFO.call(client, body["access_token"], ""))
    # The account-scoped token of the same session is still the one for the account API.
    assert (await USERINFO.call(client, tokens["access_token"], "")).status_code == 200

    # Never wider than the login's grant (RFC 6749 §6), "account" included...
    wider = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
              "client_id": web_app.app.client_id, "scope": "account openid"},
    )  # fmt: skip
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"


async def test_refresh_cannot_add_account_to_a_login_without_it(
    client: httpx.AsyncClient, web_app: CreatedApp, login: Login
) -> None:
    tokens = await login(scope="read write")
    widened = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
              "client_id": web_app.app.client_id, "scope": "read account"},
    )  # fmt: skip
    assert widened.status_code == 400
    assert widened.json()["error"] == "invalid_scope"


async def test_another_app_cannot_introspect_a_token_only_its_own(
    client: httpx.AsyncClient, runtime: Runtime, service_app: CreatedApp, login: Login
) -> None:
    spec = AppSpec(name="b", audience="b-api", confidential=True, grants=SERVICE_GRANTS)
    other = await create_app(runtime.context, spec)
    assert other.client_secret is not None
    assert service_app.client_secret is not None
    # An account-scoped token has two audiences; the issuer's is nobody's app audience.
    theirs = await login(app=service_app, scope="read account")
    mine = await login(app=other)

    async def introspect(token: str) -> dict[str, Any]:
        auth = (other.app.client_id, other.client_secret or "")
        answer = await client.post("/oauth/introspect", data={"token": token}, auth=auth)
        assert answer.status_code == 200
        body: dict[str, Any] = answer.json()
        return body

    assert await introspect(theirs["access_token"]) == {"active": False}
    own = await introspect(mine["access_token"])
    assert (own["active"], own["client_id"], own["aud"]) == (True, other.app.client_id, "b-api")
