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
from jwtkeep.core.jose import JoseKey, load_key
from jwtkeep.core.keyring import KeyRing
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


def refused(token: str, reason: str, ring: KeyRing = RING) -> None:
    """Refused, and for `reason` (a regex on TokenRejected's message): an attack test that
    passed because of some other failure (a bad signature, say) would prove nothing."""
    with pytest.raises(TokenRejected, match=reason):
        verify_access_token(token, ring, RULES, NOW)


def with_kid(key: JoseKey, kid: str) -> JoseKey:
    """The same key material under another `kid`: what it signs carries that `kid` in a
    header the real key signed (so only the `kid` rule, not the signature, can refuse)."""
    return load_key(key.alg, kid, key.private_jwk())


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
@pytest.mark.parametrize("signature", ["AA", "c2lnbmF0dXJl"])
def test_alg_none(alg: str, signature: str) -> None:
    header = {"alg": alg, "typ": "at+jwt", "kid": "key-1"}
    refused(f"{segment(header)}.{segment(payload())}.{signature}", "missing or none alg")


@pytest.mark.parametrize("alg", ["none", "NONE"])
def test_alg_none_with_an_empty_signature_is_not_even_a_compact_jws(alg: str) -> None:
    header = {"alg": alg, "typ": "at+jwt", "kid": "key-1"}
    refused(f"{segment(header)}.{segment(payload())}.", "not a compact JWS")


def test_key_confusion_hs256_with_the_public_key_as_secret() -> None:
    # The classic: verify an HMAC with the server's *public* key bytes as the secret.
    public = KEY.public_jwk()
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "key-1"}
    for secret in (public["x"].encode(), base64.urlsafe_b64decode(public["x"] + "=")):
        refused(hmac_forge(secret, header, payload()), "alg does not match the key")


def test_key_confusion_against_an_rsa_key() -> None:
    # CVE-2016-10555 shape: HS256 keyed with the RSA public key as published.
    rsa = new_key("RS256", kid="rsa-1")
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "rsa-1"}
    for secret in (json.dumps(rsa.public_jwk()).encode(), rsa.public_jwk()["n"].encode()):
        with pytest.raises(TokenRejected, match="alg"):
            verify_access_token(hmac_forge(secret, header, payload()), ring_of(rsa), RULES, NOW)


def test_embedded_jwk_is_not_trusted() -> None:
    # Correctly signed by the key in its own `jwk` header: a verifier that trusted the
    # header would accept it. Our ring even holds that key, so only the header rule
    # (RFC 8725 §3.10, compact.FORBIDDEN_HEADERS) stands between it and acceptance.
    attacker = new_key(kid="key-1")  # the attacker even reuses our kid
    token = sign_with(attacker, payload(), jwk=attacker.public_jwk())
    assert attacker.verify(token)  # the signature is good
    refused(token, "forbidden header jwk", ring_of(attacker))


def test_embedded_jwk_naming_our_own_key_is_refused_by_the_header_rule() -> None:
    # Signed by our real key and carrying our real public key: nothing but the header
    # rule is wrong. The same token without `jwk` verifies (the control).
    assert verify_access_token(sign_with(KEY, payload()), RING, RULES, NOW).jti == claims().jti
    refused(sign_with(KEY, payload(), jwk=KEY.public_jwk()), "forbidden header jwk")


def test_attacker_key_with_our_kid_fails_the_signature() -> None:
    attacker = new_key(kid="key-1")
    with pytest.raises(TokenRejected, match="signature"):
        verify_access_token(issue_access_token(claims(), attacker), RING, RULES, NOW)


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_key_urls_are_never_followed(member: str) -> None:
    token = sign_with(KEY, payload(), **{member: "https://evil.example/jwks.json"})
    refused(token, f"forbidden header {member}")


def test_x5c_chain_is_not_trusted() -> None:
    refused(sign_with(KEY, payload(), x5c=["MIIB"]), "forbidden header x5c")


def test_crit_header_is_refused() -> None:
    # joserfc will not even sign this; an attacker writes it by hand.
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": "key-1", "crit": ["exp"], "exp": 1}
    token = f"{segment(header)}.{segment(payload())}.{'A' * 86}"
    with pytest.raises(TokenRejected, match="crit"):
        verify_access_token(token, RING, RULES, NOW)


