"""Verifier: every check of a real token, the second layer, and route authorization."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jwtkeep.core.clock import FixedClock
from jwtkeep.core.jose import JoseKey, generate_key
from jwtkeep.errors import ConfigurationError, InsufficientScope, InvalidToken, StoreUnavailable
from jwtkeep.sdk import JwksKeySource, Verifier, parse_routes
from tests.sdk.helpers import AUDIENCE, ISSUER, JwksEndpoint, Minter, SetAllowlist, other_key
from tests.support.refusals import refused_for


async def test_valid_allowlisted_token_verifies(verifier: Verifier, minter: Minter) -> None:
    token = minter.token("orders:read orders:write")
    claims = await verifier.verify(token)
    assert claims == minter.issued[-1]
    assert claims.scopes == {"orders:read", "orders:write"}


async def test_revoked_token_is_refused(
    verifier: Verifier, minter: Minter, allowlist: SetAllowlist
) -> None:
    token = minter.token()
    allowlist.revoke(token)
    with pytest.raises(InvalidToken) as refused:
        await verifier.verify(token)
    assert "allowlist" in refused.value.reason
    assert refused.value.body() == {
        "error": "invalid_token",
        "error_description": "The access token is invalid.",
    }


async def test_token_forged_with_unpublished_key_is_refused(
    verifier: Verifier, minter: Minter
) -> None:
    # Same kid as the real key, and even allowlisted: the signature does not verify.
    forged = minter.token(key=other_key("kid-1"))
    with refused_for("bad signature"):
        await verifier.verify(forged)


async def test_unknown_kid_is_refused_after_one_refresh(
    verifier: Verifier, minter: Minter, jwks: JwksEndpoint, clock: FixedClock
) -> None:
    await verifier.verify(minter.token())
    clock.advance(31)
    forged = minter.token(key=other_key("kid-attacker"))
    for _ in range(5):
        with refused_for("unknown or withdrawn kid"):
            await verifier.verify(forged)
    assert jwks.requests == 2


async def test_public_key_as_hmac_secret_is_refused(
    verifier: Verifier, minter: Minter, signing_key: JoseKey
) -> None:
    # RFC 8725 §2.1 algorithm confusion: HS256 "signed" with the public key's bytes.
    secret = json.dumps(signing_key.public_jwk(), sort_keys=True).encode()
    confused = generate_key("HS256", "kid-1", hmac_secret=secret)
    with refused_for("alg does not match the key"):
        await verifier.verify(minter.token(key=confused))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "billing-api"}, "wrong audience"),  # another app's token
        ({"aud": ("billing-api", ISSUER)}, "wrong audience"),  # another app's account token
        ({"aud": ISSUER}, "wrong audience"),  # a token for the issuer's account API alone
        ({"iss": "https://evil.test"}, "wrong issuer"),
        ({"exp": 1_800_000_000 - 31}, "expired"),  # beyond the 30 s leeway
        ({"nbf": 1_800_000_000 + 31}, "not yet valid"),
        ({"exp": 1_800_000_000 + 7200}, "lifetime out of bounds"),  # above max_lifetime
        ({"sub": "alice@example.com"}, "sub is not a canonical UUID"),
        ({"jti": "short"}, "jti too short"),
    ],
)
async def test_bad_claims_are_refused(
    verifier: Verifier, minter: Minter, overrides: dict[str, Any], reason: str
) -> None:
    with refused_for(f"^claims: {reason}$"):
        await verifier.verify(minter.token(**overrides))


async def test_an_account_scoped_token_for_this_api_verifies(
    verifier: Verifier, minter: Minter
) -> None:
    # jwtkeep gives `aud: [app audience, issuer]` with the `account` scope; RFC 9068 §4:
    # an API accepts a token whose audiences include its own.
    token = minter.token("orders:read account", aud=(AUDIENCE, ISSUER))
    assert (await verifier.verify(token)).audiences == (AUDIENCE, ISSUER)


async def test_leeway_is_applied(verifier: Verifier, minter: Minter) -> None:
    token = minter.token(exp=1_800_000_000 - 29, iat=1_800_000_000 - 300)
    assert (await verifier.verify(token)).exp == 1_800_000_000 - 29


async def test_allowlist_outage_fails_closed(
    verifier: Verifier, minter: Minter, allowlist: SetAllowlist
) -> None:
    token = minter.token()
    allowlist.unavailable = True
    with pytest.raises(StoreUnavailable):
        await verifier.verify(token)


async def test_allowlist_not_asked_for_a_bad_signature(
    verifier: Verifier, minter: Minter, allowlist: SetAllowlist
) -> None:
    with refused_for("bad signature"):
        await verifier.verify(minter.token(key=other_key()))
    assert allowlist.calls == 0


async def test_authorize_applies_route_rules(verifier: Verifier, minter: Minter) -> None:
    claims = await verifier.verify(minter.token("orders:read"))
    rules = parse_routes(["DELETE /orders/*=orders:admin", "GET /orders/*=orders:read"])
    assert verifier.authorize(claims, "GET", "/orders/1", rules) == "orders:read"
    assert verifier.authorize(claims, "POST", "/orders/1", rules) is None
    assert verifier.authorize(claims, "GET", "/orders/2", ["GET /orders/*=orders:read"])
    with pytest.raises(InsufficientScope) as refused:
        verifier.authorize(claims, "DELETE", "/orders/1", rules)
    assert refused.value.status_code == 403
    assert 'scope="orders:admin"' in refused.value.headers()["WWW-Authenticate"]


def test_configuration_is_checked(allowlist: SetAllowlist) -> None:
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISSUER, audience="", allowlist=allowlist)
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISSUER, audience=AUDIENCE, allowlist=allowlist, leeway=3600)
    with pytest.raises(ConfigurationError):
        Verifier(issuer=ISSUER, audience=AUDIENCE, allowlist=allowlist, max_lifetime=0)


def test_default_key_source_is_the_issuer_jwks(allowlist: SetAllowlist) -> None:
    verifier = Verifier(issuer=ISSUER, audience=AUDIENCE, allowlist=allowlist)
    assert isinstance(verifier.keys, JwksKeySource)
    assert verifier.keys.url == f"{ISSUER}/.well-known/jwks.json"


async def test_other_algorithms_from_the_jwks(allowlist: SetAllowlist, clock: FixedClock) -> None:
    keys = [generate_key("ES256", "ec"), generate_key("EdDSA", "ed")]
    jwks = JwksEndpoint(keys=keys)
    source = JwksKeySource(ISSUER, http_client=jwks.client(), clock=clock)
    verifier = Verifier(
        issuer=ISSUER, audience=AUDIENCE, allowlist=allowlist, keys=source, clock=clock
    )
    for key in keys:
        token = Minter(key=key, clock=clock, allowlist=allowlist).token()
        assert (await verifier.verify(token)).aud == AUDIENCE
