"""The production shape: two `jwtkeep serve` replicas sharing PostgreSQL and Redis.

DESIGN "Running it": revocation on one replica is seen by all at once. A token issued by
replica A works on replica B; after logout on B it is refused on A on the very next
request; a refresh token rotated on A and replayed on B is detected as reuse.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisProcess
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


@dataclass
class Replicas:
    a: Server
    b: Server
    client_id: str


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    redis_server: RedisProcess,
) -> Iterator[Replicas]:
    database = postgres_server.take_empty_database()
    try:
        yield from _deploy(tmp_path_factory.mktemp("replicas"), postgres_server.url(database),
                           redis_server)  # fmt: skip
    finally:
        postgres_server.give_back(database)


def _deploy(tmp_path: Path, database_url: str, redis_server: RedisProcess) -> Iterator[Replicas]:
    master_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    shared = {
        "JWTKEEP_DATABASE_URL": database_url,
        "JWTKEEP_TOKEN_STORE_URL": redis_server.url.replace("/0", "/5"),
        "JWTKEEP_MASTER_KEY": master_key,
        "JWTKEEP_ISSUER": "https://auth.replicas.test",
    }
    envs = []
    for name in ("a", "b"):
        env = clean_environment(tmp_path / name)
        env.update(shared)
        init = run_cli(env, "init")
        assert init.returncode == 0, init.stderr
        envs.append(env)
    app = run_cli(
        envs[0], "app", "create", "web", "--audience", "https://api.web", *PASSWORD_GRANT, "--json"
    )
    assert app.returncode == 0, app.stderr
    user = run_cli(envs[0], "user", "create", "ria", "--password-stdin", stdin=PASSWORD)
    assert user.returncode == 0, user.stderr
    servers = [start_server(tmp_path / name, env) for name, env in zip("ab", envs, strict=True)]
    try:
        for server in servers:
            wait_until_healthy(server)
        yield Replicas(servers[0], servers[1], json.loads(app.stdout)["client_id"])
    finally:
        for server in servers:
            stop(server.process)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_logout_on_one_replica_is_seen_by_the_other_at_once(replicas: Replicas) -> None:
    with replicas.a.client() as a, replicas.b.client() as b:
        login = a.post("/oauth/token", data={"grant_type": "password", "username": "ria",
                                             "client_id": replicas.client_id,
                                             "password": PASSWORD,
                                             "scope": "account"})  # fmt: skip
        assert login.status_code == 200, login.text
        tokens = login.json()
        assert b.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
        assert b.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
        assert a.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_refresh_reuse_across_replicas_is_detected(replicas: Replicas) -> None:
    form = {"grant_type": "password", "username": "ria", "client_id": replicas.client_id,
            "password": PASSWORD, "scope": "account"}  # fmt: skip
    with replicas.a.client() as a, replicas.b.client() as b:
        first = a.post("/oauth/token", data=form).json()
        refresh = {"grant_type": "refresh_token", "client_id": replicas.client_id}
        rotated = a.post("/oauth/token", data={**refresh, "refresh_token": first["refresh_token"]})
        assert rotated.status_code == 200
        replay = b.post("/oauth/token", data={**refresh, "refresh_token": first["refresh_token"]})
        assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
        latest = rotated.json()["access_token"]
        assert a.get("/userinfo", headers=bearer(latest)).status_code == 401


def test_both_replicas_publish_the_same_keys(replicas: Replicas) -> None:
    jwks: list[dict[str, object]] = []
    for server in (replicas.a, replicas.b):
        with server.client() as client:
            response = client.get("/.well-known/jwks.json")
            assert response.status_code == 200
            jwks.append(response.json())
    assert jwks[0] == jwks[1]
    assert len(jwks[0]["keys"]) == 1  # type: ignore[arg-type]
