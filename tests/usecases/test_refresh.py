"""Refresh rotation and reuse detection (RFC 9700 §4.14.2), scope narrowing (RFC 6749 §6)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from structlog.testing import capture_logs

from jwtkeep.errors import InvalidGrant, InvalidScope, InvalidToken, OAuthError
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.refresh_grant import refresh_grant
from jwtkeep.usecases.sessions import list_sessions
from jwtkeep.usecases.token_response import TokenResponse
from tests.usecases.conftest import ABSOLUTE, IDLE, PASSWORD, World

INFO = RequestInfo(ip="198.51.100.1", user_agent="pytest")


async def login(world: World) -> TokenResponse:
    return await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)


async def refresh(world: World, token: str | None, scope: str | None = None) -> TokenResponse:
    assert token is not None
    return await refresh_grant(world.ctx, world.app, token, scope, INFO)


async def test_refresh_rotates_and_keeps_the_session(world: World) -> None:
    first = await login(world)
    second = await refresh(world, first.refresh_token)
    assert second.refresh_token not in (None, first.refresh_token)
    old = await world.verifier.verify(first.access_token)
    new = await world.verifier.verify(second.access_token)
    assert new.sid == old.sid
    assert new.jti != old.jti
    third = await refresh(world, second.refresh_token)
    assert (await world.verifier.verify(third.access_token)).sid == old.sid


async def test_reuse_of_a_rotated_token_ends_the_whole_session(world: World) -> None:
    # The stolen-refresh-token story: the thief uses the old token after the real
    # client has refreshed. Both lose the session; the event is audited.
    first = await login(world)
    legit = await refresh(world, first.refresh_token)
    sid = (await world.verifier.verify(legit.access_token)).sid
    with capture_logs() as logs, pytest.raises(InvalidGrant):
        await refresh(world, first.refresh_token)
    # One warning for the operator, with ids only (no token material).
    assert logs == [{"event": "refresh.reuse_detected", "log_level": "warning",
                     "user_id": world.user.id, "client_id": world.app.client_id,
                     "sid": sid, "action": "session ended"}]  # fmt: skip
    with capture_logs() as replays, pytest.raises(InvalidGrant):
        await refresh(world, first.refresh_token)
    assert replays == []  # the session is gone: no second warning for a replay
    for access in (first.access_token, legit.access_token):
        with pytest.raises(InvalidToken):
            await world.verifier.verify(access)
    with pytest.raises(InvalidGrant):
        await refresh(world, legit.refresh_token)
    assert await list_sessions(world.ctx, world.user.id) == []
    events = [e.event for e in await world.database.audit.query(user_id=world.user.id)]
    assert "refresh.reuse_detected" in events


async def test_reuse_in_one_session_leaves_other_sessions_alone(world: World) -> None:
    victim, bystander = await login(world), await login(world)
    await refresh(world, victim.refresh_token)
    with pytest.raises(InvalidGrant):
        await refresh(world, victim.refresh_token)
    assert (await world.verifier.verify(bystander.access_token)).sub == world.user.id
    assert (await refresh(world, bystander.refresh_token)).refresh_token


async def test_concurrent_refreshes_never_fork_the_session(world: World) -> None:
    first = await login(world)
    results = await asyncio.gather(
        *(refresh(world, first.refresh_token) for _ in range(20)), return_exceptions=True
    )
    winners = [r for r in results if isinstance(r, TokenResponse)]
    losers = [r for r in results if not isinstance(r, TokenResponse)]
    assert len(winners) == 1
    assert all(isinstance(r, InvalidGrant) for r in losers)
    # The losers presented a used-up token: reuse, so the session is over for everyone.
    with pytest.raises(InvalidGrant):
        await refresh(world, winners[0].refresh_token)


async def test_refresh_token_is_bound_to_its_client(world: World) -> None:
    first = await login(world)
    assert first.refresh_token is not None
    with pytest.raises(InvalidGrant):
        await refresh_grant(world.ctx, world.other_app, first.refresh_token, None, INFO)
    # The failed attempt by another client did not end the session.
    assert (await refresh(world, first.refresh_token)).access_token


async def test_scope_can_narrow_but_never_widen(world: World) -> None:
    first = await login(world)
    narrowed = await refresh(world, first.refresh_token, "read")
    assert narrowed.scope == "read"
    with pytest.raises(InvalidScope):
        await refresh(world, narrowed.refresh_token, "read admin")
    # The refresh token keeps the originally granted scope (RFC 6749 §6).
    assert (await refresh(world, narrowed.refresh_token)).scope == "read write"


async def test_idle_timeout(world: World) -> None:
    first = await login(world)
    world.clock.advance(IDLE - 10)
    second = await refresh(world, first.refresh_token)
    world.clock.advance(IDLE + 1)
    with pytest.raises(InvalidGrant):
        await refresh(world, second.refresh_token)


async def test_absolute_lifetime_even_when_active(world: World) -> None:
    started = world.clock.now
    token = (await login(world)).refresh_token
    for _ in range(ABSOLUTE // (IDLE - 60) + 1):
        world.clock.advance(IDLE - 60)
        try:
            token = (await refresh(world, token)).refresh_token
        except InvalidGrant:
            assert world.clock.now - started >= ABSOLUTE  # ended by the absolute bound
            break
    else:
        pytest.fail("session outlived its absolute lifetime")


@pytest.mark.parametrize(
    "garbage",
    ["", "jkrt_", "jkrt_x.y", "not-a-token", "jkrt_" + "A" * 22 + "." + "B" * 43, "é" * 50],
)
async def test_garbage_refresh_tokens_are_invalid_grant(world: World, garbage: str) -> None:
    with pytest.raises(InvalidGrant):
        await refresh_grant(world.ctx, world.app, garbage, None, INFO)


async def test_forged_refresh_token_for_a_real_session_is_not_reuse(world: World) -> None:
    # Knowing a sid (it is in every access token) must not let anyone end the session.
    first = await login(world)
    sid = (await world.verifier.verify(first.access_token)).sid
    forged = f"jkrt_{sid}.{'A' * 43}"
    with pytest.raises(InvalidGrant):
        await refresh(world, forged)
    assert (await world.verifier.verify(first.access_token)).sid == sid


async def test_refresh_disabled_for_the_app(world: World) -> None:
    first = await login(world)
    assert first.refresh_token is not None
    with pytest.raises(OAuthError) as caught:
        await refresh_grant(
            world.ctx, replace(world.app, refresh_enabled=False), first.refresh_token, None, INFO
        )
    assert caught.value.error == "unauthorized_client"


async def test_each_rotation_outcome_is_audited_once_with_the_same_fields(world: World) -> None:
    """On SQLite the event is written in the rotation's own transaction, on Redis after
    it (`TokenStore.keeps_audit`); the trail reads the same either way."""
    assert world.ctx.store.keeps_audit(world.ctx.audit) is (
        world.ctx.store is world.database.tokens
    )
    first = await login(world)
    second = await world.verifier.verify((await refresh(world, first.refresh_token)).access_token)
    with pytest.raises(InvalidGrant):
        await refresh(world, first.refresh_token)
    trail = await world.database.audit.query(events=("refresh.",))
    assert [e.event for e in trail] == ["refresh.reuse_detected", "refresh.rotated"]
    reused, rotated = trail
    for event in trail:
        who = (event.user_id, event.client_id, event.sid, event.ip)
        assert who == (world.user.id, world.app.client_id, second.sid, INFO.ip)
    assert rotated.jti == second.jti
    assert rotated.detail == {}
    assert reused.jti is None
    assert reused.detail == {"action": "session ended"}
