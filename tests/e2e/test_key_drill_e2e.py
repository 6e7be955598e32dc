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
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

from jwtkeep.sdk import JwksKeySource, Verifier
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisProcess
from tests.support.refusals import refused_for
from tests.support.serve_process import (
    PASSWORD,
    PASSWORD_GRANT,
    Server,
    clean_environment,
    run_cli,
    start_server,
    stop,
    wait_until_healthy,
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
    database = postgres_server.take_empty_database()
    try:
        yield from _deploy(tmp_path_factory.mktemp("drill"), postgres_server.url(database),
                           redis_server.url.replace("/0", "/6"))  # fmt: skip
    finally:
        postgres_server.give_back(database)


def _deploy(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[Drill]:
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    shared = {
        "JWTKEEP_DATABASE_URL": database_url,
        "JWTKEEP_TOKEN_STORE_URL": redis_url,
        "JWTKEEP_MASTER_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "JWTKEEP_ISSUER": ISSUER,
        "JWTKEEP_KEY_REFRESH_SECONDS": "3600",
    }
    shared["JWTKEEP_MASTER_KEY"] = shared["JWTKEEP_MASTER_KEY"].rstrip("=")
    envs = []
    for name in ("a", "b"):
        env = clean_environment(tmp_path / name)
        env.update(shared)
        assert run_cli(env, "init").returncode == 0
        envs.append(env)
    app = run_cli(
        envs[0], "app", "create", "web", "--audience", AUDIENCE, *PASSWORD_GRANT, "--json"
    )
    assert app.returncode == 0, app.stderr
    user = run_cli(envs[0], "user", "create", "dora", "--password-stdin", stdin=PASSWORD)
    assert user.returncode == 0, user.stderr
    servers = [start_server(tmp_path / name, env) for name, env in zip("ab", envs, strict=True)]
    try:
        for server in servers:
            wait_until_healthy(server)
        client_id = json.loads(app.stdout)["client_id"]
        yield Drill(servers[0], servers[1], client_id, redis_url, envs[0])
    finally:
        for server in servers:
            stop(server.process)


def log_in(server: Server, client_id: str) -> str:
    form = {"grant_type": "password", "username": "dora", "password": PASSWORD,
            "client_id": client_id, "scope": "account"}  # fmt: skip
    with server.client() as client:
        response = client.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
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
