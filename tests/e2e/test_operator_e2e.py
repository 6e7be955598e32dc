"""The compromised-account drill, end to end: a real `jwtkeep serve` over TLS on
PostgreSQL + Redis (a deployment of its own: the user is disabled here), the real CLI,
and two SDK verifiers, one reading the Redis allowlist and one asking the server's
introspection.

A user signed in on two apps holds two valid tokens; the operator disables the user from
the command line; at once both tokens are refused by the server (/userinfo) and by both
verifiers, the refresh token is dead, a new login gets the wrong-password answer, and the
audit trail says who did it and why.
"""

from __future__ import annotations

import getpass
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jwtkeep.sdk import IntrospectionAllowlist, JwksKeySource, Verifier
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisProcess
from tests.support.refusals import refused_for
from tests.support.serve_process import (
    PASSWORD,
    PASSWORD_GRANT,
    Server,
    clean_environment,
    cli_json,
    cli_ok,
    create_app,
    create_user,
    issuer_of,
    serving,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

AUD_A, AUD_B = "https://a.operator-e2e", "https://b.operator-e2e"
REASON = "ticket 1234: account takeover reported"
REDIS_DB = 8  # the shared deployment uses 7


@dataclass
class Deployment:
    server: Server
    redis_url: str
    issuer: str


@pytest.fixture
def deployment(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisProcess
) -> Iterator[Deployment]:
    redis_url = redis_server.empty_database(REDIS_DB)
    env = clean_environment(tmp_path / "data")
    with postgres_server.borrow_database() as database_url:
        env.update(JWTKEEP_DATABASE_URL=database_url, JWTKEEP_TOKEN_STORE_URL=redis_url)
        cli_ok(env, "init")
        with serving(tmp_path / "data", env) as server:
            yield Deployment(server, redis_url, issuer_of(server))


def password_login(client: httpx.Client, client_id: str, secret: str | None = None,
                   password: str = PASSWORD) -> httpx.Response:  # fmt: skip
    return client.post(
        "/oauth/token",
        data={"grant_type": "password", "client_id": client_id, "username": "dora",
              "password": password, "scope": "read account"},
        auth=httpx.BasicAuth(client_id, secret) if secret else httpx.USE_CLIENT_DEFAULT,
    )  # fmt: skip


async def test_disabling_a_user_from_the_cli_refuses_both_apps_tokens_at_once(
    deployment: Deployment,
) -> None:
    server = deployment.server
    web = create_app(server.env, "op-web", AUD_A, "--scope", "read", *PASSWORD_GRANT)
    api = create_app(server.env, "op-api", AUD_B, "--scope", "read", "--confidential",
                     *PASSWORD_GRANT)  # fmt: skip
    user_id = create_user(server.env, "dora", PASSWORD + "\n")
    context = ssl.create_default_context(cafile=str(server.cert))
    async with httpx.AsyncClient(verify=context) as http:
        keys = JwksKeySource(jwks_url=f"{server.url}/.well-known/jwks.json", http_client=http)
        by_redis = Verifier.with_redis(issuer=deployment.issuer, audience=AUD_A,
                                       redis_url=deployment.redis_url, keys=keys)  # fmt: skip
        by_introspection = Verifier(
            issuer=deployment.issuer, audience=AUD_B, keys=keys,
            allowlist=IntrospectionAllowlist(f"{server.url}/oauth/introspect",
                                             api["client_id"], api["client_secret"], http),
        )  # fmt: skip
        try:
            with server.client() as client:
                first = password_login(client, web["client_id"])
                second = password_login(client, api["client_id"], api["client_secret"])
                assert first.status_code == second.status_code == 200, first.text + second.text
                token_a, token_b = first.json()["access_token"], second.json()["access_token"]
                for token in (token_a, token_b):
                    bearer = {"Authorization": f"Bearer {token}"}
                    assert client.get("/userinfo", headers=bearer).status_code == 200
                assert (await by_redis.verify(token_a)).sub == user_id
                assert (await by_introspection.verify(token_b)).sub == user_id

                disabled = cli_ok(server.env, "user", "disable", "dora", "--reason", REASON)
                assert "2 session(s) ended" in disabled.stdout

                for token in (token_a, token_b):
                    bearer = {"Authorization": f"Bearer {token}"}
                    assert client.get("/userinfo", headers=bearer).status_code == 401
                with refused_for("^not in the allowlist"):
                    await by_redis.verify(token_a)
                with refused_for("^not in the allowlist"):
                    await by_introspection.verify(token_b)
                refresh = client.post("/oauth/token", data={
                    "grant_type": "refresh_token", "client_id": web["client_id"],
                    "refresh_token": first.json()["refresh_token"],
                })  # fmt: skip
                assert refresh.status_code == 400
                assert refresh.json()["error"] == "invalid_grant"
                again = password_login(client, web["client_id"])
                wrong = password_login(client, web["client_id"], password=PASSWORD + "x")
                assert (again.status_code, again.json()) == (wrong.status_code, wrong.json())
                assert again.json()["error"] == "invalid_grant"
        finally:
            await by_redis.aclose()

    (event,) = cli_json(server.env, "audit", "--user", "dora", "--event", "user.disabled",
                        "--json")  # fmt: skip
    assert event["actor"] == f"cli:{getpass.getuser()}"
    assert event["reason"] == REASON
    assert event["target"] == f"user:{user_id}"
    assert event["detail"]["sessions_ended"] == 2
