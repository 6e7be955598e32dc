"""IntrospectionAllowlist: RFC 7662 POST with Basic client auth, strict reading of the
answer, fail closed on any trouble, and the small optional cache.

These drive the client against a stand-in endpoint (httpx.MockTransport) to reach answers
a real server never gives (garbage, 500s, oversized bodies). Against a real `jwtkeep serve`
over TLS: tests/e2e/test_sdk_e2e.py."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.clock import FixedClock
from jwtkeep.errors import ConfigurationError, StoreUnavailable
from jwtkeep.sdk import IntrospectionAllowlist, Verifier
from jwtkeep.sdk.jwks import JwksKeySource
from tests.sdk.apps import starlette_app
from tests.sdk.helpers import AUDIENCE, ISSUER, Minter
from tests.support.refusals import refused_for

URL = f"{ISSUER}/oauth/introspect"
# Valid JSON that Python's json refuses with a bare ValueError (its integer digit limit),
# not a JSONDecodeError: it once escaped the SDK as a 500 instead of the 503 of an outage.
HUGE_INTEGER = b'{"active": true, "exp": 1' + b"0" * 5000 + b"}"


@dataclass
class IntrospectionEndpoint:
    """The issuer's side: knows which tokens are active; records what it was sent."""

    active: set[str] = field(default_factory=set)
    status: int = 200
    body: bytes | None = None
    jti_override: str | None = None
    raise_error: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        scheme, _, credentials = request.headers["authorization"].partition(" ")
        self.requests.append(
            {"form": form, "scheme": scheme, "basic": base64.b64decode(credentials).decode()}
        )
        if self.raise_error:
            raise httpx.ReadTimeout("timed out", request=request)
        if self.body is not None or self.status != 200:
            return httpx.Response(self.status, content=self.body or b"{}")
        token = form["token"]
        if token not in self.active:
            return httpx.Response(200, json={"active": False})
        answer = {"active": True, "jti": self.jti_override or _jti(token)}
        return httpx.Response(200, json=answer)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


def _jti(token: str) -> str:
    payload = token.split(".")[1]
    jti: str = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]
    return jti


@pytest.fixture
def endpoint() -> IntrospectionEndpoint:
    return IntrospectionEndpoint()


def allowlist(endpoint: IntrospectionEndpoint, **options: Any) -> IntrospectionAllowlist:
    return IntrospectionAllowlist(URL, "orders-api", "s3cret:/+", endpoint.client(), **options)


def claims_of(minter: Minter) -> AccessClaims:
    return minter.issued[-1]


async def test_active_token_is_allowed_with_basic_auth_and_hint(
    endpoint: IntrospectionEndpoint, minter: Minter, clock: FixedClock
) -> None:
    token = minter.token(allowlisted=False)
    endpoint.active.add(token)
    assert await allowlist(endpoint).allows(token, claims_of(minter), clock()) is True
    sent = endpoint.requests[0]
    assert sent["form"] == {"token": token, "token_type_hint": "access_token"}
    assert sent["scheme"] == "Basic"
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    assert sent["basic"] == "orders-api:s3cret%3A%2F%2B"


async def test_inactive_token_is_refused(
    endpoint: IntrospectionEndpoint, minter: Minter, clock: FixedClock
) -> None:
    token = minter.token(allowlisted=False)
    assert await allowlist(endpoint).allows(token, claims_of(minter), clock()) is False


async def test_jti_mismatch_is_refused(
    endpoint: IntrospectionEndpoint, minter: Minter, clock: FixedClock
) -> None:
    token = minter.token(allowlisted=False)
    endpoint.active.add(token)
    endpoint.jti_override = "another-token-jti-entirely-0001"
    assert await allowlist(endpoint).allows(token, claims_of(minter), clock()) is False


