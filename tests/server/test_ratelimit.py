"""Brute-force protection: failures per account+address, per account (slowdown) and per
address (IPv6 /64), never a lockout of the owner; shared through Redis."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from jwtkeep.adapters.rate_limits import limiter_storage_uri, open_rate_limits
from jwtkeep.errors import InvalidGrant, StoreUnavailable
from jwtkeep.ports import User
from jwtkeep.ports.rate_limits import RateLimits
from jwtkeep.runtime import Runtime, build_runtime
from jwtkeep.server import create_app
from jwtkeep.server.ratelimit import (
    BruteForcePolicy,
    LoginLimiter,
    TooManyAttempts,
    address_bucket,
    slowdown_delay,
)
from jwtkeep.settings import Settings
from jwtkeep.usecases.registration import AppSpec, CreatedApp, create_user
from jwtkeep.usecases.registration import create_app as register_app
from tests.server.conftest import (
    ACCOUNT_SCOPE,
    BASE_URL,
    PASSWORD,
    PASSWORD_GRANTS,
    USERNAME,
    Login,
    bearer,
    make_settings,
)
from tests.support.redis_server import CORRECTNESS_TIMEOUT

PER_ADDRESS = 3  # failures per account+address
BEFORE_SLOWDOWN = 2  # failures per account
ADDRESS_FAILURES = 6  # failures per address, all accounts
TINY_DELAY = 0.001  # the HTTP tests assert on the recorded delays, never on time
LIMITS: dict[str, Any] = {
    "login_failures_per_address": PER_ADDRESS,
    "login_failures_before_slowdown": BEFORE_SLOWDOWN,
    "login_slowdown_max_seconds": TINY_DELAY,
    "address_failures_per_hour": ADDRESS_FAILURES,
}
ATTACKER, OWNER = "203.0.113.66", "198.51.100.20"
FIFTEEN_MINUTES = 15 * 60


def _memory() -> RateLimits:
    return open_rate_limits(None, timeout=1.0)


def _counters(settings: Settings) -> RateLimits:
    """The counters the composition root would build for these settings."""
    return open_rate_limits(settings.token_store_url, timeout=settings.store_timeout)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {**LIMITS, "trusted_proxies": ["127.0.0.1"]}


async def _attempt(
    client: httpx.AsyncClient, app: CreatedApp, username: str, ip: str, password: str = "wrong pw"
) -> httpx.Response:
    """A password grant from `ip` (through the trusted proxy 127.0.0.1, the ASGI peer)."""
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


def assert_throttled(response: httpx.Response, window: int = FIFTEEN_MINUTES) -> None:
    assert response.status_code == 429
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Too many attempts; try again later.",
    }
    assert 1 <= int(response.headers["retry-after"]) <= window


async def _metric(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_owner_gets_in_from_another_address_while_the_attacker_is_stopped(
    client: httpx.AsyncClient, metrics_client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    # (a) the attacker's address exhausts its failures on alice ...
    for _ in range(PER_ADDRESS):
        assert (await _attempt(client, web_app, USERNAME, ATTACKER)).status_code == 400
    assert_throttled(await _attempt(client, web_app, USERNAME, ATTACKER))
    # ... and (c) its failures over all accounts. The refused attempt above counted
    # nothing (no password was checked), so exactly ADDRESS_FAILURES - PER_ADDRESS more.
    for name in ("bob", "carol", "dave"):
        assert (await _attempt(client, web_app, name, ATTACKER)).status_code == 400
    assert_throttled(await _attempt(client, web_app, "erin", ATTACKER), window=3600)
    # (b) alice is over the slowdown threshold; her own logins are slowed, never refused.
    for _ in range(5):
        response = await _attempt(client, web_app, USERNAME, OWNER, PASSWORD)
        assert response.status_code == 200, response.text
    # The attacker's address cannot use the right password either: nothing is checked.
    assert_throttled(await _attempt(client, web_app, USERNAME, ATTACKER, PASSWORD), 3600)
    # Slowed: the attacker's third try on alice (after two failures) and the owner's five.
    slowed = 'jwtkeep_login_slowdown_seconds_count{action="login"}'
    assert await _metric(metrics_client, slowed) == 6
    assert await _metric(metrics_client, 'jwtkeep_login_throttled_total{action="login"}') == 3


async def test_a_parallel_burst_gets_no_more_guesses(
    client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    # Each guess takes its (account, address) slot atomically before the password check,
    # so ten guesses in flight at once are not all let through by a test made before
    # any of them failed.
    burst = [_attempt(client, web_app, USERNAME, ATTACKER) for _ in range(10)]
    statuses = sorted(response.status_code for response in await asyncio.gather(*burst))
    assert statuses == [400] * PER_ADDRESS + [429] * (10 - PER_ADDRESS)


@pytest.mark.parametrize("settings_overrides", [{"trusted_proxies": ["127.0.0.1"]}])
async def test_an_office_behind_one_address_is_never_throttled(
    client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    # Default settings: successes count nothing against any limit (the old limiter
    # refused the eleventh login in a minute).
    for _ in range(50):
        response = await _attempt(client, web_app, USERNAME, "192.0.2.80", PASSWORD)
        assert response.status_code == 200, response.text
    # A colleague's typo from the same address is a plain 400, not a 429.
    assert (await _attempt(client, web_app, "bob", "192.0.2.80")).status_code == 400


@pytest.mark.parametrize(
    "settings_overrides", [{**LIMITS, "trusted_proxies": ["127.0.0.1"],
                            "address_attempts_per_minute": 4}]
)  # fmt: skip
async def test_one_address_cannot_flood_the_hasher(
    client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    # (c) the ceiling on all password checks from one address: each one runs argon2id.
    for _ in range(4):
        assert (await _attempt(client, web_app, USERNAME, OWNER, PASSWORD)).status_code == 200
    assert_throttled(await _attempt(client, web_app, USERNAME, OWNER, PASSWORD), window=60)
    assert (await _attempt(client, web_app, USERNAME, ATTACKER, PASSWORD)).status_code == 200


async def test_an_ipv6_64_is_one_address(
    client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    for host in range(1, PER_ADDRESS + 1):
        response = await _attempt(client, web_app, USERNAME, f"2001:db8:1:2::{host}")
        assert response.status_code == 400
    # Another address of the same /64 (RFC 4291 §2.5.4): the same bucket, refused.
    assert_throttled(await _attempt(client, web_app, USERNAME, "2001:db8:1:2:ffff::9"))
    # The next /64 is someone else.
    assert (await _attempt(client, web_app, USERNAME, "2001:db8:1:3::1")).status_code == 400


@pytest.mark.parametrize(
    ("ip", "bucket"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),  # IPv4-mapped: the IPv4 address
        ("fe80::1%eth0", "fe80::/64"),
        ("", "unknown"),
        ("testclient", "testclient"),
    ],
)
def test_address_bucket(ip: str, bucket: str) -> None:
    assert address_bucket(ip) == bucket


@pytest.mark.parametrize("settings_overrides", [LIMITS])
async def test_forwarded_for_is_ignored_from_untrusted_peers(
    client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    # No trusted proxy: a forged X-Forwarded-For does not give each guess a new address.
    for index in range(PER_ADDRESS):
        response = await _attempt(client, web_app, USERNAME, f"203.0.113.{index}")
        assert response.status_code == 400
    assert_throttled(await _attempt(client, web_app, USERNAME, "192.0.2.200"))


async def test_password_change_follows_the_same_rules(
    client: httpx.AsyncClient, metrics_client: httpx.AsyncClient, login: Login
) -> None:
    token = (await login(scope=ACCOUNT_SCOPE))["access_token"]

    async def change(current: str, new: str, ip: str) -> httpx.Response:
        body = {"current_password": current, "new_password": new}
        headers = {**bearer(token), "X-Forwarded-For": ip}
        return await client.post("/auth/password", headers=headers, json=body)

    # Successes count nothing: more of them than any failure limit.
    passwords = [PASSWORD, "second secret phrase"] * 3
    for current, new in itertools.pairwise(passwords):
        assert (await change(current, new, OWNER)).status_code == 204
    current = passwords[-1]
    for _ in range(PER_ADDRESS):
        assert (await change("guess number n", "whatever new pass", ATTACKER)).status_code == 400
    throttled = await change(current, "whatever new pass", ATTACKER)
    assert throttled.status_code == 429
    assert throttled.headers["content-type"] == "application/problem+json"
    assert 1 <= int(throttled.headers["retry-after"]) <= FIFTEEN_MINUTES
    # The owner, elsewhere, still changes the password (slowed, not refused).
    assert (await change(current, "a third secret phrase", OWNER)).status_code == 204
    slowed = 'jwtkeep_login_slowdown_seconds_count{action="password"}'
    assert await _metric(metrics_client, slowed) == 2  # the attacker's third try, the owner's last


def test_slowdown_grows_and_is_capped() -> None:
    policy = BruteForcePolicy(failures_before_slowdown=3, slowdown_max_seconds=5)
    delays = [slowdown_delay(failures, policy) for failures in range(8)]
    assert delays == [0, 0, 0, 1, 2, 4, 5, 5]
    assert slowdown_delay(10_000, policy) == 5
    assert slowdown_delay(10, BruteForcePolicy(slowdown_max_seconds=0)) == 0


async def test_the_limiter_sleeps_before_the_check_of_an_account_under_attack() -> None:
    recorded: list[float] = []

    async def sleep(seconds: float) -> None:
        recorded.append(seconds)

    policy = BruteForcePolicy(failures_before_slowdown=2, slowdown_max_seconds=3)
    limiter = LoginLimiter(_memory(), policy, sleep=sleep)
    for index in range(6):  # a distributed attack: a new address every time
        with pytest.raises(InvalidGrant):
            async with limiter.password_check("login", account="alice", ip=f"192.0.2.{index}"):
                raise InvalidGrant("wrong")
    assert recorded == [1, 2, 3, 3]
    recorded.clear()
    async with limiter.password_check("login", account="alice", ip="198.51.100.1"):
        pass  # the owner's success: slowed once, counts nothing
    async with limiter.password_check("login", account="bob", ip="192.0.2.0"):
        pass  # another account is not slowed
    assert recorded == [3]


async def test_a_success_from_the_address_clears_its_failures_on_the_account() -> None:
    async def no_sleep(seconds: float) -> None:
        pass

    policy = BruteForcePolicy(failures_per_address=2, failures_before_slowdown=100)
    limiter = LoginLimiter(_memory(), policy, sleep=no_sleep)

    async def fail(account: str) -> None:
        with pytest.raises(InvalidGrant):
            async with limiter.password_check("login", account=account, ip="192.0.2.7"):
                raise InvalidGrant("wrong")

    for _ in range(2):
        await fail("alice")
    async with limiter.password_check("login", account="alice", ip="198.51.100.1"):
        pass  # a success from elsewhere clears nothing for 192.0.2.7
    with pytest.raises(TooManyAttempts):
        async with limiter.password_check("login", account="alice", ip="192.0.2.7"):
            pass
    await fail("bob")
    async with limiter.password_check("login", account="bob", ip="192.0.2.7"):
        pass  # bob's typo, then bob's success: his count is back to zero
    for _ in range(2):
        await fail("bob")
    with pytest.raises(TooManyAttempts):
        await fail("bob")


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
    counters = _counters(settings)
    limiter = LoginLimiter(counters, BruteForcePolicy.from_settings(settings))
    try:
        with pytest.raises(StoreUnavailable, match="rate limit storage unavailable"):
            async with limiter.password_check("login", account="alice", ip="192.0.2.1"):
                pass
        with pytest.raises(StoreUnavailable, match="rate limit storage unavailable"):
            await limiter.count_registration("192.0.2.1")
    finally:
        await counters.close()


@pytest.mark.redis
async def test_replicas_share_the_counts_through_redis(
    data_dir: Path, fresh_redis_url: str
) -> None:
    settings = make_settings(
        data_dir, token_store_url=fresh_redis_url, store_timeout=CORRECTNESS_TIMEOUT, **LIMITS
    )
    first, second = await build_runtime(settings), await build_runtime(settings)
    try:
        web = await register_app(
            first.context, AppSpec(name="web", audience="api", grants=PASSWORD_GRANTS)
        )
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
    settings = make_settings(
        data_dir, token_store_url=fresh_redis_url, store_timeout=CORRECTNESS_TIMEOUT, **LIMITS
    )
    counters = _counters(settings), _counters(settings)
    one, two = (LoginLimiter(c, BruteForcePolicy.from_settings(settings)) for c in counters)
    try:
        for limiter in (one, two, one):
            with pytest.raises(InvalidGrant):
                async with limiter.password_check("login", account="bob", ip="192.0.2.1"):
                    raise InvalidGrant("wrong")
        with pytest.raises(TooManyAttempts) as refused:
            async with two.password_check("login", account="bob", ip="192.0.2.1"):
                pass
        assert 1 <= refused.value.retry_after <= FIFTEEN_MINUTES
        # bob from elsewhere is slowed (the account is over the threshold), not refused.
        async with one.password_check("login", account="bob", ip="198.51.100.1"):
            pass
    finally:
        for each in counters:
            await each.close()


async def test_an_account_coming_under_the_slowdown_is_audited_once(
    client: httpx.AsyncClient, runtime: Runtime, web_app: CreatedApp, user: User
) -> None:
    # A distributed attack (a new address each time) on alice: BEFORE_SLOWDOWN failures
    # put her account under the slowdown, and that moment (not every guess) is a security
    # event in the audit trail (issue 9), with the limiter's digest, never the username.
    for index in range(BEFORE_SLOWDOWN + 4):
        response = await _attempt(client, web_app, USERNAME, f"203.0.113.{index}")
        assert response.status_code == 400
    events = await runtime.database.audit.query(events=("login.slowdown_started",))
    assert len(events) == 1
    (event,) = events
    assert event.detail["action"] == "login"
    assert USERNAME not in str(event.detail)
    assert event.ip == f"203.0.113.{BEFORE_SLOWDOWN - 1}"  # the failure that crossed it


async def test_the_limiter_reports_the_slowdown_start_once_per_account() -> None:
    started: list[tuple[str, str]] = []

    async def no_sleep(seconds: float) -> None:
        pass

    async def on_started(action: str, account: str, bucket: str) -> None:
        started.append((action, bucket))

    policy = BruteForcePolicy(failures_before_slowdown=2, failures_per_address=100)
    limiter = LoginLimiter(_memory(), policy, sleep=no_sleep, on_slowdown_started=on_started)
    for account in ("alice", "bob"):
        for index in range(5):
            with pytest.raises(InvalidGrant):
                async with limiter.password_check("login", account=account, ip=f"192.0.2.{index}"):
                    raise InvalidGrant("wrong")
    assert started == [("login", "192.0.2.1"), ("login", "192.0.2.1")]
