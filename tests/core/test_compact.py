"""Strict compact-JWS parsing (RFC 7515 §7.1, RFC 8725 §3.10-3.11)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwtkeep.core.compact import (
    MAX_TOKEN_BYTES,
    MalformedToken,
    b64url_decode,
    b64url_encode,
    parse_compact,
    strict_json_object,
)
from tests.core.helpers import segment

GOOD_HEADER = {"alg": "EdDSA", "typ": "at+jwt", "kid": "key-1"}


def token_with(header: dict[str, Any] | str, body: str = "e30", sig: str = "c2ln") -> str:
    head = header if isinstance(header, str) else segment(header)
    return f"{head}.{body}.{sig}"


def test_a_well_formed_token_parses() -> None:
    parsed = parse_compact(token_with(GOOD_HEADER))
    assert (parsed.kid, parsed.alg, parsed.payload_segment) == ("key-1", "EdDSA", "e30")


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk", "x5c", "crit", "zip"])
def test_key_carrying_and_critical_headers_are_refused(name: str) -> None:
    with pytest.raises(MalformedToken, match=name):
        parse_compact(token_with({**GOOD_HEADER, name: "https://evil.example/keys"}))


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "at+jwt2", 7])
def test_typ_must_be_at_jwt(typ: object) -> None:
    header = {k: v for k, v in GOOD_HEADER.items() if k != "typ"}
    if typ is not None:
        header["typ"] = typ  # type: ignore[assignment]
    with pytest.raises(MalformedToken, match="typ"):
        parse_compact(token_with(header))


def test_typ_media_type_form_is_accepted() -> None:
    assert parse_compact(token_with({**GOOD_HEADER, "typ": "application/at+jwt"})).kid == "key-1"


@pytest.mark.parametrize("kid", [None, "", 5, "../../etc/passwd", "a b", "k" * 129, "' OR 1=1--"])
def test_kid_must_be_a_short_plain_identifier(kid: object) -> None:
    header = {**GOOD_HEADER, "kid": kid}
    with pytest.raises(MalformedToken, match="kid"):
        parse_compact(token_with(header))


@pytest.mark.parametrize("alg", [None, "none", "NONE", "None", 256])
def test_alg_none_or_missing_is_refused(alg: object) -> None:
    with pytest.raises(MalformedToken, match="alg"):
        parse_compact(token_with({**GOOD_HEADER, "alg": alg}))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "a..c",
        "a.b.",
        ".b.c",
        "eyJ=.e30.c2ln",
        "eyJ+.e30.c2ln",
        "ey J.e30.c2ln",
        "eyJhbGciOiJFZERTQSJ9.e30.c2ln\n",
        "ëyJ.e30.c2ln",
    ],
)
def test_not_three_base64url_segments_is_refused(token: str) -> None:
    with pytest.raises(MalformedToken):
        parse_compact(token)


def test_oversized_token_is_refused_before_parsing() -> None:
    big = token_with(GOOD_HEADER, body="A" * MAX_TOKEN_BYTES)
    with pytest.raises(MalformedToken, match="too large"):
        parse_compact(big)


def test_duplicate_header_members_are_refused() -> None:
    raw = '{"alg":"EdDSA","typ":"at+jwt","kid":"key-1","kid":"other"}'
    with pytest.raises(MalformedToken, match="duplicate"):
        parse_compact(token_with(segment(raw)))


@pytest.mark.parametrize("raw", ["[1,2]", '"str"', "null", "{", '{"a":NaN}', '{"a":Infinity}'])
def test_header_must_be_a_plain_json_object(raw: str) -> None:
    with pytest.raises(MalformedToken):
        parse_compact(token_with(segment(raw)))


def test_header_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(MalformedToken, match="JSON"):
        parse_compact(token_with(b64url_encode(b'{"alg":"\xff"}')))


def test_non_canonical_base64url_is_refused() -> None:
    # "e31" decodes to the same byte as "e30" with stray low bits; two spellings of one
    # token would let a copy dodge a fingerprint match.
    with pytest.raises(MalformedToken, match="non-canonical"):
        b64url_decode("e31")
    assert b64url_decode("e30") == b"{}"


def test_impossible_base64_length_is_refused() -> None:
    with pytest.raises(MalformedToken):
        b64url_decode("abcde")


@given(st.text(max_size=300))
def test_any_text_parses_or_raises_malformed(text: str) -> None:
    with contextlib.suppress(MalformedToken):
        parse_compact(text)


@given(st.binary(max_size=200), st.binary(max_size=200), st.binary(max_size=80))
def test_any_three_segments_parse_or_raise_malformed(head: bytes, body: bytes, sig: bytes) -> None:
    token = ".".join(b64url_encode(part) or "A" for part in (head, body, sig))
    with contextlib.suppress(MalformedToken):
        parse_compact(token)


@given(st.dictionaries(st.text(max_size=8), st.none() | st.integers() | st.text(max_size=8)))
def test_any_json_header_parses_or_raises_malformed(header: dict[str, object]) -> None:
    try:
        parsed = parse_compact(token_with(header))
    except MalformedToken:
        return
    assert parsed.header == header


@given(st.binary(max_size=300))
def test_strict_json_object_only_raises_malformed(raw: bytes) -> None:
    with contextlib.suppress(MalformedToken):
        assert isinstance(strict_json_object(raw), dict)


@pytest.mark.parametrize(
    "raw",
    [b'{"exp": 1' + b"0" * 5000 + b"}", b"[" * 100_000, b'{"a": 1, "a": 2}', b'{"a": NaN}'],
    ids=["integer-past-the-digit-limit", "deep", "duplicate", "nan"],
)
def test_strict_json_object_refuses_what_json_refuses_as_malformed(raw: bytes) -> None:
    # json raises a bare ValueError (not JSONDecodeError) past its integer digit limit;
    # it used to escape as a 500 from the SDK's introspection client.
    with pytest.raises(MalformedToken):
        strict_json_object(raw)
