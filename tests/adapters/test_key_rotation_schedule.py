"""Scheduled key rotation across a whole schedule, on two replicas sharing one database
(SQLite and real PostgreSQL), with one fixed clock stepped a few minutes at a time.

At every step both replicas run their schedule (together, so their steps race), each
issues a token, and an SDK `Verifier` whose JWKS comes from the replicas' JWKS documents
(the real `JwksKeySource` cache, `Cache-Control` as the server sends it) verifies every
token still alive. It must hold at every instant:
- no live token is ever refused;
- every token is signed by a key that both replicas had published at least one JWKS
  cache lifetime earlier (so no verifier that honours `max-age` can lack it);
- the SDK never has to reload the JWKS for an unknown `kid`;
- each rotation happens once (no double rotation), and old keys are retired.

Before issue 9 nothing rotated on a schedule, and `keys rotate` made a key that signed at
once, unknown to every cached JWKS: the SDK hit a kid miss on its first token.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from jwtkeep.adapters.sql import Database
from jwtkeep.core.clock import FixedClock
from jwtkeep.core.keyring import JWKS_MAX_AGE, KeyRing, KeyStatus
from jwtkeep.core.sealing import Sealer
from jwtkeep.ports import App
from jwtkeep.sdk import Verifier
from jwtkeep.sdk.allowlist import StoreAllowlist
from jwtkeep.sdk.jwks import JwksKeySource
from jwtkeep.server.metadata import JWKS_CACHE_CONTROL
from jwtkeep.usecases.issuance import TokenIssuer
from jwtkeep.usecases.key_manager import KeyManager
from jwtkeep.usecases.key_schedule import KeyPolicy

ISSUER = "https://auth.test"
USER = "1b0a8f9e-2c3d-4e5f-8a9b-0c1d2e3f4a5b"
PERIOD = 2 * 3600.0
STEP = 150.0  # a few minutes
PERIODS = 3
SEALER = Sealer(bytes(range(32)))
APP = App(
    id="6f1c1f4e-5d7a-4a43-9b2b-0d6c7c9d3e21", name="web", client_id="web", audience="api",
    scopes=("read",), routes=(), confidential=False, client_secret_hash=None,
    access_token_ttl=3600, refresh_enabled=False, created_at=1.0,
)  # fmt: skip


@dataclass
class Replica:
    database: Database
    keys: KeyManager


@dataclass
class CountingSource:
    """The SDK's JWKS source, counting the reloads a kid miss asks for."""

    inner: JwksKeySource
    misses: list[str] = field(default_factory=list)

    async def ring(self) -> KeyRing:
        return await self.inner.ring()

    async def ring_after_miss(self, kid: str) -> KeyRing:
        self.misses.append(kid)
        return await self.inner.ring_after_miss(kid)


@asynccontextmanager
async def two_replicas(database: Database, clock: FixedClock) -> AsyncIterator[list[Replica]]:
    policy = KeyPolicy(rotation_period=PERIOD)
    databases = [Database.connect(database.url, pool_size=2) for _ in range(2)]
    try:
        yield [Replica(db, replica_keys(db, clock, policy)) for db in databases]
    finally:
        for db in databases:
            await db.close()


def replica_keys(database: Database, clock: FixedClock, policy: KeyPolicy) -> KeyManager:
    return KeyManager(database.keys, SEALER, clock=clock, policy=policy, refresh_seconds=30,
                      audit=database.audit)  # fmt: skip


def kid_of(token: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(token.split(".", maxsplit=1)[0] + "=="))
    return str(header["kid"])


async def test_a_whole_rotation_schedule_on_two_replicas(database: Database) -> None:
    clock = FixedClock()
    async with two_replicas(database, clock) as replicas:
        first = await replicas[0].keys.ensure_signing_key()  # `jwtkeep init`
        assert first is not None
        published: dict[str, float] = {first: clock()}  # kid -> when every replica had it
        clock.advance(JWKS_MAX_AGE)  # the install, before any API has a token
        fetches: list[int] = []

        async def serve_jwks(request: httpx.Request) -> httpx.Response:
            # A load balancer: each fetch goes to the next replica, stale ring and all.
            replica = replicas[len(fetches) % len(replicas)]
            fetches.append(len(fetches))
            document = (await replica.keys.ring()).jwks()
            return httpx.Response(200, json=document, headers={"Cache-Control": JWKS_CACHE_CONTROL})

        client = httpx.AsyncClient(transport=httpx.MockTransport(serve_jwks))
        source = CountingSource(
            JwksKeySource(ISSUER, http_client=client, clock=clock, min_refresh_interval=30)
        )
        verifier = Verifier(issuer=ISSUER, audience="api", keys=source, clock=clock,
                            allowlist=StoreAllowlist(database.tokens))  # fmt: skip
        issuer = TokenIssuer(ISSUER, default_ttl=3600, max_ttl=3600)
        live: list[tuple[str, int]] = []  # (token, exp)
        signers: set[str] = set()
        start = clock()
        # Past the last retirement (activation + about an hour), before the next activation.
        while clock() < start + PERIODS * PERIOD + 4200:
            await asyncio.gather(*(replica.keys.step() for replica in replicas))
            jwks = [await replica.keys.ring() for replica in replicas]
            everywhere = set.intersection(*({k["kid"] for k in r.jwks()["keys"]} for r in jwks))
            for kid in everywhere:
                published.setdefault(kid, clock())
            for replica in replicas:
                ring = await replica.keys.ring()
                issued = issuer.issue(ring, sub=USER, app=APP, scope="read", sid="s",
                                      now=clock(), random=os.urandom)  # fmt: skip
                await database.tokens.add_access(issued.record, clock())
                kid = kid_of(issued.token)
                signers.add(kid)
                assert kid in published, f"{kid} signs unpublished at {clock() - start}"
                assert clock() - published[kid] >= JWKS_MAX_AGE, (kid, clock() - start)
                live.append((issued.token, issued.claims.exp))
            live = [(token, exp) for token, exp in live if exp > clock()]
            for token, _ in live:
                await verifier.verify(token)  # raises InvalidToken if refused
            clock.advance(STEP)
        await client.aclose()

        assert source.misses == []
        assert len(signers) == PERIODS + 1  # one rotation per period, none twice
        statuses = [k.status for k in await database.keys.list_keys()]
        assert statuses.count(KeyStatus.RETIRED) == PERIODS
        assert statuses.count(KeyStatus.ACTIVE) >= 1
        assert len(fetches) < 2 * (clock() - start) / JWKS_MAX_AGE  # cached, not per token
        events = [e.event for e in await database.audit.query(limit=1000)]
        assert events.count("key.rotated") == PERIODS + 1  # + the next key now published
        assert events.count("key.activated") == PERIODS
        assert events.count("key.retired") == PERIODS
