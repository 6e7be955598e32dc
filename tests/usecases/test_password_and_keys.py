"""Password change ends the other sessions; key rotation and the key-leak drill."""

from __future__ import annotations

import base64
import json

import pytest

from jwtkeep.core.keyring import KeyStatus
from jwtkeep.errors import Conflict, InvalidGrant, InvalidRequest, InvalidToken, NotFound
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.sessions import change_password
from tests.usecases.conftest import PASSWORD, World

INFO = RequestInfo()
NEW_PASSWORD = "a much better passphrase"


async def test_password_change_ends_the_other_sessions(world: World) -> None:
    here = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    elsewhere = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    claims = await world.verifier.verify(here.access_token)
    with pytest.raises(InvalidGrant):
        await change_password(world.ctx, claims, "not my password", NEW_PASSWORD, INFO)
    with pytest.raises(InvalidRequest):
        await change_password(world.ctx, claims, PASSWORD, "short", INFO)
    ended = await change_password(world.ctx, claims, PASSWORD, NEW_PASSWORD, INFO)
    assert len(ended) == 1
    assert await world.verifier.verify(here.access_token)
    with pytest.raises(InvalidToken):
        await world.verifier.verify(elsewhere.access_token)
    with pytest.raises(InvalidGrant):
        await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    assert await password_grant(world.ctx, world.app, "alice", NEW_PASSWORD, None, INFO)


async def test_rotation_publishes_the_next_key_before_it_signs(world: World) -> None:
    # Before issue 9 the new key signed at once, unknown to every cached JWKS.
    before = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    old_kid = (await world.ctx.keys.ring()).signer(world.clock()).kid
    new_kid = await world.ctx.keys.rotate()
    jwks_kids = {k["kid"] for k in (await world.ctx.keys.ring()).jwks()["keys"]}
    assert jwks_kids == {old_kid, new_kid}
    assert (await world.ctx.keys.ring()).signer(world.clock()).kid == old_kid
    assert await world.verifier.verify(before.access_token)
    world.clock.advance(world.ctx.keys.policy.publish_ahead - 1)
    last_old = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    world.clock.advance(1)
    await world.ctx.keys.step()
    after = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    assert (await world.ctx.keys.ring()).signer(world.clock()).kid == new_kid != old_kid
    assert _kid(last_old.access_token) == old_kid
    assert _kid(after.access_token) == new_kid
    assert await world.verifier.verify(last_old.access_token)
    assert await world.verifier.verify(after.access_token)
    statuses = {k.kid: k.status for k in (await world.ctx.keys.ring()).keys}
    assert statuses == {old_kid: KeyStatus.RETIRING, new_kid: KeyStatus.ACTIVE}


def _kid(token: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(token.split(".", maxsplit=1)[0] + "=="))
    return str(header["kid"])


async def test_retire(world: World) -> None:
    only = (await world.ctx.keys.ring()).signer(world.clock()).kid
    with pytest.raises(Conflict):
        await world.ctx.keys.retire(only)
    with pytest.raises(NotFound):
        await world.ctx.keys.retire("no-such-kid")
    token = (await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)).access_token
    await world.ctx.keys.rotate()
    with pytest.raises(Conflict, match="the only key that signs"):
        await world.ctx.keys.retire(only)  # the next key does not sign yet
    world.clock.advance(world.ctx.keys.policy.publish_ahead)
    await world.ctx.keys.retire(only)
    with pytest.raises(InvalidToken):
        await world.verifier.verify(token)


async def test_key_leak_drill(world: World) -> None:
    leaked = (await world.ctx.keys.ring()).signer(world.clock()).kid
    token = (await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)).access_token
    new_kid = await world.ctx.keys.compromised(leaked)
    assert new_kid is not None
    ring = await world.ctx.keys.ring()
    assert leaked not in {k["kid"] for k in ring.jwks()["keys"]}
    with pytest.raises(InvalidToken):
        await world.verifier.verify(token)
    fresh = (await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)).access_token
    assert (await world.verifier.verify(fresh)).sub == world.user.id


async def test_private_keys_are_sealed_in_the_database(world: World) -> None:
    ring = await world.ctx.keys.ring()
    private = ring.signer(world.clock()).private_jwk()
    raw = world.db_path.read_bytes() + _wal(world)
    assert private["d"].encode() not in raw


def _wal(world: World) -> bytes:
    wal = world.db_path.with_name(world.db_path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""
