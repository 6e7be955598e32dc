"""JwksKeySource: HTTPS only, cache lifetime, kid-miss rate limit and single flight,
stale-but-bounded serving, fail closed, and which JWKs are (not) trusted.

Driven against a stand-in JWKS endpoint to reach what a real server never serves; against
a real `jwtkeep serve` over TLS (and a real `jwtkeep keys rotate`): tests/e2e/test_sdk_e2e.py."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import httpx
import pytest

from jwtkeep.core.clock import FixedClock
from jwtkeep.core.jose import JoseKey, generate_key
from jwtkeep.errors import ConfigurationError, StoreUnavailable
from jwtkeep.sdk.jwks import JwksKeySource, parse_jwks
from tests.sdk.helpers import ISSUER, JWKS_URL, JwksEndpoint


def source(jwks: JwksEndpoint, clock: FixedClock, **options: Any) -> JwksKeySource:
    return JwksKeySource(ISSUER, http_client=jwks.client(), clock=clock, **options)


async def test_fetches_issuer_jwks_once_and_caches(jwks: JwksEndpoint, clock: FixedClock) -> None:
    keys = source(jwks, clock)
    assert keys.url == JWKS_URL
    ring = await keys.ring()
    assert ring.verifier("kid-1") is not None
    clock.advance(299)
    await keys.ring()
    assert jwks.requests == 1
    clock.advance(2)  # past the 300 s default max-age
    await keys.ring()
    assert jwks.requests == 2


@pytest.mark.parametrize(
    ("cache_control", "still_cached", "expired"),
    [
        ("max-age=5", 59, 61),  # clamped up to 60 s
        ("public, max-age=999999", 86_399, 86_401),  # clamped down to 24 h
        (None, 299, 301),  # default 300 s
        ("no-store", 59, 61),  # the minimum
        ("max-age=600, must-revalidate", 599, 601),
    ],
)
async def test_cache_lifetime_follows_max_age_clamped(
    jwks: JwksEndpoint,
    clock: FixedClock,
    cache_control: str | None,
    still_cached: float,
    expired: float,
) -> None:
    jwks.cache_control = cache_control
    keys = source(jwks, clock)
    await keys.ring()
    start = clock.now
    clock.now = start + still_cached
    await keys.ring()
    assert jwks.requests == 1
    clock.now = start + expired
    await keys.ring()
    assert jwks.requests == 2


async def test_kid_misses_refresh_at_most_once_per_interval(
    jwks: JwksEndpoint, clock: FixedClock
) -> None:
    keys = source(jwks, clock, min_refresh_interval=30)
    await keys.ring()
    clock.advance(31)
    for _ in range(50):  # tokens with random kids: one refresh, not fifty
        ring = await keys.ring_after_miss(secrets.token_hex(8))
        assert ring.verifier("kid-1") is not None
    assert jwks.requests == 2
    clock.advance(29)
    await keys.ring_after_miss("another-random-kid")
    assert jwks.requests == 2
    clock.advance(2)
    await keys.ring_after_miss("yet-another")
    assert jwks.requests == 3


async def test_kid_miss_right_after_fetch_does_not_refetch(
    jwks: JwksEndpoint, clock: FixedClock
) -> None:
    keys = source(jwks, clock)
    await keys.ring()
    await keys.ring_after_miss("unknown")
    assert jwks.requests == 1


async def test_new_key_is_found_on_kid_miss(jwks: JwksEndpoint, clock: FixedClock) -> None:
    keys = source(jwks, clock)
    await keys.ring()
    rotated = generate_key("ES256", "kid-2")
    jwks.keys.append(rotated)
    clock.advance(31)
    ring = await keys.ring_after_miss("kid-2")
    assert ring.verifier("kid-2") is not None
    assert ring.verifier("kid-2").alg == "ES256"  # type: ignore[union-attr]


async def test_withdrawn_kid_is_refused_without_a_fetch_and_keeps_the_next_one(
    jwks: JwksEndpoint, clock: FixedClock
) -> None:
    keys = source(jwks, clock)
    await keys.ring()
    keys.withdraw("kid-1")  # the drill's kid event
    for _ in range(3):  # its tokens keep coming: refused from the ring at hand
        assert (await keys.ring_after_miss("kid-1")).verifier("kid-1") is None
    assert jwks.requests == 1
    jwks.keys.append(generate_key("ES256", "kid-2"))  # the drill's new signing key
    assert (await keys.ring_after_miss("kid-2")).verifier("kid-2") is not None
    assert jwks.requests == 2
    assert (await keys.ring()).verifier("kid-1") is None  # the JWKS still lists it


async def test_concurrent_kid_misses_share_one_fetch(jwks: JwksEndpoint, clock: FixedClock) -> None:
    keys = source(jwks, clock)
    await keys.ring()
    jwks.keys.append(generate_key("EdDSA", "kid-2"))
    jwks.gate = asyncio.Event()
    clock.advance(31)
    tasks = [asyncio.create_task(keys.ring_after_miss("kid-2")) for _ in range(20)]
    while jwks.requests < 2:  # the first refresh is in flight, held at the gate
        await asyncio.sleep(0)
    for _ in range(10):
        await asyncio.sleep(0)
    assert jwks.requests == 2
    jwks.gate.set()
    rings = await asyncio.gather(*tasks)
    assert all(ring.verifier("kid-2") is not None for ring in rings)
    assert jwks.requests == 2


async def test_concurrent_first_fetches_share_one_request(
    jwks: JwksEndpoint, clock: FixedClock
) -> None:
    keys = source(jwks, clock)
    jwks.gate = asyncio.Event()
    tasks = [asyncio.create_task(keys.ring()) for _ in range(10)]
    while jwks.requests < 1:
        await asyncio.sleep(0)
    jwks.gate.set()
    await asyncio.gather(*tasks)
    assert jwks.requests == 1


async def test_first_fetch_failure_fails_closed_and_is_rate_limited(
    jwks: JwksEndpoint, clock: FixedClock
) -> None:
    jwks.raise_error = True
    keys = source(jwks, clock)
    with pytest.raises(StoreUnavailable):
        await keys.ring()
    with pytest.raises(StoreUnavailable):
        await keys.ring()
    assert jwks.requests == 1  # no retry storm while the issuer is down
    jwks.raise_error = False
    clock.advance(30)
    assert (await keys.ring()).verifier("kid-1") is not None
    assert jwks.requests == 2


async def test_failed_refresh_serves_last_good_ring_until_max_stale(
    jwks: JwksEndpoint, clock: FixedClock
) -> None:
    keys = source(jwks, clock, max_stale=3600)
    await keys.ring()
    jwks.status = 503
    clock.advance(301)
    assert (await keys.ring()).verifier("kid-1") is not None
    assert jwks.requests == 2
    # While refreshes fail, an unknown kid cannot be told from a new key: 503, not 401.
    with pytest.raises(StoreUnavailable):
        await keys.ring_after_miss("kid-new")
    clock.advance(3600)  # now more than max_stale past expiry
    with pytest.raises(StoreUnavailable):
        await keys.ring()
    jwks.status = 200
    clock.advance(30)
    assert (await keys.ring()).verifier("kid-1") is not None


@pytest.mark.parametrize(
    "failure",
    ["status-500", "redirect", "not-json", "no-keys-array", "too-large", "json-array"],
)
async def test_bad_answers_are_failures_not_empty_rings(
    jwks: JwksEndpoint, clock: FixedClock, failure: str
) -> None:
    if failure == "status-500":
        jwks.status = 500
    elif failure == "redirect":
        jwks.status = 302
    elif failure == "not-json":
        jwks.raw_body = b"<html>"
    elif failure == "no-keys-array":
        jwks.raw_body = b'{"keys": {}}'
    elif failure == "too-large":
        jwks.raw_body = json.dumps({"keys": [], "pad": "x" * 300_000}).encode()
    else:
        jwks.raw_body = b"[]"
    with pytest.raises(StoreUnavailable):
        await source(jwks, clock).ring()


async def test_redirect_is_not_followed(clock: FixedClock) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://evil.test/jwks.json"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    keys = JwksKeySource(ISSUER, http_client=client, clock=clock)
    with pytest.raises(StoreUnavailable):
        await keys.ring()
    assert seen == [JWKS_URL]


@pytest.mark.parametrize(
    ("url", "allow"),
    [
        ("http://auth.example.com", False),
        ("http://auth.example.com", True),  # insecure HTTP is for loopback only
        ("http://127.0.0.1:8000", False),  # loopback, but not explicitly allowed
        ("ftp://auth.example.com", True),
        ("https://", False),
        ("auth.example.com", False),
    ],
)
def test_https_only(url: str, allow: bool) -> None:
    with pytest.raises(ConfigurationError):
        JwksKeySource(url, allow_insecure_http=allow)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:9", "http://[::1]:80"])
def test_plain_http_on_loopback_when_allowed(url: str) -> None:
    keys = JwksKeySource(url, allow_insecure_http=True)
    assert keys.url == url + "/.well-known/jwks.json"


def test_explicit_jwks_url_and_issuer_path() -> None:
    assert (
        JwksKeySource("https://a.test/tenant/").url == "https://a.test/tenant/.well-known/jwks.json"
    )
    explicit = JwksKeySource(jwks_url="https://keys.test/k.json")
    assert explicit.url == "https://keys.test/k.json"
    with pytest.raises(ConfigurationError):
        JwksKeySource()


def _ed(kid: str) -> dict[str, object]:
    return generate_key("EdDSA", kid).public_jwk()


def test_only_public_asymmetric_keys_with_alg_are_trusted(signing_key: JoseKey) -> None:
    hmac = generate_key("HS256", "hmac", hmac_secret=b"s" * 32)
    private = generate_key("EdDSA", "private")
    no_alg = {k: v for k, v in _ed("no-alg").items() if k != "alg"}
    document = {
        "keys": [
            signing_key.public_jwk(),
            {**hmac.private_jwk(), "kid": "hmac", "alg": "HS256"},  # never trust HMAC
            {**hmac.private_jwk(), "kid": "hmac-as-ed", "alg": "EdDSA"},
            {**private.private_jwk(), "kid": "private", "alg": "EdDSA"},
            no_alg,
            {**_ed("none"), "alg": "none"},
            {**_ed("enc"), "use": "enc"},
            {**_ed("wrong-curve"), "alg": "ES256"},
            _ed("dup"),
            _ed("dup"),  # ambiguous kid: both dropped
            "not-an-object",
            {**_ed("x5u"), "x5u": "https://evil.test/cert"},  # kept, and never fetched
        ]
    }
    ring = parse_jwks(document)
    assert sorted(k.kid for k in ring.keys) == ["kid-1", "x5u"]
    assert all(not k.key.is_private for k in ring.keys if k.key is not None)
