"""Issue/verify round trips and every claim rule (RFC 9068 §2.2, §4; RFC 7519 §4.1)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jwtkeep.core.access_token import (
    TokenRejected,
    UnknownKeyId,
    issue_access_token,
    verify_access_token,
)
from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.compact import b64url_decode
from jwtkeep.core.keyring import KeyStatus
from tests.core.helpers import ISSUER, NOW, RULES, claims, new_key, payload, ring_of, sign_with

KEY = new_key()
RING = ring_of(KEY)


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "PS256", "RS256", "HS256"])
def test_round_trip_for_every_supported_algorithm(alg: str) -> None:
    key = new_key(alg, kid=f"k-{alg}")
    token = issue_access_token(claims(), key)
    assert verify_access_token(token, ring_of(key), RULES, NOW) == claims()


def test_header_is_the_rfc_9068_profile() -> None:
    token = issue_access_token(claims(), KEY)
    header = json.loads(b64url_decode(token.split(".")[0]))
    assert header == {"alg": "EdDSA", "typ": "at+jwt", "kid": "key-1"}


def test_payload_has_exactly_the_contract_claims() -> None:
    token = issue_access_token(claims(), KEY)
    body = json.loads(b64url_decode(token.split(".")[1]))
    assert set(body) == {
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "sid",
    }  # fmt: skip


def test_app_extra_claims_round_trip() -> None:
    token = issue_access_token(claims(extra={"tenant_id": "t-1"}), KEY)
    verified = verify_access_token(token, RING, RULES, NOW)
    assert verified.extra == {"tenant_id": "t-1"}


def verify_payload(body: dict[str, Any], now: float = NOW) -> AccessClaims:
    return verify_access_token(sign_with(KEY, body), RING, RULES, now)


@pytest.mark.parametrize(
    "missing", ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "sid", "client_id"]
)
def test_every_required_claim_is_required(missing: str) -> None:
    with pytest.raises(TokenRejected, match=missing):
        verify_payload(payload(**{missing: ...}))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"aud": "other-api"}, "audience"),
        ({"aud": ["other-api", "billing-api"]}, "audience"),
        ({"aud": []}, "aud"),
        ({"aud": [""]}, "aud"),
        ({"aud": ["api.example.test", "api.example.test"]}, "distinct"),
        ({"aud": ["api.example.test", 5]}, "aud"),
        ({"aud": ["api.example.test", *(f"api-{i}" for i in range(8))]}, "aud"),
        ({"aud": {"api.example.test": True}}, "aud"),
        ({"exp": NOW - 31}, "expired"),
        ({"nbf": NOW + 31}, "not yet valid"),
        ({"iat": NOW + 31, "exp": NOW + 300}, "future"),
        ({"exp": NOW + 7200}, "lifetime"),
        ({"exp": NOW - 1, "iat": NOW, "nbf": NOW - 10}, "lifetime"),
        ({"sub": "alice@example.com"}, "UUID"),
        ({"sub": "{00000000-0000-4000-8000-00000000002a}"}, "UUID"),
        ({"sub": "0000002A-0000-4000-8000-000000000000"}, "canonical"),
        ({"jti": "short"}, "jti"),
        ({"exp": "1800000300"}, "NumericDate"),
        ({"exp": True}, "NumericDate"),
        ({"exp": 1e300}, "range"),
        ({"scope": ["read"]}, "scope"),
        ({"client_id": 5}, "client_id"),
    ],
)
def test_claim_rules(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(TokenRejected, match=reason):
        verify_payload(payload(**changes))


def test_leeway_is_honoured_both_ways() -> None:
    assert verify_payload(payload(exp=NOW - 29, iat=NOW - 300, nbf=NOW - 300)).exp == NOW - 29
    assert verify_payload(payload(nbf=NOW + 29)).nbf == NOW + 29


def test_single_audience_in_an_array_is_accepted() -> None:
    assert verify_payload(payload(aud=["api.example.test"])).aud == "api.example.test"


def test_an_audience_array_holding_ours_is_accepted() -> None:
    # RFC 7519 §4.1.3 allows an array; RFC 9068 §4: ours must be among them. jwtkeep
    # issues [app audience, issuer] for tokens that may also reach its account API.
    verified = verify_payload(payload(aud=["api.example.test", ISSUER]))
    assert verified.aud == ("api.example.test", ISSUER)
    assert verified.audiences == ("api.example.test", ISSUER)
    assert verified.to_payload()["aud"] == ["api.example.test", ISSUER]


def test_audience_none_accepts_any_audience_for_introspection() -> None:
    # Only introspection and revocation look at any app's token; the account API checks
    # its own audience, the issuer (tests/server/test_account_audience.py).
    rules = replace(RULES, audience=None)
    token = sign_with(KEY, payload(aud="some-app"))
    assert verify_access_token(token, RING, rules, NOW).aud == "some-app"


def test_unknown_kid_is_reported_distinctly_for_a_reload() -> None:
    stranger = new_key(kid="stranger")
    with pytest.raises(UnknownKeyId) as caught:
        verify_access_token(issue_access_token(claims(), stranger), RING, RULES, NOW)
    assert caught.value.kid == "stranger"


@pytest.mark.parametrize("status", [KeyStatus.RETIRED, KeyStatus.COMPROMISED])
def test_withdrawn_keys_do_not_verify(status: KeyStatus) -> None:
    token = issue_access_token(claims(), KEY)
    with pytest.raises(UnknownKeyId):
        verify_access_token(token, ring_of(KEY, status=status), RULES, NOW)


def test_retiring_keys_still_verify() -> None:
    token = issue_access_token(claims(), KEY)
    assert verify_access_token(token, ring_of(KEY, status=KeyStatus.RETIRING), RULES, NOW)


@settings(max_examples=200)
@given(st.text(max_size=400))
def test_any_text_verifies_or_raises_the_librarys_own_error(text: str) -> None:
    try:
        verify_access_token(text, RING, RULES, NOW)
    except TokenRejected:
        return
    pytest.fail("arbitrary text verified")


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=200), st.binary(min_size=1, max_size=3))
def test_any_byte_flip_of_a_real_token_is_refused(position: int, noise: bytes) -> None:
    token = issue_access_token(claims(), KEY)
    index = position % len(token)
    flipped = token[:index] + noise.hex()[:1] + token[index + 1 :]
    if flipped == token:
        return
    with pytest.raises(TokenRejected):
        verify_access_token(flipped, RING, RULES, NOW)


@given(st.dictionaries(st.sampled_from(sorted(payload())), st.none() | st.integers() | st.text()))
def test_any_signed_payload_verifies_or_raises_the_librarys_own_error(
    changes: dict[str, Any],
) -> None:
    with contextlib.suppress(TokenRejected):
        verify_payload(payload(**changes))
