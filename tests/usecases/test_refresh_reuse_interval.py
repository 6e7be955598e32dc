"""The refresh grant with `JWTKEEP_REFRESH_REUSE_INTERVAL`: a browser's racing tabs.

Before: 32 parallel refreshes of one token gave one success and the 31 refused attempts
counted as theft, ending the winner's session too. With the interval, the losers get
`invalid_grant` and the session (with the winner's new tokens) lives on.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from jwtkeep.errors import InvalidGrant
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.refresh_grant import refresh_grant
from tests.usecases.conftest import PASSWORD, World

INFO = RequestInfo()


async def test_racing_tabs_keep_their_session(world: World) -> None:
    ctx = replace(world.ctx, sessions=replace(world.ctx.sessions, reuse_interval=10))
    login = await password_grant(ctx, world.app, "alice", PASSWORD, None, INFO)
    assert login.refresh_token is not None
    results = await asyncio.gather(
        *(refresh_grant(ctx, world.app, login.refresh_token, None, INFO) for _ in range(32)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, InvalidGrant)]
    assert len(winners) == 1
    assert len(losers) == 31
    assert all(loser.reason == "rotation raced" for loser in losers)
    assert (await world.verifier.verify(winners[0].access_token)).sub == world.user.id
    assert winners[0].refresh_token is not None
    again = await refresh_grant(ctx, world.app, winners[0].refresh_token, None, INFO)
    assert again.refresh_token is not None


async def test_without_the_interval_a_race_is_reuse(world: World) -> None:
    login = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    assert login.refresh_token is not None
    first = await refresh_grant(world.ctx, world.app, login.refresh_token, None, INFO)
    with pytest.raises(InvalidGrant) as refused:
        await refresh_grant(world.ctx, world.app, login.refresh_token, None, INFO)
    assert refused.value.reason == "rotation reused"
    assert first.refresh_token is not None
    with pytest.raises(InvalidGrant):
        await refresh_grant(world.ctx, world.app, first.refresh_token, None, INFO)
