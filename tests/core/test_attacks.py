"""Published JWT attacks, each refused (RFC 8725 §2 threats, §3 mitigations).

The last one — a correctly signed token that was never issued — is refused by the second
layer (the allowlist), tested through the one verification call.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from jwtkeep.core.access_token import TokenRejected, issue_access_token, verify_access_token
from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.compact import b64url_encode
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.errors import InvalidToken
from jwtkeep.usecases.verification import TokenVerifier
from tests.core.helpers import (
    NOW,
    RULES,
    claims,
    hmac_forge,
    new_key,
    payload,
    ring_of,
    segment,
    sign_with,
)

KEY = new_key()
RING = ring_of(KEY)
OUR_HEADER = segment({"alg": "EdDSA", "typ": "at+jwt", "kid": "key-1"})


def refused(token: str) -> None:
    with pytest.raises(TokenRejected):
        verify_access_token(token, RING, RULES, NOW)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["", "AA", "c2lnbmF0dXJl"])
def test_alg_none(alg: str, signature: str) -> None:
    header = {"alg": alg, "typ": "at+jwt", "kid": "key-1"}
    refused(f"{segment(header)}.{segment(payload())}.{signature}")


def test_key_confusion_hs256_with_the_public_key_as_secret() -> None:
    # The classic: verify an HMAC with the server's *public* key bytes as the secret.
    public = KEY.public_jwk()
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "key-1"}
    for secret in (public["x"].encode(), base64.urlsafe_b64decode(public["x"] + "=")):
        refused(hmac_forge(secret, header, payload()))


def test_key_confusion_against_an_rsa_key() -> None:
    # CVE-2016-10555 shape: HS256 keyed with the RSA public key as published.
    rsa = new_key("RS256", kid="rsa-1")
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "rsa-1"}
    for secret in (json.dumps(rsa.public_jwk()).encode(), rsa.public_jwk()["n"].encode()):
        with pytest.raises(TokenRejected, match="alg"):
            verify_access_token(hmac_forge(secret, header, payload()), ring_of(rsa), RULES, NOW)


def test_embedded_jwk_is_not_trusted() -> None:
    attacker = new_key(kid="key-1")  # the attacker even reuses our kid
    token = sign_with(attacker, payload(), jwk=attacker.public_jwk())
    refused(token)


def test_attacker_key_with_our_kid_fails_the_signature() -> None:
    attacker = new_key(kid="key-1")
    with pytest.raises(TokenRejected, match="signature"):
        verify_access_token(issue_access_token(claims(), attacker), RING, RULES, NOW)


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_key_urls_are_never_followed(member: str) -> None:
    refused(sign_with(KEY, payload(), **{member: "https://evil.example/jwks.json"}))


def test_x5c_chain_is_not_trusted() -> None:
    refused(sign_with(KEY, payload(), x5c=["MIIB"]))


def test_crit_header_is_refused() -> None:
    # joserfc will not even sign this; an attacker writes it by hand.
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": "key-1", "crit": ["exp"], "exp": 1}
    token = f"{segment(header)}.{segment(payload())}.{'A' * 86}"
    with pytest.raises(TokenRejected, match="crit"):
        verify_access_token(token, RING, RULES, NOW)


@pytest.mark.parametrize(
    "kid", ["../../../../dev/null", "key-1' OR '1'='1", "key-1\u0000", "$(reboot)", "*"]
)
def test_kid_injection(kid: str) -> None:
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": kid}
    refused(f"{segment(header)}.{segment(payload())}.{'A' * 86}")


def test_kid_naming_an_hmac_key_by_path_cannot_switch_algorithm() -> None:
    hmac_key = new_key("HS256", kid="hmac-1")
    ring = ring_of(KEY, hmac_key)
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": "hmac-1"}
    token = hmac_forge(b"0123456789abcdef0123456789abcdef", header, payload())
    with pytest.raises(TokenRejected, match="alg"):
        verify_access_token(token, ring, RULES, NOW)


@pytest.mark.parametrize(
    "token",
    [
        "eyJhbGciOiJFZERTQSJ9.!!!.AAAA",
        f"{OUR_HEADER}.{b64url_encode(b'not json')}.AAAA",
        f"{segment('{not json')}.e30.AAAA",
        f"{OUR_HEADER}.e30=.AAAA",
    ],
)
def test_bad_base64_and_bad_json(token: str) -> None:
    refused(token)


def test_payload_that_is_not_json_but_correctly_signed() -> None:
    refused(sign_with(KEY, b"\xff\xfe not json"))


def test_duplicate_claims_in_a_signed_payload() -> None:
    body = json.dumps(payload())[:-1] + ', "sub": "00000000-0000-4000-8000-000000000001"}'
    refused(sign_with(KEY, body.encode()))


def test_expired() -> None:
    refused(issue_access_token(claims(exp=NOW - 120, iat=NOW - 400, nbf=NOW - 400), KEY))


def test_not_yet_valid() -> None:
    refused(issue_access_token(claims(nbf=NOW + 120, iat=NOW, exp=NOW + 300), KEY))


@pytest.mark.parametrize("changes", [{"aud": "other-app"}, {"iss": "https://other.example"}])
def test_wrong_audience_or_issuer(changes: dict[str, Any]) -> None:
    refused(issue_access_token(claims(**changes), KEY))


def test_id_token_typ_substitution() -> None:
    # RFC 8725 §3.11: a JWT of another kind (typ JWT) must not pass as an access token.
    header = {"typ": "JWT"}
    token = KEY.sign(header, json.dumps(payload()).encode())
    refused(token)


def test_signature_stripping_and_payload_swap() -> None:
    honest = issue_access_token(claims(), KEY)
    head, _, sig = honest.split(".")
    evil_body = segment(payload(scope="admin"))
    refused(f"{head}.{evil_body}.{sig}")
    refused(f"{head}.{honest.split('.')[1]}.")


def test_psychic_signature_ecdsa_zero() -> None:
    # CVE-2022-21449: r = s = 0 must never verify.
    es = new_key("ES256", kid="es-1")
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "es-1"}
    token = f"{segment(header)}.{segment(payload())}.{b64url_encode(bytes(64))}"
    with pytest.raises(TokenRejected):
        verify_access_token(token, ring_of(es), RULES, NOW)


def test_overlong_token_is_refused_cheaply() -> None:
    refused(sign_with(KEY, payload(pad="x" * 5000)))


class SetAllowlist:
    """A test double of the allowlist *port* (not of Redis): a set of fingerprints."""

    def __init__(self) -> None:
        self.fingerprints: set[bytes] = set()

    async def allows(self, token: str, claims: AccessClaims, now: float) -> bool:
        return fingerprint(token) in self.fingerprints


class StaticKeys:
    async def ring(self):  # type: ignore[no-untyped-def]
        return RING

    async def ring_after_miss(self, kid: str):  # type: ignore[no-untyped-def]
        return RING


async def test_correctly_signed_token_never_issued_is_refused_by_the_allowlist() -> None:
    # A leaked signing key lets an attacker mint perfect tokens; the article's second
    # layer refuses them because their fingerprints were never stored.
    allowlist = SetAllowlist()
    verifier = TokenVerifier(StaticKeys(), allowlist, RULES, clock=lambda: NOW)
    issued = issue_access_token(claims(), KEY)
    allowlist.fingerprints.add(fingerprint(issued))
    assert (await verifier.verify(issued)).jti == claims().jti
    forged = issue_access_token(claims(jti="f" * 22, scope="admin"), KEY)
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(forged)
    assert "allowlist" in caught.value.reason
    assert caught.value.body() == {
        "error": "invalid_token",
        "error_description": "The access token is invalid.",
    }
