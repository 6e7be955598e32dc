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

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisProcess
from tests.support.serve_process import (
    PASSWORD,
    PASSWORD_GRANT,
    SERVICE_GRANTS,
    Server,
    clean_environment,
    cli_json,
    cli_ok,
    create_app,
    create_user,
    issuer_of,
    password_grant,
    serving,
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
        value: dict[str, Any] = cli_json(self.server.env, *args, "--json")
        return value

    def login(
        self, client: httpx.Client, password: str = PASSWORD, scope: str = "read"
    ) -> dict[str, Any]:
        """`scope="read account"` for a token the account API (`/auth/*`) accepts too."""
        return password_grant(client, self.web_client_id, "erin", scope=scope, password=password)


@pytest.fixture(scope="package")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    redis_server: RedisProcess,
) -> Iterator[Deployment]:
    redis_url = redis_server.empty_database(REDIS_DB)
    data_dir = tmp_path_factory.mktemp("deployment") / "data"
    env = clean_environment(data_dir)
    env.update(
        JWTKEEP_TOKEN_STORE_URL=redis_url,
        JWTKEEP_KEY_REFRESH_SECONDS="1",
        JWTKEEP_ADDRESS_ATTEMPTS_PER_MINUTE="10000",  # many logins here, none of them an attack
    )
    with postgres_server.borrow_database() as database_url:
        env["JWTKEEP_DATABASE_URL"] = database_url
        cli_ok(env, "init")
        web = create_app(env, "web", AUDIENCE, "--scope", "read", *PASSWORD_GRANT)
        svc = create_app(env, "svc", SVC_AUDIENCE, "--scope", "jobs", "--confidential",
                         *SERVICE_GRANTS, "--introspect-audience", AUDIENCE)  # fmt: skip
        user_id = create_user(env, "erin", PASSWORD + "\n")
        with serving(data_dir, env) as server:
            yield Deployment(
                server, database_url, redis_url, issuer_of(server), web["client_id"],
                svc["client_id"], svc["client_secret"], user_id,
            )  # fmt: skip
