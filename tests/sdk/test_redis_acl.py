"""The documented Redis ACL (docs/redis-acl.conf) is enough for the SDK and no more.

A real redis-server gets the ACL user exactly as shipped; `Verifier.with_redis` then runs
under it: it verifies an allowlisted token (HGET, then the cut-offs' HMGET), follows the
revocation events (its verdict cache live) and refuses the token once the issuer (the
default user) revokes it. The same user cannot write, delete, run a script or publish.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis

from jwtkeep.adapters.redis.layout import EVENTS_CHANNEL
from jwtkeep.core.clock import FixedClock
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.ports import AccessRecord
from jwtkeep.runtime import open_token_store
from jwtkeep.sdk import JwksKeySource, Verifier
from tests.sdk.helpers import AUDIENCE, ISSUER, Minter
from tests.support.redis_server import CORRECTNESS_TIMEOUT, RedisProcess
from tests.support.refusals import refused_for

pytestmark = pytest.mark.redis

ACL_FILE = Path(__file__).parents[2] / "docs" / "redis-acl.conf"
PASSWORD = "change-me-to-a-long-random-password"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(now=float(int(time.time())))


def install_acl(server: RedisProcess) -> str:
    line = next(x for x in ACL_FILE.read_text().splitlines() if x.startswith("user "))
    name, *rules = line.split()[1:]
    with server.client() as admin:
        admin.execute_command("ACL", "SETUSER", name, "reset", *rules)
    return f"redis://{name}:{PASSWORD}@127.0.0.1:{server.port}/0"


async def test_the_sdk_works_under_the_documented_acl(
    restartable_redis: RedisProcess, key_source: JwksKeySource, clock: FixedClock, minter: Minter
) -> None:
    sdk_url = install_acl(restartable_redis)
    issuer_store = await open_token_store(restartable_redis.url, io_timeout=CORRECTNESS_TIMEOUT)
    verifier = Verifier.with_redis(
        issuer=ISSUER, audience=AUDIENCE, redis_url=sdk_url, keys=key_source, clock=clock
    )
    try:
        async with asyncio.timeout(10):
            await verifier.wait_subscribed()
        token = minter.token(allowlisted=False)
        claims = minter.issued[-1]
        record = AccessRecord(fingerprint(token), claims.sub, claims.sid, claims.jti,
                              claims.client_id, claims.exp)  # fmt: skip
        await issuer_store.add_access(record, clock())
        assert (await verifier.verify(token)).jti == claims.jti
        assert verifier.follower is not None
        seen = verifier.follower.events_seen
        await issuer_store.end_session(claims.sub, claims.sid)
        async with asyncio.timeout(10):
            while verifier.follower.events_seen == seen:
                await asyncio.sleep(0.005)
        with refused_for("not in the allowlist"):
            await verifier.verify(token)
    finally:
        await verifier.aclose()
        await issuer_store.close()


@pytest.mark.parametrize(
    "command",
    [
        ("HSET", "{x}", "a", "1"),
        ("HDEL", "{x}", "a"),
        ("DEL", "{x}"),
        ("HSET", "!cut", "*", "1"),  # the cut-off hash is read-only to it
        ("HDEL", "!cut", "*"),
        ("SET", "{x}", "1"),
        ("EVAL", "return 1", "0"),
        ("PUBLISH", EVENTS_CHANNEL.decode(), "{}"),
        ("FLUSHALL",),
        ("HGETALL", "{x}"),
        ("KEYS", "*"),
        ("CONFIG", "GET", "*"),
    ],
)
def test_the_acl_user_cannot_write_or_look_around(
    restartable_redis: RedisProcess, command: tuple[str, ...]
) -> None:
    install_acl(restartable_redis)
    client = redis.Redis(host="127.0.0.1", port=restartable_redis.port, username="jwtkeep-sdk",
                         password=PASSWORD, socket_timeout=5)  # fmt: skip
    with client, pytest.raises(redis.exceptions.NoPermissionError):
        client.execute_command(*command)  # type: ignore[no-untyped-call]
