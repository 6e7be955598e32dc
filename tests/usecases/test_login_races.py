"""A login racing a password change never survives it, and nothing writes an old
password's hash over a newer one (usecases/password_grant.py has the ordering argument).

The interleavings are forced, not hoped for: `PausingUsers` is the real SQL users
repository with a pause after one chosen call, so the login (or a change) stops at that
exact point while the other side runs. Real stores underneath (the token store on SQLite
and on a real Redis, `world`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from typing import TypeVar

import pytest

from jwtkeep.core.passwords import Argon2Params, PasswordHasher
from jwtkeep.errors import Conflict, InvalidGrant, InvalidToken
from jwtkeep.ports import User, UserRepository
from jwtkeep.usecases.context import AuthContext, RequestInfo
from jwtkeep.usecases.password_grant import BAD_CREDENTIALS, password_grant
from jwtkeep.usecases.sessions import change_password
from jwtkeep.usecases.token_response import TokenResponse
from tests.usecases.conftest import PASSWORD, World

INFO = RequestInfo()
NEW_PASSWORD = "a much better passphrase"
OTHER_PASSWORD = "another fine passphrase"
T = TypeVar("T")


class PausingUsers:
    """The real users repository; the next call of the armed method waits until released,
    before its real work ("get_user:before") or after it ("get_user:after")."""

    def __init__(self, inner: UserRepository) -> None:
        self._inner = inner
        self._armed: str | None = None
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    def pause_at(self, point: str) -> None:
        self._armed = point

    async def _point(self, point: str) -> None:
        if self._armed == point:
            self._armed = None
            self.reached.set()
            await self.release.wait()

    async def add_user(self, user: User) -> None:
        await self._inner.add_user(user)

    async def get_user(self, user_id: str) -> User | None:
        await self._point("get_user:before")
        user = await self._inner.get_user(user_id)
        await self._point("get_user:after")
        return user

    async def user_by_username(self, username: str) -> User | None:
        await self._point("user_by_username:before")
        user = await self._inner.user_by_username(username)
        await self._point("user_by_username:after")
        return user

    async def set_password_hash(
        self, user_id: str, password_hash: str, changed_at: float, *, expected_hash: str
    ) -> bool:
        return await self._inner.set_password_hash(
            user_id, password_hash, changed_at, expected_hash=expected_hash
        )


def pausing(ctx: AuthContext, point: str, **changes: object) -> tuple[AuthContext, PausingUsers]:
    users = PausingUsers(ctx.users)
    users.pause_at(point)
    return replace(ctx, users=users, **changes), users  # type: ignore[arg-type]


async def paused(users: PausingUsers, call: Awaitable[T]) -> asyncio.Task[T]:
    """Start `call` and return once it sits at the pause (fail if it ends before)."""
    task = asyncio.ensure_future(call)
    reached = asyncio.ensure_future(users.reached.wait())
    await asyncio.wait({task, reached}, return_when=asyncio.FIRST_COMPLETED)
    if not users.reached.is_set():
        reached.cancel()
        pytest.fail(f"never reached the pause point: {task.result()!r}")
    return task


async def log_in(world: World, password: str = PASSWORD) -> TokenResponse:
    return await password_grant(world.ctx, world.app, "alice", password, None, INFO)


async def sids(world: World) -> list[str]:
    return [s.sid for s in await world.ctx.store.list_sessions(world.user.id, world.clock())]


@pytest.mark.parametrize(
    "pause",
    [
        "user_by_username:after",  # read the old hash, session not started yet
        "get_user:before",  # session started, user not yet re-read
    ],
)
async def test_a_login_racing_a_password_change_is_refused(world: World, pause: str) -> None:
    changer = await world.verifier.verify((await log_in(world)).access_token)
    ctx, users = pausing(world.ctx, pause)
    login = await paused(users, password_grant(ctx, world.app, "alice", PASSWORD, None, INFO))

    await change_password(world.ctx, changer, PASSWORD, NEW_PASSWORD, INFO)
    users.release.set()

    with pytest.raises(InvalidGrant, match=BAD_CREDENTIALS) as refused:
        await login
    assert refused.value.reason == "password changed during login"
    assert await sids(world) == [changer.sid]  # the login's session is gone too


async def test_a_login_that_re_read_the_user_before_the_change_is_ended_by_it(
    world: World,
) -> None:
    """The other order: the re-read saw the old hash, so the change comes after it and
    its end of the other sessions takes the login's session too."""
    changer = await world.verifier.verify((await log_in(world)).access_token)
    ctx, users = pausing(world.ctx, "get_user:after")
    login = await paused(users, password_grant(ctx, world.app, "alice", PASSWORD, None, INFO))

    await change_password(world.ctx, changer, PASSWORD, NEW_PASSWORD, INFO)
    users.release.set()

    tokens = await login
    with pytest.raises(InvalidToken):
        await world.verifier.verify(tokens.access_token)
    assert await sids(world) == [changer.sid]


