"""A real AuthContext for use-case tests: SQLite for users/apps/keys/audit, and the token
store on SQLite or on a real Redis (the sessions contract runs on both)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jwtkeep.adapters.sql import Database
from jwtkeep.core.claims import ClaimRules
from jwtkeep.core.clock import FixedClock
from jwtkeep.core.passwords import Argon2Params, PasswordHasher
from jwtkeep.core.sealing import Sealer
from jwtkeep.ports import App, User
from jwtkeep.runtime import open_token_store
from jwtkeep.sdk.allowlist import StoreAllowlist
from jwtkeep.usecases.context import AuthContext, SessionPolicy
from jwtkeep.usecases.issuance import TokenIssuer
from jwtkeep.usecases.key_manager import KeyManager
from jwtkeep.usecases.registration import AppSpec, create_app, create_user
from jwtkeep.usecases.verification import TokenVerifier
from tests.support.redis_server import CORRECTNESS_TIMEOUT

ISSUER = "https://auth.test"
PASSWORD = "correct horse battery staple"
IDLE = 3600
ABSOLUTE = 86400


@dataclass
class World:
    ctx: AuthContext
    verifier: TokenVerifier
    clock: FixedClock
    database: Database
    db_path: Path
    app: App
    other_app: App
    service: App
    service_secret: str
    user: User
    other_user: User


async def _build(
    store_kind: str, request: pytest.FixtureRequest, tmp_path: Path, database_url: str = ""
) -> World:
    """`database_url` empty: SQLite in `tmp_path` (the default); else that database."""
    db_path = tmp_path / "jwtkeep.db"
    database = Database.connect(database_url or f"sqlite:///{db_path}")
    await database.migrate()
    store_url = request.getfixturevalue("fresh_redis_url") if store_kind == "redis" else None
    store = await open_token_store(store_url, database=database, io_timeout=CORRECTNESS_TIMEOUT)
    clock = FixedClock(now=float(int(time.time())))
    keys = KeyManager(database.keys, Sealer(bytes(range(32))), clock=clock)
    issuer = TokenIssuer(ISSUER, default_ttl=300, max_ttl=3600)
    ctx = AuthContext(
        users=database.users, apps=database.apps, store=store, audit=database.audit, keys=keys,
        issuer=issuer, hasher=PasswordHasher(Argon2Params(1, 64, 1)),
        sessions=SessionPolicy(IDLE, ABSOLUTE), clock=clock,
    )  # fmt: skip
    await keys.ensure_signing_key()
    web = AppSpec("web", "api.web", ("read", "write"), account_access=True)
    app = (await create_app(ctx, web)).app
    other = (await create_app(ctx, AppSpec("mobile", "api.mobile", ("read",)))).app
    created = await create_app(ctx, AppSpec("svc", "api.svc", ("jobs",), confidential=True))
    assert created.client_secret is not None
    rules = ClaimRules(issuer=ISSUER, audience=None, max_lifetime=3600)
    return World(
        ctx=ctx, verifier=TokenVerifier(keys, StoreAllowlist(store), rules, clock=clock),
        clock=clock, database=database, db_path=db_path, app=app, other_app=other,
        service=created.app, service_secret=created.client_secret,
        user=await create_user(ctx, "alice", PASSWORD),
        other_user=await create_user(ctx, "bob", PASSWORD),
    )  # fmt: skip


@pytest.fixture(params=["sqlite", "redis"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    built = await _build(request.param, request, tmp_path)
    try:
        yield built
    finally:
        if built.ctx.store is not built.database.tokens:
            await built.ctx.store.close()
        await built.database.close()
