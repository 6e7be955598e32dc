"""Brute-force protection: per username and per client IP, shared through Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jwtkeep.errors import StoreUnavailable
from jwtkeep.runtime import build_runtime
from jwtkeep.server import create_app
from jwtkeep.server.ratelimit import LoginLimiter, TooManyAttempts, limiter_storage_uri
from jwtkeep.usecases.registration import AppSpec, CreatedApp, create_user
from jwtkeep.usecases.registration import create_app as register_app
from tests.server.conftest import BASE_URL, PASSWORD, USERNAME, Login, bearer, make_settings

LIMIT = 3


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"login_attempts_per_minute": LIMIT, "trusted_proxies": ["127.0.0.1"]}


async def _attempt(
    client: httpx.AsyncClient, app: CreatedApp, username: str, ip: str, password: str = "wrong pw"
) -> httpx.Response:
    return await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": username,
            "password": password,
            "client_id": app.app.client_id,
        },
        headers={"X-Forwarded-For": ip},
    )


def assert_throttled(response: httpx.Response) -> None:
    assert response.status_code == 429
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Too many attempts; try again later.",
    }
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_per_username_across_ips(
    client: httpx.AsyncClient,
    metrics_client: httpx.AsyncClient,
    web_app: CreatedApp,
    login: Login,
) -> None:
    for index in range(LIMIT):
        assert (await _attempt(client, web_app, USERNAME, f"203.0.113.{index}")).status_code == 400
    # over the limit even with the right password: no password is checked any more
    assert_throttled(await _attempt(client, web_app, USERNAME, "203.0.113.99", PASSWORD))
    assert (await _attempt(client, web_app, "someone-else", "198.51.100.7")).status_code == 400
    metrics = (await metrics_client.get("/metrics")).text
    assert 'jwtkeep_login_throttled_total{action="login"} 1.0' in metrics


async def test_per_ip_across_usernames(client: httpx.AsyncClient, web_app: CreatedApp) -> None:
    for index in range(LIMIT):
        assert (await _attempt(client, web_app, f"user{index}", "203.0.113.5")).status_code == 400
    assert_throttled(await _attempt(client, web_app, "fresh-user", "203.0.113.5"))
    assert (await _attempt(client, web_app, "fresh-user", "203.0.113.6")).status_code == 400


@pytest.mark.parametrize("settings_overrides", [{"login_attempts_per_minute": LIMIT}])
async def test_forwarded_for_is_ignored_from_untrusted_peers(
    client: httpx.AsyncClient, web_app: CreatedApp
) -> None:
    for index in range(LIMIT):
        response = await _attempt(client, web_app, f"user{index}", f"203.0.113.{index}")
        assert response.status_code == 400
    assert_throttled(await _attempt(client, web_app, "another", "192.0.2.200"))


async def test_password_change_is_limited(client: httpx.AsyncClient, login: Login) -> None:
    token = (await login())["access_token"]
    body = {"current_password": "guess number n", "new_password": "whatever new pass"}
    for _ in range(LIMIT):
        response = await client.post("/auth/password", headers=bearer(token), json=body)
        assert response.status_code == 400
    throttled = await client.post("/auth/password", headers=bearer(token), json=body)
    assert throttled.status_code == 429
    assert throttled.headers["content-type"] == "application/problem+json"
    assert throttled.headers["retry-after"].isdigit()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, ("async+memory://", {})),
        ("sqlite:///x.db", ("async+memory://", {})),
        ("postgresql://h/db", ("async+memory://", {})),
        ("redis://h:1/2", ("async+redis://h:1/2", {})),
        ("rediss://h:1/0", ("async+rediss://h:1/0", {})),
        ("redis+cluster://a:1,b:2", ("async+redis+cluster://a:1,b:2", {})),
        (
            "redis+sentinel://a:1,b:2/jwtkeep/3",
            ("async+redis+sentinel://a:1,b:2/jwtkeep", {"db": 3}),
        ),
        ("redis+sentinel://a:1/jwtkeep", ("async+redis+sentinel://a:1/jwtkeep", {})),
    ],
)
def test_limiter_storage_follows_the_token_store(url: str | None, expected: Any) -> None:
    assert limiter_storage_uri(url) == expected


async def test_limiter_fails_closed_when_redis_is_unreachable(
    data_dir: Path, closed_port: int
) -> None:
    settings = make_settings(data_dir, token_store_url=f"redis://127.0.0.1:{closed_port}/0")
    limiter = LoginLimiter.from_settings(settings)
    try:
        with pytest.raises(StoreUnavailable):
            await limiter.hit("login", account="alice", ip="192.0.2.1")
    finally:
        await limiter.close()


@pytest.mark.redis
async def test_replicas_share_the_counts_through_redis(
    data_dir: Path, fresh_redis_url: str
) -> None:
    settings = make_settings(
        data_dir, token_store_url=fresh_redis_url, login_attempts_per_minute=LIMIT
    )
    first, second = await build_runtime(settings), await build_runtime(settings)
    try:
        web = await register_app(first.context, AppSpec(name="web", audience="api"))
        await create_user(first.context, USERNAME, PASSWORD)
        statuses = []
        async for client in _clients(create_app(first), create_app(second)):
            for _ in range(2):
                statuses.append((await _attempt(client, web, USERNAME, "ignored")).status_code)
        assert statuses == [400, 400, 400, 429]
    finally:
        await first.close()
        await second.close()


async def _clients(*apps: Any) -> AsyncIterator[httpx.AsyncClient]:
    for app in apps:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as client,
        ):
            yield client


@pytest.mark.redis
async def test_redis_limiter_counts_across_instances(data_dir: Path, fresh_redis_url: str) -> None:
    settings = make_settings(data_dir, token_store_url=fresh_redis_url, login_attempts_per_minute=2)
    one, two = LoginLimiter.from_settings(settings), LoginLimiter.from_settings(settings)
    try:
        await one.hit("login", account="bob", ip="192.0.2.1")
        await two.hit("login", account="bob", ip="192.0.2.2")
        with pytest.raises(TooManyAttempts) as refused:
            await one.hit("login", account="bob", ip="192.0.2.3")
        assert 1 <= refused.value.retry_after <= 60
    finally:
        await one.close()
        await two.close()
