"""Scopes (RFC 6749 §3.3) and per-route scope rules.

A route rule reads `"METHOD /path/*=scope"` (DESIGN.md, `jwtkeep app create --route`):
METHOD is an HTTP method or `*`; the path matches literally, with a trailing `*` matching
any rest of the path; the scope is one scope token the request's token must hold.
`/admin/*` also matches `/admin` itself (the folder is part of what the rule protects;
a rule that missed it would leave `/admin` open), but never `/administrator`. The first
matching rule wins; what an unmatched route needs is the resource server's choice
(`jwtkeep.sdk.rules.authorize`, `deny_unmatched`).
This is the article's "if you want some users to access only some paths of your app".

`account` and `openid` are jwtkeep's own scopes, for its account API (`/userinfo`,
`/auth/*`, whose audience is the issuer URL): never an app's own scope, never in the
default scope set (DESIGN.md "Contract: tokens").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from jwtkeep.errors import InvalidValue

__all__ = [
    "ACCOUNT_SCOPE",
    "ACCOUNT_SCOPES",
    "MAX_SCOPES",
    "OPENID_SCOPE",
    "RouteRule",
    "check_scope_tokens",
    "parse_route_rule",
    "parse_scope",
    "required_scope",
]

ACCOUNT_SCOPE = "account"  # every account route
OPENID_SCOPE = "openid"  # `/userinfo` only (OIDC Core §5.3)
ACCOUNT_SCOPES = frozenset({ACCOUNT_SCOPE, OPENID_SCOPE})

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*"})
MAX_SCOPES = 64


def parse_scope(text: str | None) -> frozenset[str]:
    """Space-delimited scope string to a set; raises InvalidValue on bad tokens."""
    if text is None or text.strip() == "":
        return frozenset()
    tokens = text.split(" ")
    if len(tokens) > MAX_SCOPES or any(not _SCOPE_TOKEN.fullmatch(t) for t in tokens):
        raise InvalidValue("malformed scope")
    return frozenset(tokens)


def check_scope_tokens(scopes: Iterable[str]) -> None:
    for scope in scopes:
        if not _SCOPE_TOKEN.fullmatch(scope):
            raise InvalidValue(f"malformed scope token {scope!r}")


@dataclass(frozen=True)
class RouteRule:
    method: str
    path: str
    scope: str

    def matches(self, method: str, path: str) -> bool:
        method = method.upper()
        # RFC 9110 §9.3.2: HEAD is GET without a body, so it needs what GET needs.
        if method == "HEAD" and self.method == "GET":
            method = "GET"
        if self.method not in ("*", method):
            return False
        if self.path.endswith("/*"):
            folder = self.path[:-2]
            return path == folder or path.startswith(folder + "/")
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path

    def __str__(self) -> str:
        return f"{self.method} {self.path}={self.scope}"


def parse_route_rule(text: str) -> RouteRule:
    """Parse `"METHOD /path/*=scope"`; raises InvalidValue with what is wrong."""
    target, sep, scope = text.rpartition("=")
    method, _, path = target.strip().partition(" ")
    method, path, scope = method.upper(), path.strip(), scope.strip()
    if not sep or method not in _METHODS:
        raise InvalidValue(f"route rule must read 'METHOD /path=scope', got {text!r}")
    if not path.startswith("/") or "*" in path[:-1] or " " in path:
        raise InvalidValue(f"route path must start with / and may only end in *: {text!r}")
    check_scope_tokens([scope])
    return RouteRule(method=method, path=path, scope=scope)


def required_scope(rules: Iterable[RouteRule], method: str, path: str) -> str | None:
    for rule in rules:
        if rule.matches(method, path):
            return rule.scope
    return None
