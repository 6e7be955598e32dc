"""Where a token may come from (RFC 6750 §2) and how paths and rules are matched."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwtkeep.core.compact import MAX_TOKEN_BYTES
from jwtkeep.errors import InvalidRequest, InvalidToken
from jwtkeep.sdk.bearer import (
    MissingToken,
    form_has_token,
    query_tokens,
    single_query_token,
    token_from_header,
)
from jwtkeep.sdk.rules import normalize_path, parse_path_rules, parse_routes, scope_for
from tests.support.refusals import refused_for

TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    "value", [f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER   {TOKEN}", f"  Bearer {TOKEN}\t"]
)
def test_bearer_header_accepted(value: str) -> None:
    assert token_from_header([value]) == TOKEN


@pytest.mark.parametrize("value", ["Basic dXNlcjpwYXNz", "", "Token abc", "Bearerx abc"])
def test_no_bearer_credentials(value: str) -> None:
    assert token_from_header([value]) is None
    assert token_from_header([]) is None


NO_TOKEN = "The Bearer credential has no token."
NOT_ONE_TOKEN = "The Bearer credential must be exactly one token."


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("Bearer", NO_TOKEN),
        ("Bearer ", NO_TOKEN),
        (f"Bearer {TOKEN} {TOKEN}", NOT_ONE_TOKEN),
        (f"Bearer {TOKEN},x", NOT_ONE_TOKEN),
        ('Bearer "abc"', NOT_ONE_TOKEN),
        ("Bearer a\u00e9", NOT_ONE_TOKEN),
    ],
)
def test_malformed_bearer_is_invalid_request(value: str, reason: str) -> None:
    with pytest.raises(InvalidRequest, match=re.escape(reason)):
        token_from_header([value])


def test_two_headers_are_invalid_request() -> None:
    with pytest.raises(InvalidRequest, match="Send exactly one Authorization header"):
        token_from_header([f"Bearer {TOKEN}", f"Bearer {TOKEN}"])


def test_oversized_token_is_invalid_token() -> None:
    with refused_for("^token too large$"):  # over MAX_TOKEN_BYTES, header still in bounds
        token_from_header(["Bearer " + "a" * (MAX_TOKEN_BYTES + 1)])
    with refused_for("^authorization header too large$"):
        token_from_header(["Bearer " + "a" * 5000])
    with refused_for("^authorization header too large$"):
        token_from_header(["Bearer " + "a" * 100_000])


@given(st.lists(st.text(max_size=200), max_size=3))
def test_header_parsing_never_fails_unexpectedly(values: list[str]) -> None:
    try:
        token = token_from_header(values)
    except (InvalidRequest, InvalidToken):
        return
    assert token is None or (token in values[0] and " " not in token)


def test_missing_token_challenge_has_no_error_code() -> None:
    missing = MissingToken()
    assert missing.status_code == 401
    assert missing.headers() == {"WWW-Authenticate": 'Bearer realm="jwtkeep"'}


def test_query_tokens() -> None:
    assert query_tokens("") == []
    assert query_tokens("a=1&b=2") == []
    assert query_tokens(f"a=1&access_token={TOKEN}") == [TOKEN]
    assert query_tokens("access_token=") == [""]  # sent, even if empty
    assert query_tokens("%61ccess_token=x") == ["x"]  # percent-encoded name still counts
    assert single_query_token([TOKEN]) == TOKEN
    for bad in ([TOKEN, TOKEN], [""], ["a b"]):
        with pytest.raises(InvalidRequest, match="The access_token query parameter is malformed"):
            single_query_token(bad)


def test_form_has_token() -> None:
    assert form_has_token(b"access_token=abc&x=1")
    assert form_has_token(b"x=1&access%5Ftoken=abc")
    assert not form_has_token(b"username=a&password=b")
    assert not form_has_token(b"\xff\xfe")


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/", "/"),
        ("", "/"),
        ("/a/b", "/a/b"),
        ("/a/b/", "/a/b/"),
        ("//admin", "/admin"),
        ("/public/../admin", "/admin"),
        ("/public/./../admin/x", "/admin/x"),
        ("/../../etc", "/etc"),
        ("/a/.", "/a/"),
        ("/a/b/..", "/a/"),
    ],
)
def test_normalize_path(raw: str, normal: str) -> None:
    assert normalize_path(raw) == normal


@given(st.text(alphabet="/.ab", max_size=30))
def test_normalized_paths_have_no_dot_segments(raw: str) -> None:
    path = normalize_path(raw)
    assert path.startswith("/")
    assert "//" not in path
    assert all(segment not in (".", "..") for segment in path.split("/"))
    assert normalize_path(path) == path


def test_path_rules() -> None:
    rules = parse_path_rules(["/health", "GET /files/*", "* /docs"])
    assert rules[0].matches("POST", "/health")
    assert rules[1].matches("GET", "/files/a/b")
    assert not rules[1].matches("POST", "/files/a")
    assert not rules[0].matches("GET", "/healthz")
    for bad in ["health", "/a*b", "FETCH /x", "/a b"]:
        with pytest.raises(ValueError, match="route"):
            parse_path_rules([bad])


def test_scope_for_first_match_and_head_as_get() -> None:
    rules = parse_routes(["GET /reports/*=reports:read", "* /reports/*=reports:any"])
    assert scope_for(rules, "GET", "/reports/1") == "reports:read"
    assert scope_for(rules, "POST", "/reports/1") == "reports:any"
    # HEAD runs the GET handler in most frameworks: it must not dodge the GET rule.
    assert scope_for(rules, "HEAD", "/reports/1") == "reports:read"
    assert scope_for(rules, "get", "/x/../reports/2") == "reports:read"
    assert scope_for(rules, "GET", "/other") is None
