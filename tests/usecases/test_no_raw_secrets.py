"""DESIGN "Contract: the token store": raw tokens, passwords and client secrets never reach a
store. Drive the real use cases (app with a secret, login, refresh, client credentials,
password change, revocation, logout) into every real backend, then read back everything
each one holds (tests/support/at_rest.py) and look for the secrets in every encoding.

Each world is a database (SQLite file or PostgreSQL) plus a token store (that database,
or Redis). A planted value (a User-Agent, which sessions store as given) and the stored
fingerprints prove the scanner sees what the use cases wrote, so the check can fail.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.usecases.client_credentials import client_credentials_grant
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.refresh_grant import refresh_grant
from jwtkeep.usecases.revocation import revoke
from jwtkeep.usecases.sessions import change_password, logout
from tests.support.at_rest import postgres_dump, redis_dump, sqlite_dump, stored_forms
from tests.usecases.conftest import PASSWORD, World, _build

NEW_PASSWORD = "a brand new passphrase for alice"
WORLDS = [
    pytest.param(("sqlite", "sqlite"), id="sqlite"),
    pytest.param(("sqlite", "redis"), id="sqlite+redis", marks=pytest.mark.redis),
    pytest.param(("postgres", "postgres"), id="postgres", marks=pytest.mark.postgres),
    pytest.param(("postgres", "redis"), id="postgres+redis",
                 marks=[pytest.mark.postgres, pytest.mark.redis]),
]  # fmt: skip


@dataclass
class Stores:
    world: World
    database: str  # "sqlite" or "postgres"
    store: str  # "sqlite", "postgres" or "redis"
    request: pytest.FixtureRequest
    database_url: str

    async def dumps(self) -> dict[str, bytes]:
        """Everything every backend of this world holds, by backend."""
        found: dict[str, bytes] = {}
        if self.database == "sqlite":
            found["sqlite"] = sqlite_dump(self.world.db_path)
        else:
            found["postgres"] = await postgres_dump(self.database_url)
        if self.store == "redis":
            redis_url: str = self.request.getfixturevalue("fresh_redis_url")
            contents = redis_dump([redis_url])
            found["redis"] = b"\n".join([*contents, *(v for vs in contents.values() for v in vs)])
        return found


@pytest.fixture(params=WORLDS)
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    database, store = request.param
    url = request.getfixturevalue("fresh_postgres_url") if database == "postgres" else ""
    world = await _build("redis" if store == "redis" else "sql", request, tmp_path, url)
    try:
        yield Stores(world, database, store, request, url)
    finally:
        if world.ctx.store is not world.database.tokens:
            await world.ctx.store.close()
        await world.database.close()


async def test_no_raw_secret_in_any_store(stores: Stores) -> None:
    world = stores.world
    planted = "planted-" + secrets.token_urlsafe(24)
    info = RequestInfo(ip="192.0.2.7", user_agent=planted)
    first = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, info)
    assert first.refresh_token is not None
    second = await refresh_grant(world.ctx, world.app, first.refresh_token, None, info)
    assert second.refresh_token is not None
    other = await password_grant(world.ctx, world.app, "bob", PASSWORD, None, info)
    assert other.refresh_token is not None
    service = await client_credentials_grant(world.ctx, world.service, None, info)
    claims = await world.verifier.verify(second.access_token)
    live = [second.access_token, second.refresh_token, other.access_token,
            other.refresh_token, service.access_token]  # fmt: skip
    issued = {
        "first access token": first.access_token, "first refresh token": first.refresh_token,
        "second access token": second.access_token,
        "second refresh token": second.refresh_token,
        "bob's access token": other.access_token, "bob's refresh token": other.refresh_token,
        "client-credentials access token": service.access_token,
        "client secret": world.service_secret, "password": PASSWORD,
    }  # fmt: skip

    during = await stores.dumps()
    for backend, dump in during.items():
        assert stored_forms(dump, issued) == [], f"in {backend}"
    # The scanner sees what the use cases wrote: the planted User-Agent the session keeps
    # as given, and each live token's fingerprint (raw, or hex in PostgreSQL's bytea text),
    # in the backend that holds sessions (so the assertions above can fail).
    holder = "redis" if stores.store == "redis" else stores.database
    sessions = during[holder]
    assert stored_forms(sessions, {"planted": planted}) == ["planted (raw)"]
    for token in live:
        stored = fingerprint(token)
        assert sessions.find(stored) >= 0 or stored.hex().encode() in sessions

    await change_password(world.ctx, claims, PASSWORD, NEW_PASSWORD, info)
    await revoke(world.ctx, world.app, second.refresh_token, info)
    await revoke(world.ctx, world.service, service.access_token, info)
    third = await password_grant(world.ctx, world.app, "alice", NEW_PASSWORD, None, info)
    await logout(world.ctx, await world.verifier.verify(third.access_token), info)
    assert third.refresh_token is not None
    issued |= {"new password": NEW_PASSWORD, "third access token": third.access_token,
               "third refresh token": third.refresh_token}  # fmt: skip
    if stores.database == "sqlite":
        await world.database.close()  # flush everything to the files
    after = await stores.dumps()
    for backend, dump in after.items():
        assert stored_forms(dump, issued) == [], f"in {backend}"
    # Bob's session is still live, so its planted User-Agent is still there to be found.
    assert stored_forms(after[holder], {"planted": planted}) == ["planted (raw)"]
