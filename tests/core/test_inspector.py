"""The token inspector: every pitfall it names, and that no input can crash it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jwtkeep.core.access_token import issue_access_token
from jwtkeep.core.claims import PERSONAL_DATA_CLAIMS, AccessClaims
from jwtkeep.core.inspector import (
    LONG_LIFETIME_SECONDS,
    MAX_INSPECT_CHARS,
    Report,
    Severity,
    inspect_token,
)
from jwtkeep.core.jose import generate_key

NOW = 1_800_000_000
SUB = "3f1e2d4c-5b6a-4978-8a1b-2c3d4e5f6a7b"
GOOD_HEADER = {"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(value: Any) -> str:
    return b64(json.dumps(value).encode())


def good_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "iss": "https://auth.example", "sub": SUB, "aud": "https://api.example",
        "exp": NOW + 300, "nbf": NOW, "iat": NOW, "jti": "x" * 22, "client_id": "c1",
        "scope": "read", "sid": "s1",
    }  # fmt: skip
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def token(header: dict[str, Any] | None = None, payload: dict[str, Any] | None = None,
          signature: str = "c2lnbmF0dXJl") -> str:  # fmt: skip
    return f"{segment(header or GOOD_HEADER)}.{segment(payload or good_payload())}.{signature}"


def hs_token(secret: bytes, alg: str = "HS256", payload: dict[str, Any] | None = None) -> str:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = f"{segment({'alg': alg, 'typ': 'at+jwt', 'kid': 'k'})}."
    signing_input += segment(payload or good_payload())
    mac = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(mac)}"


def codes(report: Report) -> set[str]:
    return set(report.codes())


def severity_of(report: Report, code: str) -> Severity:
    return next(p.severity for p in report.pitfalls if p.code == code)


# --- a clean token ----------------------------------------------------------------------


def test_a_token_jwtkeep_issues_has_no_pitfalls() -> None:
    claims = AccessClaims(iss="https://auth.example", sub=SUB, aud="https://api.example",
                          exp=NOW + 300, nbf=NOW, iat=NOW, jti="a" * 22, client_id="c1",
                          scope="read write", sid="s1")  # fmt: skip
    issued = issue_access_token(claims, generate_key("EdDSA", "kid-1"))
    report = inspect_token(issued, NOW + 1)
    assert report.is_jwt
    assert report.pitfalls == ()
    assert report.header is not None
    assert report.header["typ"] == "at+jwt"
    assert report.payload is not None
    assert report.payload["sub"] == SUB
    assert report.signature_checked is False


def test_bearer_prefix_and_whitespace_are_ignored() -> None:
    report = inspect_token(f"  Bearer {token()}\n", NOW)
    assert report.is_jwt
    assert report.pitfalls == ()


# --- header pitfalls ------------------------------------------------------------------


def test_alg_none_is_high() -> None:
    report = inspect_token(token({"alg": "none", "typ": "JWT", "kid": "k"}, signature=""), NOW)
    assert "alg-none" in codes(report)
    assert severity_of(report, "alg-none") is Severity.HIGH
    assert "no-signature" not in codes(report)  # expected for alg none: named once


@pytest.mark.parametrize("alg", ["None", "NONE"])
def test_alg_none_any_case(alg: str) -> None:
    assert "alg-none" in codes(inspect_token(token({"alg": alg, "kid": "k"}), NOW))


@pytest.mark.parametrize("header", [{"typ": "at+jwt", "kid": "k"}, {"alg": 5, "kid": "k"}])
def test_missing_or_odd_alg(header: dict[str, Any]) -> None:
    report = inspect_token(token(header), NOW)
    assert severity_of(report, "no-alg") is Severity.HIGH


def test_empty_signature_with_a_real_alg_is_high() -> None:
    report = inspect_token(token(signature=""), NOW)
    assert severity_of(report, "no-signature") is Severity.HIGH


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_alg_is_flagged_medium(alg: str) -> None:
    report = inspect_token(hs_token(b"k" * 64, alg), NOW)
    assert severity_of(report, "alg-hmac") is Severity.MEDIUM
    assert "hmac-public-secret" not in codes(report)


@pytest.mark.parametrize("secret", [b"secret", b"your-256-bit-secret", b"changeme", b""])
def test_a_publicly_known_hmac_secret_is_found(secret: bytes) -> None:
    report = inspect_token(hs_token(secret), NOW)
    assert severity_of(report, "hmac-public-secret") is Severity.HIGH


def test_the_found_secret_is_not_echoed() -> None:
    report = inspect_token(hs_token(b"your-256-bit-secret"), NOW)
    assert all("256-bit" not in p.message for p in report.pitfalls)


@pytest.mark.parametrize(("alg", "minimum"), [("HS256", 32), ("HS384", 48), ("HS512", 64)])
def test_hmac_secret_length_is_checked_against_the_hash_size(alg: str, minimum: int) -> None:
    short = inspect_token(
        hs_token(b"s" * (minimum - 1), alg), NOW, hmac_secret=b"s" * (minimum - 1)
    )
    assert severity_of(short, "hmac-short-secret") is Severity.HIGH
    enough = inspect_token(hs_token(b"s" * minimum, alg), NOW, hmac_secret=b"s" * minimum)
    assert "hmac-short-secret" not in codes(enough)


@pytest.mark.parametrize("secret", [b"s" * 32, b"k" * 40, bytes(range(15)) * 3])
def test_a_long_but_repetitive_hmac_secret_is_weak(secret: bytes) -> None:
    # The rule jwtkeep applies to JWTKEEP_HMAC_SECRET (core.hmac_secret), RFC 8725 §3.5.
    report = inspect_token(hs_token(secret), NOW, hmac_secret=secret)
    assert "hmac-short-secret" not in codes(report)
    assert severity_of(report, "hmac-weak-secret") is Severity.HIGH


def test_random_hmac_secret_is_neither_short_nor_weak() -> None:
    secret = secrets.token_bytes(32)
    report = inspect_token(hs_token(secret), NOW, hmac_secret=secret)
    assert {"hmac-short-secret", "hmac-weak-secret"}.isdisjoint(codes(report))


def test_secret_length_is_only_checked_for_hmac_tokens() -> None:
    assert "hmac-short-secret" not in codes(inspect_token(token(), NOW, hmac_secret=b"x"))


def test_rs256_gets_a_low_note() -> None:
    report = inspect_token(token({"alg": "RS256", "typ": "at+jwt", "kid": "k"}), NOW)
    assert severity_of(report, "alg-rsa-pkcs1") is Severity.LOW


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c"])
def test_headers_that_name_their_own_key_are_high(name: str) -> None:
    header = {**GOOD_HEADER, name: "https://evil.example/jwks.json"}
    report = inspect_token(token(header), NOW)
    assert severity_of(report, f"header-{name}") is Severity.HIGH


@pytest.mark.parametrize("name", ["crit", "zip"])
def test_crit_and_zip_headers(name: str) -> None:
    report = inspect_token(token({**GOOD_HEADER, name: ["exp"]}), NOW)
    assert severity_of(report, f"header-{name}") is Severity.MEDIUM


@pytest.mark.parametrize("name", ["typ", "kid"])
def test_missing_typ_or_kid_is_low(name: str) -> None:
    header = {k: v for k, v in GOOD_HEADER.items() if k != name}
    report = inspect_token(token(header), NOW)
    assert severity_of(report, f"no-{name}") is Severity.LOW


# --- claims ---------------------------------------------------------------------------


def test_no_exp_is_high() -> None:
    report = inspect_token(token(payload=good_payload(exp=None)), NOW)
    assert severity_of(report, "no-exp") is Severity.HIGH


@pytest.mark.parametrize(
    ("claim", "severity"),
    [("iss", Severity.MEDIUM), ("aud", Severity.MEDIUM), ("jti", Severity.MEDIUM),
     ("sub", Severity.MEDIUM), ("iat", Severity.LOW), ("nbf", Severity.LOW)],
)  # fmt: skip
def test_missing_registered_claims(claim: str, severity: Severity) -> None:
    report = inspect_token(token(payload=good_payload(**{claim: None})), NOW)
    assert severity_of(report, f"no-{claim}") is severity


@pytest.mark.parametrize(
    ("claim", "value", "severity"),
    [("exp", "1900000000", Severity.HIGH), ("exp", True, Severity.HIGH),
     ("exp", 2**60, Severity.HIGH), ("nbf", "soon", Severity.MEDIUM),
     ("iat", [1], Severity.MEDIUM)],
)  # fmt: skip
def test_times_that_are_not_numeric_dates(claim: str, value: Any, severity: Severity) -> None:
    report = inspect_token(token(payload=good_payload(**{claim: value})), NOW)
    assert severity_of(report, f"bad-{claim}") is severity


def test_lifetime_longer_than_an_hour_is_flagged() -> None:
    long = good_payload(exp=NOW + LONG_LIFETIME_SECONDS + 1)
    assert severity_of(inspect_token(token(payload=long), NOW), "long-lifetime") is Severity.MEDIUM
    exact = good_payload(exp=NOW + LONG_LIFETIME_SECONDS)
    assert "long-lifetime" not in codes(inspect_token(token(payload=exact), NOW))


def test_lifetime_without_iat_counts_from_nbf_then_from_now() -> None:
    from_nbf = good_payload(iat=None, nbf=NOW - 86400, exp=NOW + 60)
    assert "long-lifetime" in codes(inspect_token(token(payload=from_nbf), NOW))
    from_now = good_payload(iat=None, nbf=None, exp=NOW + 7 * 86400)
    assert "long-lifetime" in codes(inspect_token(token(payload=from_now), NOW))


def test_expired_and_not_yet_valid_are_information() -> None:
    expired = inspect_token(token(), NOW + 301)
    assert severity_of(expired, "expired") is Severity.INFO
    early = inspect_token(token(payload=good_payload(nbf=NOW + 100)), NOW)
    assert severity_of(early, "not-yet-valid") is Severity.INFO
    assert "expired" not in codes(inspect_token(token(), NOW + 299))


def test_iat_in_the_future() -> None:
    report = inspect_token(token(payload=good_payload(iat=NOW + 3600, exp=NOW + 3700)), NOW)
    assert "iat-in-future" in codes(report)


@pytest.mark.parametrize(
    "sub", ["alice", "alice@example.com", "42", SUB.upper().replace("-", ""), 7]
)
def test_sub_that_is_not_a_uuid(sub: Any) -> None:
    report = inspect_token(token(payload=good_payload(sub=sub)), NOW)
    assert severity_of(report, "sub-not-uuid") is Severity.MEDIUM


def test_an_uppercase_uuid_sub_is_accepted() -> None:
    report = inspect_token(token(payload=good_payload(sub=SUB.upper())), NOW)
    assert "sub-not-uuid" not in codes(report)


# --- personal data --------------------------------------------------------------------


@pytest.mark.parametrize(
    "claim", sorted(PERSONAL_DATA_CLAIMS - {"password", "passwd", "secret", "ssn"})
)
def test_every_personal_data_claim_is_flagged(claim: str) -> None:
    report = inspect_token(token(payload=good_payload(**{claim: "x"})), NOW)
    assert severity_of(report, "personal-data") is Severity.MEDIUM
    assert any(claim in p.message for p in report.pitfalls)


@pytest.mark.parametrize("claim", ["password", "passwd", "secret", "ssn"])
def test_secrets_in_the_payload_are_high(claim: str) -> None:
    report = inspect_token(token(payload=good_payload(**{claim: "hunter22"})), NOW)
    assert severity_of(report, "secret-in-payload") is Severity.HIGH
    assert all("hunter22" not in p.message for p in report.pitfalls)


@pytest.mark.parametrize(
    "value",
    [{"contact": "alice@example.com"}, {"a": {"b": ["x", "mail: bob@corp.example.org"]}},
     {"tel": "+33 6 12 34 56 78"}, {"tel": "+14155550123"}, {"deep": [{"n": "(415) 555-0123"}]}],
)  # fmt: skip
def test_email_or_phone_looking_values_anywhere(value: dict[str, Any]) -> None:
    report = inspect_token(token(payload=good_payload(extra=value)), NOW)
    assert severity_of(report, "personal-data") is Severity.MEDIUM


@pytest.mark.parametrize(
    "value", ["2030-01-01", "1800000000", "https://api.example/v1", "read write", "12:30"]
)
def test_ordinary_values_are_not_personal_data(value: str) -> None:
    report = inspect_token(token(payload=good_payload(extra=value)), NOW)
    assert "personal-data" not in codes(report)


def test_hostile_member_names_are_escaped_in_messages() -> None:
    report = inspect_token(token(payload=good_payload(**{"\x1b[31mx": "a@b.example"})), NOW)
    assert all("\x1b" not in p.message for p in report.pitfalls)
    assert "personal-data" in codes(report)


# --- not a JWT ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "three"), ("hello", "three"), ("a.b", "three"), ("a.b.c.d", "three"),
     ("!!!.e30.sig", "base64url"), (f"{segment([1])}.e30.sig", "header is not a JSON object"),
     (f"{b64(b'{')}.e30.sig", "not JSON"), (f"{segment(GOOD_HEADER)}.{b64(b'hi')}.s", "payload"),
     (f"{b64(bytes([0xff]))}.e30.sig", "UTF-8")],
)  # fmt: skip
def test_not_a_jwt_says_why(text: str, reason: str) -> None:
    report = inspect_token(text, NOW)
    assert not report.is_jwt
    assert report.error is not None
    assert reason in report.error
    assert report.pitfalls == ()
    assert report.payload is None


def test_a_jwe_is_not_inspectable() -> None:
    report = inspect_token("a.b.c.d.e", NOW)
    assert not report.is_jwt
    assert report.error is not None
    assert "JWE" in report.error


def test_non_standard_numbers_are_refused() -> None:
    for raw in (b'{"exp": NaN}', b'{"exp": Infinity}', b'{"exp": 1e999}'):
        report = inspect_token(f"{segment(GOOD_HEADER)}.{b64(raw)}.sig", NOW)
        assert not report.is_jwt, raw


def test_oversized_input_is_refused_without_decoding() -> None:
    report = inspect_token("a" * (MAX_INSPECT_CHARS + 1), NOW)
    assert not report.is_jwt
    assert report.error is not None
    assert "longer" in report.error


def test_duplicate_member_names_are_high_and_the_last_is_shown() -> None:
    raw = b'{"sub": "admin", "sub": "' + SUB.encode() + b'"}'
    report = inspect_token(f"{segment(GOOD_HEADER)}.{b64(raw)}.sig", NOW)
    assert severity_of(report, "duplicate-members") is Severity.HIGH
    assert report.payload is not None
    assert report.payload["sub"] == SUB


def test_report_as_dict_is_json_and_says_the_signature_was_not_checked() -> None:
    report = inspect_token(token(payload=good_payload(exp=None)), NOW)
    as_dict = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert as_dict["jwt"] is True
    assert as_dict["signature_checked"] is False
    assert as_dict["error"] is None
    assert {"code": "no-exp", "severity": "high"} in [
        {"code": p["code"], "severity": p["severity"]} for p in as_dict["pitfalls"]
    ]
    assert report.worst() is Severity.HIGH


# --- nothing crashes it ---------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)  # fmt: skip


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes(text: str) -> None:
    report = inspect_token(text, NOW)
    assert report.is_jwt or report.error


@settings(max_examples=300)
@given(st.lists(st.text(alphabet="AZaz09-_=.+/ ", max_size=40), min_size=1, max_size=6))
def test_dotted_base64ish_text_never_crashes(parts: list[str]) -> None:
    report = inspect_token(".".join(parts), NOW)
    assert report.is_jwt or (report.error is not None and report.error.startswith("not"))


@settings(max_examples=300)
@given(st.dictionaries(st.text(max_size=10), _json, max_size=8), _json, st.text(max_size=30))
def test_arbitrary_json_header_and_payload_never_crash(
    header: dict[str, Any], payload: Any, signature: str
) -> None:
    text = f"{segment(header)}.{segment(payload)}.{signature}"
    report = inspect_token(text, NOW)
    if isinstance(payload, dict) and "." not in signature:
        assert report.is_jwt
        assert "exp" in payload or "no-exp" in codes(report)
        json.dumps(report.to_dict(), allow_nan=False)  # the report is plain JSON
    else:
        assert not report.is_jwt


@settings(max_examples=100)
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_arbitrary_bytes_in_segments_never_crash(header: bytes, payload: bytes) -> None:
    report = inspect_token(f"{b64(header)}.{b64(payload)}.{b64(b'sig')}", NOW)
    assert report.is_jwt or report.error


def test_uuid_helper_matches_uuid_module() -> None:
    # The fixture SUB above must itself be a canonical UUID, or half these tests mean nothing.
    assert str(uuid.UUID(SUB)) == SUB


def test_pitfalls_are_listed_worst_first() -> None:
    report = inspect_token(token({"alg": "HS256"}, {"sub": "alice"}), NOW)
    order = [Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]
    ranks = [order.index(p.severity) for p in report.pitfalls]
    assert len(set(ranks)) > 1
    assert ranks == sorted(ranks)
