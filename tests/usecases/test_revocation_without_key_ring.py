"""RFC 7009 revocation of an access token works from its fingerprint alone.

Before: `revoke` verified the token with the replica's cached key ring and no kid-miss
reload, so a token signed by a key another replica (or the CLI) had just made was
"invalid" here and the revocation was a silent no-op. Now the fingerprint in the store
is the proof, whatever the ring holds.
"""

from __future__ import annotations

from dataclasses import replace

from jwtkeep.core.sealing import Sealer
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.key_manager import KeyManager
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.revocation import revoke
from tests.support.refusals import refused_for
from tests.usecases.conftest import PASSWORD, World

INFO = RequestInfo()


async def test_a_token_signed_by_a_key_this_replica_does_not_know_yet_is_revoked(
    world: World,
) -> None:
    await world.ctx.keys.ring()  # this replica's ring is loaded (and cached for 30 s)
    other_replica = KeyManager(world.database.keys, Sealer(bytes(range(32))), clock=world.clock)
    world.clock.advance(1)  # the new key is the newest: it signs from now on
    await other_replica.rotate(at_once=True)  # another replica: a kid this ring does not know
    issuing = replace(world.ctx, keys=other_replica)
    login = await password_grant(issuing, world.app, "alice", PASSWORD, None, INFO)
    assert (await other_replica.ring()).signer(world.clock()).kid not in {
        key.kid for key in (await world.ctx.keys.ring()).keys
    }
    await revoke(world.ctx, world.app, login.access_token, INFO)  # on this replica
    with refused_for("not in the allowlist"):
        await world.verifier.verify(login.access_token)


async def test_only_the_client_it_was_issued_to_revokes_it(world: World) -> None:
    login = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    await revoke(world.ctx, world.other_app, login.access_token, INFO)
    assert (await world.verifier.verify(login.access_token)).sub == world.user.id


async def test_a_forged_token_with_a_real_fingerprint_shape_revokes_nothing(world: World) -> None:
    login = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, INFO)
    header, payload, signature = login.access_token.split(".")
    # Same claims, another token. The first character, not the last: an Ed25519
    # signature's last byte is < 32, so its tail is "AA" about once in 32 tokens.
    forged = f"{header}.{payload}.{'B' if signature[0] == 'A' else 'A'}{signature[1:]}"
    assert forged != login.access_token
    await revoke(world.ctx, world.app, forged, INFO)
    assert (await world.verifier.verify(login.access_token)).sub == world.user.id
