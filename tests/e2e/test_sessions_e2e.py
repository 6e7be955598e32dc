"""Sessions against a real `jwtkeep serve` over TLS, on SQLite and on a real Redis.

RFC 9700 §4.14.2 in practice: many refreshes racing on one token over real parallel
HTTP connections never fork the session and never produce a 5xx; a stolen refresh token
used after the real client has refreshed ends the session for both, and is audited.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.redis_server import RedisProcess
from tests.support.serve_process import (
    PASSWORD,
    PASSWORD_GRANT,
    Server,
    clean_environment,
    cli_ok,
    create_app,
    create_user,
    password_grant,
    run_cli,
    serving,
)

pytestmark = pytest.mark.e2e
RACERS = 16


@dataclass
class Deployment:
    server: Server
    client_id: str


def deploy(data_dir: Path, store_url: str | None) -> Iterator[Deployment]:
    env = clean_environment(data_dir)
    if store_url is not None:
        env["JWTKEEP_TOKEN_STORE_URL"] = store_url
    cli_ok(env, "init")
    client_id = create_app(env, "web", "https://api.web", *PASSWORD_GRANT)["client_id"]
    create_user(env, "rita")
    with serving(data_dir, env) as server:
        yield Deployment(server, client_id)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    store_url = None
    if request.param == "redis":
        redis: RedisProcess = request.getfixturevalue("redis_server")
        store_url = redis.url.replace("/0", "/3")  # a database of its own on the shared server
    yield from deploy(tmp_path_factory.mktemp(f"sessions-{request.param}") / "data", store_url)


def login(client: httpx.Client, client_id: str) -> dict[str, str]:
    return password_grant(client, client_id, "rita", scope="account")


def refresh(client: httpx.Client, client_id: str, token: str) -> httpx.Response:
    return client.post("/oauth/token", data={
        "grant_type": "refresh_token", "client_id": client_id, "refresh_token": token,
    })  # fmt: skip


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_racing_refreshes_never_fork_the_session(deployment: Deployment) -> None:
    server, client_id = deployment.server, deployment.client_id
    with server.client() as client:
        tokens = login(client, client_id)
    start = threading.Barrier(RACERS)

    def race(_: int) -> httpx.Response:
        with server.client() as own_connection:
            own_connection.get("/healthz")  # connect and handshake before the start line
            start.wait(timeout=30)
            return refresh(own_connection, client_id, tokens["refresh_token"])

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(race, range(RACERS)))
    statuses = sorted(r.status_code for r in responses)
    assert all(code in (200, 400) for code in statuses), statuses  # never a 5xx
    winners = [r.json() for r in responses if r.status_code == 200]
    assert len(winners) == 1, statuses
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code == 400)
    with server.client() as client:
        # No fork: of every refresh token handed out, at most one still works. (Here none:
        # the losers presented a used-up token, which is reuse, so the session ended.)
        live = [refresh(client, client_id, w["refresh_token"]) for w in winners]
        assert sum(r.status_code == 200 for r in live) <= 1
        assert (
            client.get("/userinfo", headers=bearer(winners[0]["access_token"])).status_code == 401
        )


def test_a_stolen_refresh_token_kills_the_session_for_both(deployment: Deployment) -> None:
    server, client_id = deployment.server, deployment.client_id
    with server.client() as victim, server.client() as thief:
        stolen = login(victim, client_id)
        renewed = refresh(victim, client_id, stolen["refresh_token"]).json()
        assert victim.get("/userinfo", headers=bearer(renewed["access_token"])).status_code == 200
        replay = refresh(thief, client_id, stolen["refresh_token"])
        assert (replay.status_code, replay.json()["error"]) == (400, "invalid_grant")
        assert victim.get("/userinfo", headers=bearer(renewed["access_token"])).status_code == 401
        assert refresh(victim, client_id, renewed["refresh_token"]).status_code == 400
        sid = victim.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "client_id": client_id,
                "username": "rita",
                "password": PASSWORD,
            },
        )
        assert sid.status_code == 200  # the user can simply log in again
    audit = run_cli(server.env, "audit", "--json")
    assert audit.returncode == 0, audit.stderr
    assert "refresh.reuse_detected" in {event["event"] for event in json.loads(audit.stdout)}
