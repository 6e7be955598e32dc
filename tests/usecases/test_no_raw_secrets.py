"""DESIGN.md: raw tokens and passwords never reach a store. Scan the database file."""

from __future__ import annotations

import base64

from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.refresh_grant import refresh_grant
from jwtkeep.usecases.sessions import logout
from tests.usecases.conftest import PASSWORD, World


def forms(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), raw.hex().encode()]


async def test_no_raw_token_or_password_in_the_database(world: World) -> None:
    first = await password_grant(world.ctx, world.app, "alice", PASSWORD, None, RequestInfo())
    assert first.refresh_token is not None
    second = await refresh_grant(world.ctx, world.app, first.refresh_token, None, RequestInfo())
    assert second.refresh_token is not None
    await logout(world.ctx, await world.verifier.verify(second.access_token), RequestInfo())
    await world.database.close()  # flush everything to the files
    files = world.db_path.parent.glob(world.db_path.name + "*")
    stored = b"".join(path.read_bytes() for path in files)
    assert len(stored) > 10_000
    secrets = [first.access_token, second.access_token, first.refresh_token,
               second.refresh_token, PASSWORD, world.service_secret]  # fmt: skip
    for secret in secrets:
        for form in forms(secret):
            assert form not in stored
        # Not even the signature part of a JWT, or the random part of a refresh token.
        assert secret.split(".")[-1].encode() not in stored
