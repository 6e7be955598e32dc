"""Key lifecycle steps are atomic (CONVENTIONS "State"): concurrent `keys retire`,
`rotate` and `compromised`, each on its own connection like separate CLI runs or
replicas, never leave the ring without an active key, on SQLite and on real PostgreSQL.

Before the fix every step read the ring, decided, then wrote: two retires of the two
active keys both saw "another active key remains" and together left none (and the token
endpoint answered 500)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from itertools import cycle

import pytest

from jwtkeep.adapters.sql import Database
from jwtkeep.core.keyring import KeyStatus
from jwtkeep.core.sealing import Sealer
from jwtkeep.errors import Conflict
from jwtkeep.ports import App, KeyChange
from jwtkeep.usecases.issuance import TokenIssuer
from jwtkeep.usecases.key_manager import ONLY_ACTIVE_KEY, KeyManager

REPLICAS = 8
SEALER = Sealer(bytes(range(32)))
APP = App(
    id="6f1c1f4e-5d7a-4a43-9b2b-0d6c7c9d3e21", name="web", client_id="web", audience="api",
    scopes=("read",), routes=(), confidential=False, client_secret_hash=None,
    access_token_ttl=300, refresh_enabled=False, created_at=1.0,
)  # fmt: skip

Step = Callable[[KeyManager], Awaitable[object]]


@asynccontextmanager
async def replicas(database: Database) -> AsyncIterator[list[KeyManager]]:
    """One KeyManager per replica, each with its own engine and connections."""
    databases = [Database.connect(database.url, pool_size=2) for _ in range(REPLICAS)]
    try:
        yield [KeyManager(db.keys, SEALER) for db in databases]
    finally:
        for db in databases:
            await db.close()


async def two_active_keys(database: Database) -> tuple[str, str]:
    """The state two concurrent rotations can leave: two active keys."""
    keys = KeyManager(database.keys, SEALER)
    first = await keys.ensure_signing_key()
    assert first is not None
    second = await keys.rotate(at_once=True)
    await database.keys.change_keys(lambda _: KeyChange(statuses={first: KeyStatus.ACTIVE}))
    return first, second


async def statuses(database: Database) -> dict[str, str]:
    return {key.kid: key.status for key in await database.keys.list_keys()}


async def a_token_can_be_issued(database: Database) -> None:
    ring = await KeyManager(database.keys, SEALER).ring()  # a replica starting now
    issuer = TokenIssuer("https://auth.test", default_ttl=300, max_ttl=3600)
    issued = issuer.issue(ring, sub="u", app=APP, scope="read", sid="s", now=1.8e9,
                          random=os.urandom)  # fmt: skip
    assert issued.token.count(".") == 2


def retiring(kid: str) -> Step:
    return lambda manager: manager.retire(kid)


async def run_together(managers: list[KeyManager], steps: list[Step]) -> list[object]:
    return await asyncio.gather(
        *(step(manager) for manager, step in zip(managers, steps, strict=True)),
        return_exceptions=True,
    )


async def test_concurrent_retires_of_the_two_active_keys_leave_one(database: Database) -> None:
    pair = await two_active_keys(database)
    kids = [kid for kid, _ in zip(cycle(pair), range(REPLICAS), strict=False)]
    async with replicas(database) as managers:
        results = await run_together(managers, [retiring(kid) for kid in kids])
    for result in results:
        if isinstance(result, BaseException):
            assert isinstance(result, Conflict), repr(result)
            assert str(result) == ONLY_ACTIVE_KEY
        else:
            assert result is None
    final = await statuses(database)
    assert sorted(final.values()) == ["active", "retired"]
    assert any(result is None for result in results)
    await a_token_can_be_issued(database)


async def test_concurrent_lifecycle_steps_keep_a_signer_and_compromised_is_final(
    database: Database,
) -> None:
    first, second = await two_active_keys(database)
    steps: list[Step] = [
        lambda m: m.retire(first),
        lambda m: m.compromised(second),
        lambda m: m.retire(second),
        lambda m: m.compromised(first),
        lambda m: m.rotate(),
        lambda m: m.retire(first),
        lambda m: m.retire(second),
        lambda m: m.compromised(second),
    ]
    async with replicas(database) as managers:
        results = await run_together(managers, steps)
    for result in results:
        if isinstance(result, BaseException):
            assert isinstance(result, Conflict), repr(result)
            assert str(result) in {
                ONLY_ACTIVE_KEY,
                f"key {first} is compromised: its status never changes again",
                f"key {second} is compromised: its status never changes again",
            }
    final = await statuses(database)
    # Both drills ran (a drill never fails), and nothing moved a key out of compromised.
    assert final[first] == final[second] == "compromised"
    assert "active" in final.values()
    await a_token_can_be_issued(database)


@pytest.mark.parametrize("step", ["retire", "compromised"])
async def test_a_compromised_key_never_changes_status(database: Database, step: str) -> None:
    first, _ = await two_active_keys(database)
    keys = KeyManager(database.keys, SEALER)
    await keys.compromised(first)
    if step == "retire":
        with pytest.raises(Conflict, match="compromised: its status never changes again"):
            await keys.retire(first)
    else:
        assert await keys.compromised(first) is None
    assert (await statuses(database))[first] == "compromised"
