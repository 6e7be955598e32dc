"""The cache-hit path of JwtkeepMiddleware on a real Redis: a repeat token is answered
without awaiting the store (the hit path of `JwtkeepMiddleware`), and still under every rule:
`exp` and `nbf` on every hit (RFC 7519 §4.1.4-4.1.5), the route scopes (RFC 6750 §3.1),
and RFC 6750 §2 (one Authorization header, never a token in the URL or a form body).

Each test first proves that the token is answered from the cache: its allowlist entry is
deleted behind the verifier's back (no event), so the store alone would refuse it.
"""

from __future__ import annotations

import asyncio
import re
import string
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwtkeep.adapters.redis.layout import ACCESS, user_key
from jwtkeep.core.clock import FixedClock
from jwtkeep.core.compact import MAX_TOKEN_BYTES
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.ports import AccessRecord, TokenStore
from jwtkeep.runtime import open_token_store
from jwtkeep.sdk import JwksKeySource, RequestEvent, Verifier
from jwtkeep.sdk.bearer import MAX_AUTHORIZATION_BYTES, lookup_fingerprint, token_from_header
from jwtkeep.sdk.rules import MEMO_ENTRIES, MEMO_PATH_CHARS, RouteTable, scope_for
from tests.sdk.apps import ROUTES, starlette_app
from tests.sdk.authorization_values import (
    VISIBLE_LATIN1,
    empty_bearer,
    malformed_bearer,
    other_scheme,
    well_formed_bearer,
)
from tests.sdk.helpers import AUDIENCE, ISSUER, Minter
from tests.support.redis_server import CORRECTNESS_TIMEOUT, RedisProcess

pytestmark = pytest.mark.redis

WAIT = 10.0
CachedToken = Callable[..., Awaitable[str]]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(now=float(int(time.time())))


@pytest.fixture
async def store(fresh_redis_url: str) -> AsyncIterator[TokenStore]:
    opened = await open_token_store(fresh_redis_url, io_timeout=CORRECTNESS_TIMEOUT)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def redis_verifier(
    fresh_redis_url: str, key_source: JwksKeySource, clock: FixedClock
) -> AsyncIterator[Verifier]:
    verifier = Verifier.with_redis(
        issuer=ISSUER, audience=AUDIENCE, redis_url=fresh_redis_url, keys=key_source,
        clock=clock,
    )  # fmt: skip
    async with asyncio.timeout(WAIT):
        await verifier.wait_subscribed()
    try:
        yield verifier
    finally:
        await verifier.aclose()


@pytest.fixture
async def client(
    redis_verifier: Verifier, events: list[RequestEvent]
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=starlette_app(redis_verifier, events))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
        yield http


@pytest.fixture
def cached_token(
    store: TokenStore, minter: Minter, client: httpx.AsyncClient, redis_server: RedisProcess
) -> CachedToken:
    async def make(**claims: Any) -> str:
        """A token the store allowlists, verified once through the middleware (so cached),
        then deleted from Redis without an event: from then on only the cache says yes."""
        token = minter.token(allowlisted=False, **claims)
        issued = minter.issued[-1]
        record = AccessRecord(fingerprint(token), issued.sub, issued.sid, issued.jti,
                              issued.client_id, issued.exp, kid=minter.key.kid)  # fmt: skip
        await store.add_access(record, minter.clock())
        assert (await client.get("/orders/1", headers=bearer(token))).status_code == 200
        with redis_server.client() as redis:
            assert redis.hdel(user_key(issued.sub), ACCESS + record.fingerprint) == 1
        return token

    return make


def bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


async def test_a_repeat_token_is_answered_from_the_cache(
    cached_token: CachedToken, minter: Minter, client: httpx.AsyncClient, events: list[RequestEvent]
) -> None:
    token = await cached_token()
    response = await client.get("/orders/1", headers=bearer(token, "bEaReR"))
    assert response.status_code == 200
    assert response.json()["jti"] == minter.issued[-1].jti
    assert [(e.path, e.status) for e in events][-1] == ("/orders/1", 200)


async def test_a_repeat_token_is_found_from_the_raw_header_alone(
    cached_token: CachedToken, redis_verifier: Verifier, minter: Minter
) -> None:
    """The hit path's lookup: the raw header bytes give the token's own fingerprint, and
    the cache answers it synchronously (no await, no store)."""
    token = await cached_token()
    cache = redis_verifier.cache
    assert cache is not None
    fp = lookup_fingerprint(f"bEaReR {token}".encode())
    assert fp == fingerprint(token)
    claims = cache.get(fp, redis_verifier.clock())
    assert claims is not None
    assert claims.jti == minter.issued[-1].jti
    now = redis_verifier.clock()
    for shape in (f"Bearer {token}x", f"Bearer  {token}", f"Basic {token}", f"Bearer{token}"):
        other = lookup_fingerprint(shape.encode())
        assert other is None or cache.get(other, now) is None, shape  # never this token
    too_long = b"Bearer " + b"a" * MAX_AUTHORIZATION_BYTES
    assert lookup_fingerprint(too_long) is None