KID_INJECTIONS = [
    "../../etc/passwd",
    "../../../../dev/null",
    "' OR 1=1 --",
    "key-1' OR '1'='1",
    "key-1\u0000",
    "$(reboot)",
    "*",
    "https://evil.example/jwks.json",
    "key-1\nkid: other",
]


@pytest.mark.parametrize("kid", KID_INJECTIONS)
def test_kid_injection(kid: str) -> None:
    # A VALID signature by our real key over a header naming the evil kid, verified
    # against a ring that holds our key under that very kid: if the kid rule
    # (compact._KID) were gone the token would be accepted, so the refusal is the rule.
    evil = with_kid(KEY, kid)
    token = issue_access_token(claims(), evil)
    assert evil.verify(token)
    refused(token, "malformed kid", ring_of(evil))


def test_kid_naming_an_hmac_key_by_path_cannot_switch_algorithm() -> None:
    hmac_key = new_key("HS256", kid="hmac-1")
    ring = ring_of(KEY, hmac_key)
    header = {"alg": "EdDSA", "typ": "at+jwt", "kid": "hmac-1"}
    token = hmac_forge(b"0123456789abcdef0123456789abcdef", header, payload())
    with pytest.raises(TokenRejected, match="alg"):
        verify_access_token(token, ring, RULES, NOW)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("eyJhbGciOiJFZERTQSJ9.!!!.AAAA", "not a compact JWS"),
        (f"{segment('{not json')}.e30.AAAA", "malformed: not JSON"),
        (f"{segment('[1]')}.e30.AAAA", "malformed: not a JSON object"),
        (f"{OUR_HEADER}.e30=.AAAA", "not a compact JWS"),
        (f"{OUR_HEADER}.e30.AAB", "non-canonical base64url"),  # stray low bits set
    ],
)
def test_bad_base64_and_bad_json(token: str, reason: str) -> None:
    refused(token, reason)


def test_payload_that_is_not_json_but_correctly_signed() -> None:
    refused(sign_with(KEY, b"\xff\xfe not json"), "claims: not JSON")


def test_duplicate_claims_in_a_signed_payload() -> None:
    body = json.dumps(payload())[:-1] + ', "sub": "00000000-0000-4000-8000-000000000001"}'
    refused(sign_with(KEY, body.encode()), "claims: duplicate JSON member")


def test_expired() -> None:
    token = issue_access_token(claims(exp=NOW - 120, iat=NOW - 400, nbf=NOW - 400), KEY)
    refused(token, "claims: expired")


def test_not_yet_valid() -> None:
    refused(issue_access_token(claims(nbf=NOW + 120, iat=NOW, exp=NOW + 300), KEY),
            "claims: not yet valid")  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"aud": "other-app"}, "wrong audience"), ({"iss": "https://other.example"}, "wrong issuer")],
)
def test_wrong_audience_or_issuer(changes: dict[str, Any], reason: str) -> None:
    refused(issue_access_token(claims(**changes), KEY), f"claims: {reason}")


def test_id_token_typ_substitution() -> None:
    # RFC 8725 §3.11: a JWT of another kind (typ JWT) must not pass as an access token.
    header = {"typ": "JWT"}
    token = KEY.sign(header, json.dumps(payload()).encode())
    refused(token, "typ is not at\\+jwt")


def test_signature_stripping_and_payload_swap() -> None:
    honest = issue_access_token(claims(), KEY)
    head, _, sig = honest.split(".")
    evil_body = segment(payload(scope="admin"))
    refused(f"{head}.{evil_body}.{sig}", "bad signature")
    refused(f"{head}.{honest.split('.')[1]}.", "not a compact JWS")


def test_psychic_signature_ecdsa_zero() -> None:
    # CVE-2022-21449: r = s = 0 must never verify.
    es = new_key("ES256", kid="es-1")
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "es-1"}
    token = f"{segment(header)}.{segment(payload())}.{b64url_encode(bytes(64))}"
    refused(token, "bad signature", ring_of(es))


def test_overlong_token_is_refused_cheaply() -> None:
    refused(sign_with(KEY, payload(pad="x" * 5000)), "token too large")


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