async def test_a_login_finished_before_the_change_is_ended_by_it(world: World) -> None:
    changer = await world.verifier.verify((await log_in(world)).access_token)
    earlier = await log_in(world)
    await change_password(world.ctx, changer, PASSWORD, NEW_PASSWORD, INFO)
    with pytest.raises(InvalidToken):
        await world.verifier.verify(earlier.access_token)
    assert await sids(world) == [changer.sid]


async def test_a_rehash_on_login_never_overwrites_a_newer_password(world: World) -> None:
    changer = await world.verifier.verify((await log_in(world)).access_token)
    # Argon2 parameters raised: this login rehashes alice's (old) hash after checking it.
    stronger = PasswordHasher(Argon2Params(2, 64, 1))
    ctx, users = pausing(world.ctx, "user_by_username:after", hasher=stronger)
    login = await paused(users, password_grant(ctx, world.app, "alice", PASSWORD, None, INFO))

    await change_password(world.ctx, changer, PASSWORD, NEW_PASSWORD, INFO)
    users.release.set()

    with pytest.raises(InvalidGrant, match=BAD_CREDENTIALS):
        await login
    stored = await world.database.users.get_user(world.user.id)
    assert stored is not None
    assert await world.ctx.check_password(stored.password_hash, NEW_PASSWORD)
    assert not await world.ctx.check_password(stored.password_hash, PASSWORD)
    with pytest.raises(InvalidGrant, match=BAD_CREDENTIALS):
        await log_in(world, PASSWORD)
    assert await log_in(world, NEW_PASSWORD)


async def test_a_concurrent_rehash_is_not_mistaken_for_a_password_change(world: World) -> None:
    stronger = PasswordHasher(Argon2Params(2, 64, 1))
    ctx, users = pausing(world.ctx, "user_by_username:after", hasher=stronger)
    first = await paused(users, password_grant(ctx, world.app, "alice", PASSWORD, None, INFO))
    # Another login with the new parameters rehashes the same password meanwhile.
    rehashing = replace(world.ctx, hasher=stronger)
    second = await password_grant(rehashing, world.app, "alice", PASSWORD, None, INFO)
    users.release.set()

    assert (await first).access_token
    stored = await world.database.users.get_user(world.user.id)
    assert stored is not None
    assert not stronger.needs_rehash(stored.password_hash)
    assert stored.password_changed_at == world.user.password_changed_at  # not a change
    assert await world.verifier.verify(second.access_token)


async def test_a_password_change_racing_another_is_refused_not_lost(world: World) -> None:
    one = await world.verifier.verify((await log_in(world)).access_token)
    two = await world.verifier.verify((await log_in(world)).access_token)
    ctx, users = pausing(world.ctx, "get_user:after")
    slow = await paused(users, change_password(ctx, one, PASSWORD, NEW_PASSWORD, INFO))

    await change_password(world.ctx, two, PASSWORD, OTHER_PASSWORD, INFO)
    users.release.set()

    with pytest.raises(Conflict, match="the password was changed at the same time"):
        await slow
    stored = await world.database.users.get_user(world.user.id)
    assert stored is not None
    assert await world.ctx.check_password(stored.password_hash, OTHER_PASSWORD)
