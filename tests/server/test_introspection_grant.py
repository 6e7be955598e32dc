"""`POST /oauth/introspect` with an introspection grant (RFC 7662 §4): the API behind the
public `web` app (audience "api") introspects web's tokens with credentials of its own,
a confidential app granted the audience "api"; no other confidential app may."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from jwtkeep.runtime import Runtime
from jwtkeep.usecases.registration import AppSpec, CreatedApp, create_app
from tests.server.conftest import ISSUER, Login


@pytest.fixture
async def api_app(runtime: Runtime, web_app: CreatedApp) -> CreatedApp:
    spec = AppSpec(name="api", audience="jobs-api", confidential=True,
                   introspect_audiences=(web_app.app.audience,))  # fmt: skip
    return await create_app(runtime.context, spec)


async def _introspect(client: httpx.AsyncClient, caller: CreatedApp, token: str) -> Any:
    assert caller.client_secret is not None
    answer = await client.post(
        "/oauth/introspect", data={"token": token},
        auth=(caller.app.client_id, caller.client_secret),
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_granted_api_introspects_its_public_clients_token(
    client: httpx.AsyncClient, web_app: CreatedApp, api_app: CreatedApp, login: Login
) -> None:
    tokens = await login(scope="read")
    answer = await _introspect(client, api_app, tokens["access_token"])
    assert (answer["active"], answer["client_id"], answer["aud"], answer["scope"]) == (
        True, web_app.app.client_id, "api", "read",
    )  # fmt: skip


async def test_a_confidential_app_without_the_grant_gets_inactive(
    client: httpx.AsyncClient, api_app: CreatedApp, service_app: CreatedApp, login: Login
) -> None:
    tokens = await login(scope="read")
    assert await _introspect(client, service_app, tokens["access_token"]) == {"active": False}


async def test_the_grant_sees_account_scoped_tokens_of_its_audience_only(
    client: httpx.AsyncClient, api_app: CreatedApp, service_app: CreatedApp, login: Login
) -> None:
    # web's account-scoped token is [api, issuer]: the API's own users, so visible to it.
    web_token = await login(scope="read account")
    answer = await _introspect(client, api_app, web_token["access_token"])
    assert (answer["active"], answer["aud"]) == (True, ["api", ISSUER])
    # service's account-scoped token is [service-api, issuer]: the shared issuer audience
    # opens nothing to the API.
    theirs = await login(app=service_app, scope="read account")
    assert await _introspect(client, api_app, theirs["access_token"]) == {"active": False}


async def test_the_grant_does_not_reach_refresh_tokens(
    client: httpx.AsyncClient, api_app: CreatedApp, login: Login
) -> None:
    tokens = await login(scope="read")
    assert await _introspect(client, api_app, tokens["refresh_token"]) == {"active": False}
