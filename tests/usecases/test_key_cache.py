"""The key ring is cached, reloaded on a schedule, and a stale ring is reloaded once for
all the requests that notice it together (no thundering herd on the database)."""

from __future__ import annotations

import asyncio

from jwtkeep.core.clock import FixedClock
from jwtkeep.core.sealing import Sealer
from jwtkeep.ports import KeyChange, StoredKey
from jwtkeep.ports.repositories import KeyPlan
from jwtkeep.usecases.key_manager import KeyManager


class CountingKeys:
    """A key repository double (the port, not a database) that counts and slows loads."""

    def __init__(self) -> None:
        self.rows: list[StoredKey] = []
        self.loads = 0

    async def list_keys(self) -> list[StoredKey]:
        self.loads += 1
        await asyncio.sleep(0.01)
        return list(self.rows)

    async def change_keys(self, plan: KeyPlan) -> KeyChange:
        change = plan(self.rows)
        self.rows.extend(change.add)
        return change


async def test_stale_ring_is_reloaded_once_for_concurrent_requests() -> None:
    repo, clock = CountingKeys(), FixedClock()
    keys = KeyManager(repo, Sealer(bytes(32)), refresh_seconds=30, clock=clock)
    await keys.ensure_signing_key()
    loads = repo.loads
    rings = await asyncio.gather(*(keys.ring() for _ in range(50)))
    assert repo.loads == loads  # fresh: served from the cache
    clock.advance(31)
    rings = await asyncio.gather(*(keys.ring() for _ in range(50)))
    assert repo.loads == loads + 1
    assert len({id(ring) for ring in rings}) == 1
    assert rings[0].signer(clock()).kid == repo.rows[0].kid