@pytest.mark.parametrize(
    "body", [b'{"active": "true"}', b'{"active": 1}', b"{}", b'{"active": null}']
)
async def test_only_json_true_means_active(
    endpoint: IntrospectionEndpoint, minter: Minter, clock: FixedClock, body: bytes
) -> None:
    token = minter.token(allowlisted=False)
    endpoint.body = body
    assert await allowlist(endpoint).allows(token, claims_of(minter), clock()) is False


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, b"{}"), (503, b""), (401, b'{"error":"invalid_client"}'), (302, b""), (200, b"[]"),
     (200, b"not json"), (200, HUGE_INTEGER)],
)  # fmt: skip
async def test_trouble_fails_closed(
    endpoint: IntrospectionEndpoint, minter: Minter, clock: FixedClock, status: int, body: bytes
) -> None:
    token = minter.token(allowlisted=False)
    endpoint.active.add(token)
    endpoint.status, endpoint.body = status, body
    with pytest.raises(StoreUnavailable):
        await allowlist(endpoint).allows(token, claims_of(minter), clock())


async def test_transport_error_fails_closed(
    endpoint: IntrospectionEndpoint, minter: Minter, clock: FixedClock
) -> None:
    token = minter.token(allowlisted=False)
    endpoint.raise_error = True
    with pytest.raises(StoreUnavailable):
        await allowlist(endpoint).allows(token, claims_of(minter), clock())


async def test_no_cache_by_default(
    endpoint: IntrospectionEndpoint, minter: Minter, clock: FixedClock
) -> None:
    token = minter.token(allowlisted=False)
    endpoint.active.add(token)
    check = allowlist(endpoint)
    assert await check.allows(token, claims_of(minter), clock())
    endpoint.active.clear()  # revoked at the issuer
    assert not await check.allows(token, claims_of(minter), clock())
    assert len(endpoint.requests) == 2


async def test_optional_cache_delays_revocation_by_at_most_cache_seconds(
    endpoint: IntrospectionEndpoint, minter: Minter, clock: FixedClock
) -> None:
    token = minter.token(allowlisted=False)
    endpoint.active.add(token)
    check = allowlist(endpoint, cache_seconds=5)
    assert await check.allows(token, claims_of(minter), clock())
    endpoint.active.clear()
    assert await check.allows(token, claims_of(minter), clock() + 4.9)  # cached
    assert len(endpoint.requests) == 1
    assert not await check.allows(token, claims_of(minter), clock() + 5.0)
    assert len(endpoint.requests) == 2


@pytest.mark.parametrize("seconds", [5.01, 60, -1])
def test_cache_is_bounded(endpoint: IntrospectionEndpoint, seconds: float) -> None:
    with pytest.raises(ConfigurationError):
        allowlist(endpoint, cache_seconds=seconds)


def test_https_only_and_secret_not_in_repr(endpoint: IntrospectionEndpoint) -> None:
    with pytest.raises(ConfigurationError):
        IntrospectionAllowlist("http://auth.example.com/oauth/introspect", "a", "b")
    assert "s3cret" not in repr(allowlist(endpoint))


async def test_verifier_with_introspection_against_a_stand_in_endpoint(
    endpoint: IntrospectionEndpoint,
    minter: Minter,
    clock: FixedClock,
    key_source: JwksKeySource,
) -> None:
    verifier = Verifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        allowlist=allowlist(endpoint),
        keys=key_source,
        clock=clock,
    )
    token = minter.token(allowlisted=False)
    endpoint.active.add(token)
    assert (await verifier.verify(token)).jti == claims_of(minter).jti
    endpoint.active.clear()
    with refused_for("not in the allowlist"):
        await verifier.verify(token)


async def test_an_unreadable_answer_is_a_503_through_the_middleware_never_a_500(
    endpoint: IntrospectionEndpoint,
    minter: Minter,
    clock: FixedClock,
    key_source: JwksKeySource,
) -> None:
    verifier = Verifier(
        issuer=ISSUER, audience=AUDIENCE, allowlist=allowlist(endpoint), keys=key_source,
        clock=clock,
    )  # fmt: skip
    token = minter.token(allowlisted=False)
    endpoint.active.add(token)
    endpoint.body = HUGE_INTEGER
    app = starlette_app(verifier, [])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://api.test") as http:
        response = await http.get("/orders/1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(StoreUnavailable.retry_after_seconds)
    assert response.json()["error"] == "temporarily_unavailable"