async def test_a_cache_hit_still_meets_the_route_rules(
    cached_token: CachedToken, minter: Minter, client: httpx.AsyncClient
) -> None:
    token = await cached_token()  # scope orders:read only
    for method, path in [("DELETE", "/orders/1"), ("GET", "/admin/users"),
                         ("GET", "/reports/../admin/x")]:  # fmt: skip
        response = await client.request(method, path, headers=bearer(token))
        assert response.status_code == 403, (method, path)
        assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_a_cache_hit_is_refused_from_exp_on(
    cached_token: CachedToken, minter: Minter, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    token = await cached_token()
    clock.now = float(minter.issued[-1].exp)
    response = await client.get("/orders/1", headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_a_cache_hit_is_refused_before_nbf(
    cached_token: CachedToken, client: httpx.AsyncClient, clock: FixedClock
) -> None:
    # Valid now within the 30 s leeway; then the clock is stepped back (NTP): before
    # nbf - leeway the cached verdict must not be used.
    nbf = int(clock()) + 20
    token = await cached_token(nbf=nbf, iat=nbf)
    clock.now = float(nbf - 31)
    assert (await client.get("/orders/1", headers=bearer(token))).status_code == 401


async def test_rfc6750_rules_hold_for_a_cached_token(
    cached_token: CachedToken, minter: Minter, client: httpx.AsyncClient
) -> None:
    token = await cached_token()
    twice = [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")]
    refused = [
        await client.get("/orders/1", headers=twice),
        await client.get("/orders/1", params={"access_token": token}, headers=bearer(token)),
        await client.get(f"/orders/1?access_%74oken={token}", headers=bearer(token)),
        await client.post("/orders/1", data={"access_token": token}, headers=bearer(token)),
        await client.get("/orders/1", headers={"Authorization": f"Bearer {token} x"}),
    ]
    assert [r.status_code for r in refused] == [400] * len(refused)
    assert [r.json()["error"] for r in refused] == ["invalid_request"] * len(refused)


def test_the_route_table_answers_as_the_rules_and_stays_bounded() -> None:
    table = RouteTable(ROUTES, ["/health", "GET /docs/*"], ["GET /export/*"])
    rules = table.routes
    cases = [("GET", "/docs/a"), ("POST", "/docs/a"), ("GET", "/docs/../admin/1"),
             ("HEAD", "/reports/x"), ("DELETE", "//orders/1"), ("GET", "/export/1")]  # fmt: skip
    for _ in range(2):  # computed, then remembered: the same answers
        answers = [table.route(method, path) for method, path in cases]
        assert [a.scope for a in answers] == [scope_for(rules, m, p) for m, p in cases]
        assert [a.public for a in answers] == [True, False, False, False, False, False]
        assert [a.token_in_query for a in answers] == [False] * 5 + [True]
    for n in range(MEMO_ENTRIES + 10):
        table.route("GET", f"/orders/{n}")
    assert table.remembered <= MEMO_ENTRIES
    long_path = "/admin/" + "x" * MEMO_PATH_CHARS
    before = table.remembered
    assert table.route("GET", long_path).scope == "admin"
    assert table.remembered == before


# What every verified token is (RFC 7515 §7.1 compact serialization, jwtkeep.core.compact).
VERIFIED_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_segment = st.text(alphabet=string.ascii_letters + string.digits + "-_", min_size=1, max_size=80)
_compact = st.lists(_segment, min_size=3, max_size=3).map(".".join)
_schemes = st.sampled_from(["Bearer ", "bearer ", "BEARER ", "Bearer  "])
_prefixed = st.tuples(_schemes, st.one_of(_compact, st.text(alphabet=VISIBLE_LATIN1)))


@given(
    value=st.one_of(
        _prefixed.map("".join),
        other_scheme,
        well_formed_bearer,
        malformed_bearer,
        empty_bearer,
        st.text(alphabet=VISIBLE_LATIN1, max_size=120),
    )
)
def test_a_lookup_token_that_could_hit_is_the_one_the_parser_takes(value: str) -> None:
    """`lookup_fingerprint` skips the character check: sound only because a cache hit
    needs the fingerprint of a verified token, and for such a token the parser agrees."""
    raw = value.encode("latin-1")  # the header as the server received it
    fp = lookup_fingerprint(raw)
    if fp is None:
        return
    token = raw[7:]
    assert fp == fingerprint(token)  # the fingerprint of exactly the bytes after "Bearer "
    text = token.decode("latin-1")
    if VERIFIED_SHAPE.fullmatch(text) and len(text) <= MAX_TOKEN_BYTES:
        assert token_from_header((value,)) == text
