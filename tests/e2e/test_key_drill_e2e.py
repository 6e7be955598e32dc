"""The key-leak drill end to end: two `jwtkeep serve` replicas and an SDK verifier.

PostgreSQL + Redis, `JWTKEEP_KEY_REFRESH_SECONDS=3600` so that nothing but the drill's
kid event can make a replica drop the key. Before the drill a token signed by the key is
accepted by both replicas' account routes (their verdict caches hold it) and by an SDK
`Verifier.with_redis` (its cache too). `jwtkeep keys compromised KID` prints how many
tokens it killed; then both replicas and the SDK refuse the token, the key is gone from
both JWKS documents, a new login is signed by a new key and accepted everywhere, and the
drill is in the audit trail. The waits are bounded polls (a timeout fails the test);
how fast it happens is measured in bench/, not here.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jwtkeep.sdk import JwksKeySource, Verifier
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisProcess
from tests.support.refusals import refused_for
from tests.support.serve_process import (
    PASSWORD_GRANT,
    Server,
    create_app,
    create_user,
    new_master_key,
    password_grant,
    replica_environments,
    run_cli,
    serving,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

ISSUER = "https://auth.drill.test"
AUDIENCE = "https://api.drill"
WAIT = 10.0


@dataclass
class Drill:
    a: Server
    b: Server
    client_id: str
    redis_url: str
    env: dict[str, str]


@pytest.fixture(scope="module")
def drill(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    redis_server: RedisProcess,
) -> Iterator[Drill]:
    with postgres_server.borrow_database() as database_url:
        yield from _deploy(tmp_path_factory.mktemp("drill"), database_url,
                           redis_server.empty_database(6))  # fmt: skip


def _deploy(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[Drill]:
    shared = {
        "JWTKEEP_DATABASE_URL": database_url,
        "JWTKEEP_TOKEN_STORE_URL": redis_url,
        "JWTKEEP_MASTER_KEY": new_master_key(),
        "JWTKEEP_ISSUER": ISSUER,
        "JWTKEEP_KEY_REFRESH_SECONDS": "3600",
    }
    env_a, env_b = replica_environments(tmp_path, shared)
    client_id = create_app(env_a, "web", AUDIENCE, *PASSWORD_GRANT)["client_id"]
    create_user(env_a, "dora")
    with serving(tmp_path / "a", env_a) as a, serving(tmp_path / "b", env_b) as b:
        yield Drill(a, b, client_id, redis_url, env_a)


def log_in(server: Server, client_id: str) -> str:
    with server.client() as client:
        token: str = password_grant(client, client_id, "dora", scope="account")["access_token"]
    return token


def userinfo(server: Server, token: str) -> int:
    with server.client() as client:
        return client.get("/userinfo", headers={"Authorization": f"Bearer {token}"}).status_code


def kid_of(token: str) -> str:
    header = json.loads(base64.urlsafe_b64decode(token.split(".", 1)[0] + "=="))
    kid: str = header["kid"]
    return kid


def jwks_kids(server: Server) -> set[str]:
    with server.client() as client:
        return {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}


def until_refused(server: Server, token: str) -> None:
    deadline = time.monotonic() + WAIT
    while userinfo(server, token) != 401:
        assert time.monotonic() < deadline, "the replica still accepts the token"
        time.sleep(0.01)


async def test_the_drill_on_two_replicas_and_an_sdk_verifier(drill: Drill) -> None:
    token = log_in(drill.a, drill.client_id)
    leaked = kid_of(token)
    for server in (drill.a, drill.b):
        assert userinfo(server, token) == 200
        assert userinfo(server, token) == 200  # now from the replica's verdict cache
    context = ssl.create_default_context(cafile=str(drill.a.cert))
    http = httpx.AsyncClient(verify=context)
    keys = JwksKeySource(jwks_url=f"{drill.a.url}/.well-known/jwks.json", http_client=http)
    verifier = Verifier.with_redis(
        issuer=ISSUER, audience=AUDIENCE, redis_url=drill.redis_url, keys=keys
    )
    try:
        async with asyncio.timeout(WAIT):
            await verifier.wait_subscribed()
        await verifier.verify(token)
        assert verifier.cache is not None
        assert len(verifier.cache) == 1
        assert verifier.follower is not None
        seen = verifier.follower.events_seen

        result = await asyncio.to_thread(
            run_cli, drill.env, "keys", "compromised", leaked, "--json"
        )
        assert result.returncode == 0, result.stderr
        done = json.loads(result.stdout)
        assert done["status"] == "compromised"
        assert done["tokens_killed"] >= 1
        new_kid = done["new_kid"]
        assert new_kid
        assert new_kid != leaked

        async with asyncio.timeout(WAIT):
            while verifier.follower.events_seen == seen:
                await asyncio.sleep(0.005)
        with refused_for("unknown or withdrawn kid|not in the allowlist"):
            await verifier.verify(token)
        for server in (drill.a, drill.b):
            await asyncio.to_thread(until_refused, server, token)
            assert leaked not in jwks_kids(server)
            assert new_kid in jwks_kids(server)

        fresh = log_in(drill.b, drill.client_id)
        assert kid_of(fresh) == new_kid
        for server in (drill.a, drill.b):
            assert userinfo(server, fresh) == 200
        assert (await verifier.verify(fresh)).jti
    finally:
        await verifier.aclose()
        await http.aclose()
    audit = run_cli(drill.env, "audit", "--json")
    assert audit.returncode == 0, audit.stderr
    drills = [e for e in json.loads(audit.stdout) if e["event"] == "key.compromised"]
    assert drills
    assert drills[-1]["detail"]["kid"] == leaked
    assert drills[-1]["detail"]["tokens_killed"] == done["tokens_killed"]


def test_a_compromised_key_never_changes_status_again(drill: Drill) -> None:
    token = log_in(drill.a, drill.client_id)
    leaked = kid_of(token)
    assert run_cli(drill.env, "keys", "compromised", leaked).returncode == 0
    retire = run_cli(drill.env, "keys", "retire", leaked)
    assert retire.returncode == 1
    assert "compromised: its status never changes again" in retire.stderr
