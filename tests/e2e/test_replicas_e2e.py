"""The production shape: two `jwtkeep serve` replicas sharing PostgreSQL and Redis.

DESIGN "Running it": revocation on one replica is seen by all at once. A token issued by
replica A works on replica B; after logout on B it is refused on A on the very next
request; a refresh token rotated on A and replayed on B is detected as reuse.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisProcess
from tests.support.serve_process import (
    PASSWORD_GRANT,
    Server,
    create_app,
    create_user,
    new_master_key,
    password_grant,
    replica_environments,
    serving,
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
    with postgres_server.borrow_database() as database_url:
        yield from _deploy(tmp_path_factory.mktemp("replicas"), database_url, redis_server)


def _deploy(tmp_path: Path, database_url: str, redis_server: RedisProcess) -> Iterator[Replicas]:
    shared = {
        "JWTKEEP_DATABASE_URL": database_url,
        "JWTKEEP_TOKEN_STORE_URL": redis_server.url.replace("/0", "/5"),
        "JWTKEEP_MASTER_KEY": new_master_key(),
        "JWTKEEP_ISSUER": "https://auth.replicas.test",
    }
    env_a, env_b = replica_environments(tmp_path, shared)
    client_id = create_app(env_a, "web", "https://api.web", *PASSWORD_GRANT)["client_id"]
    create_user(env_a, "ria")
    with serving(tmp_path / "a", env_a) as a, serving(tmp_path / "b", env_b) as b:
        yield Replicas(a, b, client_id)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_logout_on_one_replica_is_seen_by_the_other_at_once(replicas: Replicas) -> None:
    with replicas.a.client() as a, replicas.b.client() as b:
        tokens = password_grant(a, replicas.client_id, "ria", scope="account")
        assert b.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 200
        assert b.post("/auth/logout", headers=bearer(tokens["access_token"])).status_code == 204
        assert a.get("/userinfo", headers=bearer(tokens["access_token"])).status_code == 401


def test_refresh_reuse_across_replicas_is_detected(replicas: Replicas) -> None:
    with replicas.a.client() as a, replicas.b.client() as b:
        first = password_grant(a, replicas.client_id, "ria", scope="account")
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
