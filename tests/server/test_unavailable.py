"""Fail closed: an unreachable token store gives 503 + Retry-After, and no token.

The token store is a real Redis that is not there: either a loopback port nothing ever
listened on, or a redis-server the test started and then killed (no mocks). Users, apps
and keys stay in the working SQLite database.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from jwtkeep.ports import User
from jwtkeep.runtime import Runtime, build_runtime
from jwtkeep.server import create_app
from jwtkeep.usecases.registration import AppSpec, CreatedApp, create_user
from jwtkeep.usecases.registration import create_app as register_app
from tests.server.conftest import (
    BASE_URL,
    PASSWORD,
    PASSWORD_GRANTS,
    SERVICE_GRANTS,
    USERNAME,
    bearer,
    make_settings,
)
from tests.support.redis_server import RedisProcess


@pytest.fixture(params=["never-listened", pytest.param("killed", marks=pytest.mark.redis)])
async def broken_runtime(
    request: pytest.FixtureRequest, data_dir: Path, closed_port: int
) -> AsyncIterator[Runtime]:
    if request.param == "killed":
        server: RedisProcess = request.getfixturevalue("restartable_redis")
        url = server.url
    else:
        url = f"redis://127.0.0.1:{closed_port}/0"
    runtime = await build_runtime(make_settings(data_dir, token_store_url=url))
    if request.param == "killed":
        server.stop()
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def broken_client(broken_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(broken_runtime)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http,
    ):
        yield http


@pytest.fixture
async def apps(broken_runtime: Runtime) -> tuple[CreatedApp, CreatedApp]:
    ctx = broken_runtime.context
    web = await register_app(
        ctx, AppSpec(name="web", audience="api", account_access=True, grants=PASSWORD_GRANTS)
    )
    service = await register_app(
        ctx, AppSpec(name="svc", audience="svc-api", confidential=True, grants=SERVICE_GRANTS)
    )
    return web, service


@pytest.fixture
async def alice(broken_runtime: Runtime) -> User:
    return await create_user(broken_runtime.context, USERNAME, PASSWORD)


def assert_oauth_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert response.headers["retry-after"].isdigit()
    assert "access_token" not in response.text


async def test_token_endpoint_issues_nothing(
    broken_client: httpx.AsyncClient, apps: tuple[CreatedApp, CreatedApp], alice: User
) -> None:
    web, service = apps
    assert service.client_secret is not None
    issued = await broken_client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": service.app.client_id,
            "client_secret": service.client_secret,
        },
    )
    assert_oauth_unavailable(issued)
    login = await broken_client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": USERNAME,
            "password": PASSWORD,
            "client_id": web.app.client_id,
        },
    )
    assert_oauth_unavailable(login)


async def test_bearer_routes_fail_closed(
    broken_client: httpx.AsyncClient,
    broken_runtime: Runtime,
    apps: tuple[CreatedApp, CreatedApp],
    alice: User,
) -> None:
    """A correctly signed token still cannot be checked against the allowlist: 503."""
    ctx = broken_runtime.context
    issued = ctx.issuer.issue(
        await ctx.keys.ring(),
        sub=alice.id,
        app=apps[0].app,
        scope="account",  # the account API's audience: only the allowlist is left to ask
        sid="s" * 22,
        now=time.time(),
        random=secrets.token_bytes,
    )
    for method, path in [("GET", "/userinfo"), ("GET", "/auth/sessions"), ("POST", "/auth/logout")]:
        response = await broken_client.request(method, path, headers=bearer(issued.token))
        assert response.status_code == 503, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"].isdigit()
    service = apps[1]
    assert service.client_secret is not None
    introspected = await broken_client.post(
        "/oauth/introspect",
        data={"token": issued.token},
        auth=(service.app.client_id, service.client_secret),
    )
    assert_oauth_unavailable(introspected)
    assert "active" not in introspected.text  # never "inactive" (or active) when unsure


async def test_readiness_follows_the_store(broken_client: httpx.AsyncClient) -> None:
    assert (await broken_client.get("/healthz")).status_code == 200
    ready = await broken_client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["retry-after"].isdigit()
    assert ready.headers["content-type"] == "application/problem+json"


@pytest.mark.redis
async def test_recovers_when_the_store_comes_back(
    data_dir: Path, restartable_redis: RedisProcess
) -> None:
    runtime = await build_runtime(make_settings(data_dir, token_store_url=restartable_redis.url))
    try:
        service = await register_app(
            runtime.context,
            AppSpec(name="svc", audience="api", confidential=True, grants=SERVICE_GRANTS),
        )
        assert service.client_secret is not None
        form = {
            "grant_type": "client_credentials",
            "client_id": service.app.client_id,
            "client_secret": service.client_secret,
        }
        app = create_app(runtime)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
            assert (await http.post("/oauth/token", data=form)).status_code == 200
            restartable_redis.stop()
            assert_oauth_unavailable(await http.post("/oauth/token", data=form))
            assert (await http.get("/readyz")).status_code == 503
            restartable_redis.start()
            issued = await http.post("/oauth/token", data=form)
            assert issued.status_code == 200
            assert (await http.get("/readyz")).status_code == 200
            auth = (service.app.client_id, service.client_secret)
            token = issued.json()["access_token"]
            answer = await http.post("/oauth/introspect", data={"token": token}, auth=auth)
            assert answer.status_code == 200
            assert answer.json()["active"] is True
    finally:
        await runtime.close()


async def test_ready_when_everything_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
