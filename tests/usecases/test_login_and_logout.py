"""The article's flow: login -> request -> logout, and what must never happen."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jwtkeep.errors import InvalidGrant, InvalidScope, InvalidToken, NotFound
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.password_grant import BAD_CREDENTIALS, password_grant
from jwtkeep.usecases.sessions import (
    end_one_session,
    list_sessions,
    logout,
    logout_all,
)
from jwtkeep.usecases.token_response import TokenResponse
from tests.usecases.conftest import PASSWORD, World

INFO = RequestInfo(ip="192.0.2.7", user_agent="pytest")


async def login(world: World, username: str = "alice", scope: str | None = None) -> TokenResponse:
    return await password_grant(world.ctx, world.app, username, PASSWORD, scope, INFO)


async def test_login_issues_a_verifiable_token_and_a_refresh_token(world: World) -> None:
    response = await login(world)
    claims = await world.verifier.verify(response.access_token)
    assert (claims.sub, claims.aud, claims.client_id) == (
        world.user.id, "api.web", world.app.client_id,
    )  # fmt: skip
    assert claims.exp - claims.iat == response.expires_in == 300
    assert response.scope == claims.scope == "read write"
    assert response.refresh_token is not None
    assert response.refresh_token.startswith(f"jkrt_{claims.sid}.")
    body = response.body()
    assert body["token_type"] == "Bearer"
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}


async def test_requested_scope_is_granted_if_allowed(world: World) -> None:
    assert (await login(world, scope="read")).scope == "read"
    with pytest.raises(InvalidScope):
        await login(world, scope="read admin")
    with pytest.raises(InvalidScope):
        await login(world, scope='read "x"')


async def test_wrong_password_and_unknown_user_look_the_same(world: World) -> None:
    with pytest.raises(InvalidGrant) as wrong:
        await password_grant(world.ctx, world.app, "alice", "wrong password!", None, INFO)
    with pytest.raises(InvalidGrant) as unknown:
        await password_grant(world.ctx, world.app, "mallory", PASSWORD, None, INFO)
    assert wrong.value.body() == unknown.value.body()
    assert wrong.value.description == BAD_CREDENTIALS
    events = await world.database.audit.query()
    failures = [e for e in events if e.event == "login.failed"]
    assert sorted(e.detail["reason"] for e in failures) == ["unknown user", "wrong password"]


async def test_overlong_username_is_just_a_failed_login(world: World) -> None:
    with pytest.raises(InvalidGrant):
        await password_grant(world.ctx, world.app, "a" * 10_000, PASSWORD, None, INFO)


async def test_app_without_refresh_gets_no_refresh_token(world: World) -> None:
    no_refresh = replace(world.app, refresh_enabled=False)
    response = await password_grant(world.ctx, no_refresh, "alice", PASSWORD, None, INFO)
    assert response.refresh_token is None
    assert "refresh_token" not in response.body()


async def test_logout_really_logs_out(world: World) -> None:
    first = await login(world)
    second = await login(world)
    claims = await world.verifier.verify(first.access_token)
    await logout(world.ctx, claims, INFO)
    with pytest.raises(InvalidToken):
        await world.verifier.verify(first.access_token)
    assert (await world.verifier.verify(second.access_token)).sub == world.user.id
    sids = [s.sid for s in await list_sessions(world.ctx, world.user.id)]
    assert claims.sid not in sids
    assert len(sids) == 1


async def test_logout_all_ends_every_session_of_the_user_only(world: World) -> None:
    mine = [await login(world) for _ in range(3)]
    theirs = await login(world, "bob")
    claims = await world.verifier.verify(mine[0].access_token)
    ended = await logout_all(world.ctx, claims.sub, logins=world.database.logins, info=INFO,
                             jti=claims.jti)  # fmt: skip
    assert len(ended) == 3
    for response in mine:
        with pytest.raises(InvalidToken):
            await world.verifier.verify(response.access_token)
    assert (await world.verifier.verify(theirs.access_token)).sub == world.other_user.id


async def test_a_user_cannot_end_another_users_session(world: World) -> None:
    theirs = await login(world, "bob")
    their_sid = (await world.verifier.verify(theirs.access_token)).sid
    with pytest.raises(NotFound):
        await end_one_session(world.ctx, their_sid, owner=world.user.id, info=INFO)
    assert (await world.verifier.verify(theirs.access_token)).sid == their_sid
    await end_one_session(world.ctx, their_sid, owner=world.other_user.id, info=INFO)
    with pytest.raises(InvalidToken):
        await world.verifier.verify(theirs.access_token)


async def test_tokens_expire_with_the_clock(world: World) -> None:
    response = await login(world)
    world.clock.advance(301 + 30)
    with pytest.raises(InvalidToken):
        await world.verifier.verify(response.access_token)


async def test_sessions_listing_has_no_token_material(world: World) -> None:
    response = await login(world)
    (session,) = await list_sessions(world.ctx, world.user.id)
    assert session.user_agent == "pytest"
    assert session.client_id == world.app.client_id
    text = repr(session)
    assert response.access_token not in text
    assert response.refresh_token is not None
    assert response.refresh_token.split(".")[1] not in text
