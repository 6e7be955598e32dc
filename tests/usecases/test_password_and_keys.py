"""Password change ends the other sessions; key rotation and the key-leak drill."""

from __future__ import annotations

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


async def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(world: World) -> None:
    before = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    old_kid = (await world.ctx.keys.ring()).signer().kid
    new_kid = await world.ctx.keys.rotate()
    after = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    assert (await world.ctx.keys.ring()).signer().kid == new_kid != old_kid
    assert await world.verifier.verify(before.access_token)
    assert await world.verifier.verify(after.access_token)
    jwks_kids = {k["kid"] for k in (await world.ctx.keys.ring()).jwks()["keys"]}
    assert jwks_kids == {old_kid, new_kid}
    statuses = {k.kid: k.status for k in (await world.ctx.keys.ring()).keys}
    assert statuses == {old_kid: KeyStatus.RETIRING, new_kid: KeyStatus.ACTIVE}


async def test_retire(world: World) -> None:
    only = (await world.ctx.keys.ring()).signer().kid
    with pytest.raises(Conflict):
        await world.ctx.keys.retire(only)
    with pytest.raises(NotFound):
        await world.ctx.keys.retire("no-such-kid")
    token = (await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)).access_token
    await world.ctx.keys.rotate()
    await world.ctx.keys.retire(only)
    with pytest.raises(InvalidToken):
        await world.verifier.verify(token)


async def test_key_leak_drill(world: World) -> None:
    leaked = (await world.ctx.keys.ring()).signer().kid
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
    private = ring.signer().private_jwk()
    raw = world.db_path.read_bytes() + _wal(world)
    assert private["d"].encode() not in raw


def _wal(world: World) -> bytes:
    wal = world.db_path.with_name(world.db_path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""
