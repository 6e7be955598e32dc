"""An ID token is signed by the key that signed its access token.

Before: `id_token` asked for the key signing at the access token's `iat`, which is whole
seconds; in the first second of a key that activated at a fractional time that was no
key at all, and the code exchange answered 503 (seen as a flaky browser test)."""

from __future__ import annotations

import base64
import json

from jwtkeep.core.clock import system_random
from tests.usecases.conftest import World


async def test_in_a_new_keys_first_second_the_id_token_uses_the_access_tokens_key(
    world: World,
) -> None:
    world.clock.advance(0.4)  # a fractional activation time
    kid = await world.ctx.keys.rotate(at_once=True)
    world.clock.advance(0.3)  # still in the whole second before the key's activation
    ring = await world.ctx.keys.ring()
    issuer = world.ctx.issuer
    access = issuer.issue(ring, sub=world.user.id, app=world.app, scope="openid read",
                          sid="s1", now=world.clock(), random=system_random)  # fmt: skip
    assert access.record.kid == kid
    id_token = issuer.id_token(ring, access, auth_time=world.clock(), nonce=None)
    header = id_token.split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"] == kid
