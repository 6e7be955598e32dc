"""The account API's audience (the issuer URL) and its scopes (`account`, `openid`):
who may get them, the default scope set, narrowing on refresh, and the registration
rules that keep an audience to one app (DESIGN.md "Contract: tokens")."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from jwtkeep.errors import Conflict, InvalidRequest, InvalidScope
from jwtkeep.usecases.client_credentials import client_credentials_grant
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.introspection import introspect
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.refresh_grant import refresh_grant
from jwtkeep.usecases.registration import AppSpec, create_app
from tests.usecases.conftest import ISSUER, PASSWORD, World

INFO = RequestInfo()


async def test_the_default_scope_set_never_holds_an_account_scope(world: World) -> None:
    response = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    claims = await world.verifier.verify(response.access_token)
    assert (response.scope, claims.aud) == ("read write", "api.web")


@pytest.mark.parametrize(
    ("scope", "granted"), [("account", "account"), ("openid read", "openid read")]
)
async def test_an_account_scope_adds_the_issuer_audience(
    world: World, scope: str, granted: str
) -> None:
    response = await password_grant(world.ctx, world.app, "alice", PASSWORD, scope, INFO)
    claims = await world.verifier.verify(response.access_token)
    assert (response.scope, claims.aud) == (granted, ("api.web", ISSUER))


@pytest.mark.parametrize("scope", ["account", "openid", "read account"])
async def test_no_account_scope_without_account_access(world: World, scope: str) -> None:
    assert world.other_app.account_access is False
    with pytest.raises(InvalidScope, match="account or openid"):
        await password_grant(world.ctx, world.other_app, "alice", PASSWORD, scope, INFO)


@pytest.mark.parametrize("scope", ["account", "openid"])
async def test_client_credentials_never_get_an_account_scope(world: World, scope: str) -> None:
    service = world.service
    with pytest.raises(InvalidScope, match="account or openid"):
        await client_credentials_grant(world.ctx, service, scope, INFO)


@pytest.mark.parametrize("scope", ["account", "openid"])
async def test_account_scopes_are_not_an_apps_own(world: World, scope: str) -> None:
    with pytest.raises(InvalidRequest, match="--no-account-access"):
        await create_app(world.ctx, AppSpec("legacy", "api.legacy", ("read", scope)))


async def test_refresh_narrowed_to_drop_account_loses_the_issuer_audience(world: World) -> None:
    first = await password_grant(world.ctx, world.app, "alice", PASSWORD, "read account", INFO)
    assert first.refresh_token is not None
    narrowed = await refresh_grant(world.ctx, world.app, first.refresh_token, "read", INFO)
    claims = await world.verifier.verify(narrowed.access_token)
    assert (narrowed.scope, claims.aud) == ("read", "api.web")
    assert narrowed.refresh_token is not None
    with pytest.raises(InvalidScope):
        await refresh_grant(world.ctx, world.app, narrowed.refresh_token, "read openid", INFO)


async def test_an_audience_belongs_to_one_app(world: World) -> None:
    with pytest.raises(Conflict, match=r"'api\.web' already belongs to app 'web'"):
        await create_app(world.ctx, AppSpec("web2", "api.web", confidential=True))


@pytest.mark.parametrize("audience", [ISSUER, ISSUER + "/"])
async def test_the_issuer_url_is_no_apps_audience(world: World, audience: str) -> None:
    with pytest.raises(InvalidRequest, match="account API"):
        await create_app(world.ctx, AppSpec("sneaky", audience, confidential=True))


async def test_introspection_sees_its_own_audience_in_an_audience_array(world: World) -> None:
    spec = AppSpec("backend", "api.backend", ("read",), confidential=True, account_access=True)
    backend = (await create_app(world.ctx, spec)).app
    mine = await password_grant(world.ctx, world.app, "alice", PASSWORD, "read account", INFO)
    # The web app's account-scoped token: [api.web, issuer]. Not the backend's business.
    assert await introspect(world.ctx, world.verifier, backend, mine.access_token) == {
        "active": False
    }
    own = await password_grant(world.ctx, backend, "alice", PASSWORD, "read account", INFO)
    answer = await introspect(world.ctx, world.verifier, backend, own.access_token)
    assert (answer["active"], answer["aud"]) == (True, ["api.backend", ISSUER])


async def test_an_app_stored_with_the_issuer_audience_learns_nothing(world: World) -> None:
    # A row from before registration refused the issuer URL as an audience.
    legacy = replace(world.service, id=str(uuid.uuid4()), name="legacy", client_id="legacy",
                     audience=ISSUER)  # fmt: skip
    await world.ctx.apps.add_app(legacy)
    token = await password_grant(world.ctx, world.app, "alice", PASSWORD, "account", INFO)
    assert await introspect(world.ctx, world.verifier, legacy, token.access_token) == {
        "active": False
    }
