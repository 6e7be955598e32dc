"""Client credentials, client authentication, introspection (RFC 7662) and revocation
(RFC 7009), registration rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jwtkeep.errors import Conflict, InvalidClient, InvalidRequest, InvalidToken, OAuthError
from jwtkeep.ports import App
from jwtkeep.usecases.client_credentials import client_credentials_grant
from jwtkeep.usecases.clients import authenticate_client
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.introspection import introspect
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.refresh_grant import refresh_grant
from jwtkeep.usecases.registration import AppSpec, create_app, create_user
from jwtkeep.usecases.revocation import revoke
from tests.usecases.conftest import PASSWORD, World

INFO = RequestInfo()


async def test_confidential_client_authentication(world: World) -> None:
    apps = world.ctx.apps
    assert (await authenticate_client(apps, world.service.client_id, world.service_secret)).id
    for secret in (None, "", "jkcs_wrong", world.service_secret + "x"):
        with pytest.raises(InvalidClient):
            await authenticate_client(apps, world.service.client_id, secret)


async def test_public_client_must_not_send_a_secret(world: World) -> None:
    assert await authenticate_client(world.ctx.apps, world.app.client_id, None)
    with pytest.raises(InvalidClient):
        await authenticate_client(world.ctx.apps, world.app.client_id, "anything")
    with pytest.raises(InvalidClient):
        await authenticate_client(world.ctx.apps, "no-such-client", None)


async def test_client_credentials(world: World) -> None:
    response = await client_credentials_grant(world.ctx, world.service, None, INFO)
    claims = await world.verifier.verify(response.access_token)
    assert (claims.sub, claims.aud, claims.scope) == (world.service.id, "api.svc", "jobs")
    assert response.refresh_token is None
    with pytest.raises(OAuthError) as caught:
        await client_credentials_grant(world.ctx, world.app, None, INFO)
    assert caught.value.error == "unauthorized_client"


def as_confidential(app: App) -> App:
    """The use case trusts the edge's client authentication; only the flag matters here."""
    return replace(app, confidential=True)


async def test_public_clients_may_not_introspect(world: World) -> None:
    token = (await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)).access_token
    with pytest.raises(InvalidClient):
        await introspect(world.ctx, world.verifier, world.app, token)


async def test_introspection_of_access_tokens(world: World) -> None:
    token = (await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)).access_token
    answer = await introspect(world.ctx, world.verifier, as_confidential(world.app), token)
    assert answer["active"] is True
    assert (answer["sub"], answer["aud"], answer["token_type"]) == (
        world.user.id, "api.web", "Bearer",
    )  # fmt: skip
    # Another app may not learn about tokens that are not for it (RFC 7662 §4).
    assert await introspect(world.ctx, world.verifier, world.service, token) == {"active": False}
    garbage = await introspect(world.ctx, world.verifier, as_confidential(world.app), "garbage")
    assert garbage == {"active": False}


async def test_introspection_of_refresh_tokens(world: World) -> None:
    first = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    assert first.refresh_token is not None
    web = as_confidential(world.app)
    answer = await introspect(world.ctx, world.verifier, web, first.refresh_token)
    assert (answer["active"], answer["token_type"]) == (True, "refresh_token")
    second = await refresh_grant(world.ctx, world.app, first.refresh_token, None, INFO)
    assert second.refresh_token is not None
    used = await introspect(world.ctx, world.verifier, web, first.refresh_token)
    assert used == {"active": False}
    other = await introspect(world.ctx, world.verifier, world.service, second.refresh_token)
    assert other == {"active": False}


async def test_revoking_an_access_token(world: World) -> None:
    first = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    await revoke(world.ctx, world.other_app, first.access_token, INFO)  # not theirs: no effect
    assert await world.verifier.verify(first.access_token)
    await revoke(world.ctx, world.app, first.access_token, INFO)
    with pytest.raises(InvalidToken):
        await world.verifier.verify(first.access_token)
    await revoke(world.ctx, world.app, first.access_token, INFO)  # twice: still fine
    await revoke(world.ctx, world.app, "garbage", INFO)


async def test_revoking_a_refresh_token_ends_its_session(world: World) -> None:
    first = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    assert first.refresh_token is not None
    await revoke(world.ctx, world.other_app, first.refresh_token, INFO)
    assert await world.verifier.verify(first.access_token)
    await revoke(world.ctx, world.app, first.refresh_token, INFO)
    with pytest.raises(InvalidToken):
        await world.verifier.verify(first.access_token)


@pytest.mark.parametrize(
    "spec",
    [
        AppSpec("bad name!", "aud"),
        AppSpec("ok", "has space"),
        AppSpec("ok", ""),
        AppSpec("ok", "aud", scopes=('bad"scope',)),
        AppSpec("ok", "aud", routes=("GET nowhere=scope",)),
        AppSpec("ok", "aud", extra_claims={"email": "x"}),
        AppSpec("ok", "aud", extra_claims={"sub": "x"}),
        AppSpec("ok", "aud", access_token_ttl=86400),
        AppSpec("ok", "aud", access_token_ttl=5),
    ],
)
async def test_bad_app_specs_are_refused(world: World, spec: AppSpec) -> None:
    with pytest.raises(InvalidRequest):
        await create_app(world.ctx, spec)


async def test_duplicates_conflict(world: World) -> None:
    with pytest.raises(Conflict):
        await create_app(world.ctx, AppSpec("web", "api.other"))
    with pytest.raises(Conflict):
        await create_user(world.ctx, "alice", PASSWORD)
    with pytest.raises(InvalidRequest):
        await create_user(world.ctx, "carol", "short")


async def test_per_app_token_lifetime_and_extra_claims(world: World) -> None:
    spec = AppSpec("reports", "api.reports", ("r",), access_token_ttl=60,
                   extra_claims={"tenant_id": "t-9"})  # fmt: skip
    app = (await create_app(world.ctx, spec)).app
    response = await password_grant(world.ctx, app, "alice", PASSWORD, None, INFO)
    claims = await world.verifier.verify(response.access_token)
    assert response.expires_in == 60
    assert claims.extra == {"tenant_id": "t-9"}
