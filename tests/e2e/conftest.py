"""`deployment` (package scope): the production shape, once, for the tests that need it.

A real `jwtkeep serve` over TLS on a real PostgreSQL (users, apps, keys, audit) and a real
Redis (the token store, database 7 of the session's redis-server), set up with the real
CLI: `init`, a public app `web` (audience AUDIENCE, the API its users call), a confidential
app `svc` (the API's own credentials: audience SVC_AUDIENCE, granted
`--introspect-audience AUDIENCE`, so it may introspect `web`'s tokens, RFC 7662 §4), and
a user `erin`. The key ring is reloaded every
second (JWTKEEP_KEY_REFRESH_SECONDS) so a `jwtkeep keys rotate` reaches the server soon.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis

from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisProcess
from tests.support.serve_process import (
    PASSWORD,
    PASSWORD_GRANT,
    SERVICE_GRANTS,
    Server,
    clean_environment,
    run_cli,
    start_server,
    stop,
    wait_until_healthy,
)

AUDIENCE = "https://api.e2e"
SVC_AUDIENCE = "https://jobs.e2e"
REDIS_DB = 7


@dataclass
class Deployment:
    server: Server
    database_url: str
    redis_url: str
    issuer: str
    web_client_id: str
    svc_client_id: str
    svc_client_secret: str
    user_id: str

    def cli(self, *args: str) -> dict[str, Any]:
        result = run_cli(self.server.env, *args, "--json")
        assert result.returncode == 0, result.stderr
        value: dict[str, Any] = json.loads(result.stdout)
        return value

    def login(
        self, client: httpx.Client, password: str = PASSWORD, scope: str = "read"
    ) -> dict[str, Any]:
        """`scope="read account"` for a token the account API (`/auth/*`) accepts too."""
        response = client.post("/oauth/token", data={
            "grant_type": "password", "client_id": self.web_client_id, "username": "erin",
            "password": password, "scope": scope,
        })  # fmt: skip
        assert response.status_code == 200, response.text
        tokens: dict[str, Any] = response.json()
        return tokens


@pytest.fixture(scope="package")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    redis_server: RedisProcess,
) -> Iterator[Deployment]:
    database = postgres_server.take_empty_database()
    redis_url = redis_server.url.replace("/0", f"/{REDIS_DB}")
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    data_dir = tmp_path_factory.mktemp("deployment") / "data"
    env = clean_environment(data_dir)
    env.update(
        JWTKEEP_DATABASE_URL=postgres_server.url(database),
        JWTKEEP_TOKEN_STORE_URL=redis_url,
        JWTKEEP_KEY_REFRESH_SECONDS="1",
        JWTKEEP_ADDRESS_ATTEMPTS_PER_MINUTE="10000",  # many logins here, none of them an attack
    )
    try:
        assert run_cli(env, "init").returncode == 0
        web = _json(run_cli(env, "app", "create", "web", "--audience", AUDIENCE,
                            "--scope", "read", *PASSWORD_GRANT, "--json"))  # fmt: skip
        svc = _json(run_cli(env, "app", "create", "svc", "--audience", SVC_AUDIENCE,
                            "--scope", "jobs", "--confidential", *SERVICE_GRANTS,
                            "--introspect-audience", AUDIENCE, "--json"))  # fmt: skip
        user = _json(run_cli(env, "user", "create", "erin", "--password-stdin", "--json",
                             stdin=PASSWORD + "\n"))  # fmt: skip
        server = start_server(data_dir, env)
        try:
            wait_until_healthy(server)
            with server.client() as client:
                issuer = client.get("/.well-known/oauth-authorization-server").json()["issuer"]
            yield Deployment(
                server, postgres_server.url(database), redis_url, issuer, web["client_id"],
                svc["client_id"], svc["client_secret"], user["id"],
            )  # fmt: skip
        finally:
            stop(server.process)
    finally:
        postgres_server.give_back(database)


def _json(result: Any) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    value: dict[str, Any] = json.loads(result.stdout)
    return value
