"""Operator actions reach verdict caches through the store's revocation events.

`user disable` ends the user's sessions with `end_user_sessions` (a `user` event) and
`app disable` ends the app's with `end_client_sessions` (an `all` event, the schema names
no app): a verifier following the store's feed drops the cached verdict at once, so the
next check goes to the store and is refused. Real stores (SQLite, Redis); waits are
bounded conditions on the follower's state, never timing assertions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from jwtkeep.core.verdicts import VerdictCache
from jwtkeep.sdk.allowlist import StoreAllowlist
from jwtkeep.usecases.apps import disable_app
from jwtkeep.usecases.context import Operator, RequestInfo
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.subscription import RevocationFollower, stop_following
from jwtkeep.usecases.users import disable_user
from jwtkeep.usecases.verification import TokenVerifier
from tests.support.refusals import refused_for
from tests.usecases.conftest import PASSWORD, World

INFO = RequestInfo()
OPERATOR = Operator(actor="cli:test", reason="test")
WAIT = 10.0


@dataclass
class Following:
    verifier: TokenVerifier
    cache: VerdictCache
    follower: RevocationFollower


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.005)


@pytest.fixture
async def following(world: World) -> AsyncIterator[Following]:
    cache = VerdictCache(max_entries=100)
    verifier = TokenVerifier(world.ctx.keys, StoreAllowlist(world.ctx.store),
                             world.verifier.rules, clock=world.clock, cache=cache)  # fmt: skip
    feed = world.ctx.store.revocation_feed()
    follower = RevocationFollower(feed, [cache])
    task = asyncio.create_task(follower.run())
    try:
        async with asyncio.timeout(WAIT):
            await follower.connected.wait()
        yield Following(verifier, cache, follower)
    finally:
        await stop_following(task)
        await feed.aclose()


async def cached_login(world: World, following: Following) -> str:
    login = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    await following.verifier.verify(login.access_token)
    assert len(following.cache) == 1  # the next check would come from memory
    return login.access_token


async def test_disabling_a_user_drops_their_cached_verdicts(
    world: World, following: Following
) -> None:
    token = await cached_login(world, following)
    seen = following.follower.events_seen
    await disable_user(world.ctx, world.user, OPERATOR, logins=world.database.logins)
    await until(lambda: following.follower.events_seen > seen)
    assert len(following.cache) == 0
    with refused_for("not in the allowlist"):
        await following.verifier.verify(token)


async def test_disabling_an_app_drops_every_cached_verdict(
    world: World, following: Following
) -> None:
    token = await cached_login(world, following)
    seen = following.follower.events_seen
    await disable_app(world.ctx, world.app, OPERATOR)
    await until(lambda: following.follower.events_seen > seen)
    assert len(following.cache) == 0
    with refused_for("not in the allowlist"):
        await following.verifier.verify(token)
