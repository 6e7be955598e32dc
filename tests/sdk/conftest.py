"""Fixtures for the SDK tests: a real signing key, a JWKS endpoint built from its public
JWK (httpx.MockTransport), an allowlist over a set, a fixed clock and a Verifier."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from jwtkeep.core.clock import FixedClock
from jwtkeep.core.jose import JoseKey, generate_key
from jwtkeep.sdk import JwksKeySource, Verifier
from jwtkeep.sdk.audit import RequestEvent
from tests.sdk.helpers import AUDIENCE, ISSUER, JwksEndpoint, Minter, SetAllowlist

_KEY = generate_key("EdDSA", "kid-1")


@pytest.fixture
def signing_key() -> JoseKey:
    return _KEY


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(now=1_800_000_000.0)


@pytest.fixture
def jwks(signing_key: JoseKey) -> JwksEndpoint:
    return JwksEndpoint(keys=[signing_key])


@pytest.fixture
def allowlist() -> SetAllowlist:
    return SetAllowlist()


@pytest.fixture
def minter(signing_key: JoseKey, clock: FixedClock, allowlist: SetAllowlist) -> Minter:
    return Minter(key=signing_key, clock=clock, allowlist=allowlist)


@pytest.fixture
def key_source(jwks: JwksEndpoint, clock: FixedClock) -> JwksKeySource:
    return JwksKeySource(ISSUER, http_client=jwks.client(), clock=clock)


@pytest.fixture
def verifier(key_source: JwksKeySource, allowlist: SetAllowlist, clock: FixedClock) -> Verifier:
    return Verifier(
        issuer=ISSUER, audience=AUDIENCE, allowlist=allowlist, keys=key_source, clock=clock
    )


@pytest.fixture
def events() -> list[RequestEvent]:
    return []


@pytest.fixture
async def closing_verifier(verifier: Verifier) -> AsyncIterator[Verifier]:
    yield verifier
    await verifier.aclose()
