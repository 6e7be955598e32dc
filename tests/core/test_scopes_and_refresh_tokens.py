"""Scopes (RFC 6749 §3.3), route rules, and the refresh token format."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwtkeep.core.clock import new_id
from jwtkeep.core.hosts import is_loopback
from jwtkeep.core.refresh_token import REFRESH_PREFIX, new_refresh_token, refresh_token_session
from jwtkeep.core.scopes import RouteRule, parse_route_rule, parse_scope, required_scope


def counter_random(n: int) -> bytes:
    return bytes(range(n))


def test_parse_scope() -> None:
    assert parse_scope("read write read") == {"read", "write"}
    assert parse_scope(None) == frozenset()
    assert parse_scope("  ") == frozenset()


@pytest.mark.parametrize("bad", ["read  write", 'a"b', "a\\b", "a\tb", "é", " read"])
def test_malformed_scope_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        parse_scope(bad)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("GET /orders/*=orders:read", RouteRule("GET", "/orders/*", "orders:read")),
        ("post /orders=orders:write", RouteRule("POST", "/orders", "orders:write")),
        ("* /admin/*=admin", RouteRule("*", "/admin/*", "admin")),
    ],
)
def test_route_rules_parse(text: str, rule: RouteRule) -> None:
    assert parse_route_rule(text) == rule


@pytest.mark.parametrize(
    "bad", ["GET /x", "FETCH /x=s", "GET x=s", "GET /a*/b=s", "GET /x=", "GET /x=a b", "=s"]
)
def test_bad_route_rules_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match=r"route|scope"):
        parse_route_rule(bad)


def test_first_matching_rule_wins() -> None:
    rules = [parse_route_rule("GET /orders/42=special"), parse_route_rule("* /orders/*=orders")]
    assert required_scope(rules, "GET", "/orders/42") == "special"
    assert required_scope(rules, "DELETE", "/orders/42") == "orders"
    assert required_scope(rules, "GET", "/ordersX") is None
    assert required_scope(rules, "GET", "/health") is None


@pytest.mark.parametrize(
    ("path", "covered"),
    [("/admin", True), ("/admin/", True), ("/admin/users/1", True),
     ("/administrator", False), ("/adminx/1", False), ("/", False)],
)  # fmt: skip
def test_a_folder_rule_covers_the_folder_itself(path: str, covered: bool) -> None:
    rule = parse_route_rule("* /admin/*=admin")
    assert rule.matches("GET", path) is covered


def test_a_prefix_rule_without_slash_keeps_matching_any_rest() -> None:
    rule = parse_route_rule("GET /files*=files")
    assert rule.matches("GET", "/files")
    assert rule.matches("GET", "/files-old/1")
    assert parse_route_rule("* /*=any").matches("GET", "/")


def test_head_needs_what_get_needs() -> None:
    rules = [parse_route_rule("GET /orders/*=orders:read")]
    assert required_scope(rules, "HEAD", "/orders/1") == "orders:read"
    assert required_scope(rules, "head", "/orders/1") == "orders:read"
    assert required_scope([parse_route_rule("HEAD /x=h")], "GET", "/x") is None


def test_refresh_token_shape() -> None:
    sid = new_id(counter_random)
    token = new_refresh_token(sid, counter_random)
    assert token.startswith(REFRESH_PREFIX + sid + ".")
    assert len(token.split(".")[1]) == 43  # 256 bits
    assert refresh_token_session(token) == sid


@given(st.text(max_size=200))
def test_refresh_token_parser_never_crashes(text: str) -> None:
    sid = refresh_token_session(text)
    assert sid is None or text.startswith(REFRESH_PREFIX + sid + ".")


def test_an_access_token_is_not_a_refresh_token() -> None:
    assert refresh_token_session("eyJhbGciOiJFZERTQSJ9.e30.AAAA") is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True), ("127.8.9.10", True),
     ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("10.0.0.1", False),
     ("example.com", False), ("localhost.example.com", False), ("", False)],
)  # fmt: skip
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
