"""Per-route scope rules and path lists, as a resource server applies them.

The rule syntax is the app's `--route` syntax (`jwtkeep.core.scopes`): `"METHOD /path=scope"`
where METHOD is an HTTP method or `*` and a trailing `*` in the path matches any rest
(`/admin/*` covers `/admin` too, never `/administrator`). The first matching rule wins.
A route no rule matches needs a valid token and no extra scope, unless `deny_unmatched`
is on: then it is refused (403 `insufficient_scope`), so the rules are an allowlist and a
route added without a rule is closed rather than open (OWASP Top 10 2021 A01: "Except
for public resources, deny by default").
This is the article's "if you want some users to access only some paths of your app".

Paths are matched after RFC 3986 §5.2.4 dot-segment removal and with repeated slashes
collapsed, so `/public/../admin` or `//admin` cannot slip past a rule written for
`/admin`. A HEAD request is held to the rules of GET as well (frameworks answer HEAD with
the GET handler), so a GET-only rule cannot be sidestepped with HEAD.

`RouteTable` answers all of it for one request at once (public? token in the URL allowed?
which scope?) and remembers the answer per `(method, path)`, so the common request does
no path normalization or rule matching; the memo is bounded in entries and path length,
since paths come from clients.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.scopes import RouteRule, parse_route_rule, required_scope
from jwtkeep.errors import InsufficientScope

__all__ = [
    "MEMO_ENTRIES",
    "MEMO_PATH_CHARS",
    "PathRule",
    "Route",
    "RouteRule",
    "RouteTable",
    "authorize",
    "check_scope",
    "normalize_path",
    "parse_path_rules",
    "parse_route_rule",
    "parse_routes",
    "scope_for",
]

_SLASHES = re.compile(r"/{2,}")
MEMO_ENTRIES = 4096  # distinct (method, path) answers kept; emptied when full
MEMO_PATH_CHARS = 256  # a longer path is answered every time, never kept


def normalize_path(path: str) -> str:
    """Remove `.` and `..` segments (RFC 3986 §5.2.4) and collapse repeated slashes."""
    path = _SLASHES.sub("/", path or "/")
    if not path.startswith("/"):
        path = "/" + path
    segments: list[str] = []
    for segment in path.split("/")[1:]:
        if segment == "..":
            if segments:
                segments.pop()
        elif segment != ".":
            segments.append(segment)
    trailing = path.endswith(("/.", "/..")) and segments
    return "/" + "/".join(segments) + ("/" if trailing else "")


@dataclass(frozen=True)
class PathRule:
    """A path (optionally with a method) for `public_paths` / `token_in_query_paths`:
    `"/health"`, `"/files/*"`, `"GET /export/*"`."""

    method: str
    path: str

    def matches(self, method: str, path: str) -> bool:
        return RouteRule(self.method, self.path, scope="").matches(method, path)


def _parse_path_rule(text: str) -> PathRule:
    text = text.strip()
    method, _, path = text.rpartition(" ")
    method = method.strip().upper() or "*"
    # Reuse the route-rule grammar (and its errors) with a placeholder scope.
    rule = parse_route_rule(f"{method} {path}=x")
    return PathRule(method=rule.method, path=rule.path)


def parse_path_rules(paths: Iterable[str | PathRule]) -> tuple[PathRule, ...]:
    """Parse path patterns; raises ValueError naming the bad one."""
    return tuple(p if isinstance(p, PathRule) else _parse_path_rule(p) for p in paths)


def parse_routes(routes: Iterable[str | RouteRule]) -> tuple[RouteRule, ...]:
    """Parse `"METHOD /path/*=scope"` rules (or pass RouteRule through)."""
    return tuple(r if isinstance(r, RouteRule) else parse_route_rule(r) for r in routes)


def scope_for(rules: Iterable[RouteRule], method: str, path: str) -> str | None:
    """The scope the first matching rule asks for, or None. HEAD also matches GET rules
    (`RouteRule.matches`, the one place that says so)."""
    return required_scope(rules, method.upper(), normalize_path(path))


def authorize(
    claims: AccessClaims,
    method: str,
    path: str,
    rules: Iterable[RouteRule],
    *,
    deny_unmatched: bool = False,
) -> str | None:
    """Raise InsufficientScope (403, RFC 6750 §3.1) if the matching rule's scope is not in
    the token, or if no rule matches and `deny_unmatched` is on; return the scope that
    was required (None when no rule matched)."""
    needed = scope_for(rules, method, path)
    check_scope(claims, needed, deny_unmatched=deny_unmatched)
    return needed


def check_scope(claims: AccessClaims, needed: str | None, *, deny_unmatched: bool) -> None:
    """The rule `authorize` applies once the matching rule's scope (`needed`, None when no
    rule matched) is known: InsufficientScope (403, RFC 6750 §3.1) if it is missing."""
    if needed is None:
        if deny_unmatched:
            raise InsufficientScope(None)
    elif needed not in claims.scope.split():
        raise InsufficientScope(needed)


def _matches(rules: tuple[PathRule, ...], method: str, path: str) -> bool:
    if not rules:
        return False
    path = normalize_path(path)
    return any(rule.matches(method, path) for rule in rules)


@dataclass(frozen=True, slots=True)
class Route:
    """What the rules say about one `(method, path)`."""

    public: bool  # in `public_paths`: no token needed
    token_in_query: bool  # in `token_in_query_paths`: a URL token is allowed
    scope: str | None  # the first matching rule's scope; None if no rule matched


class RouteTable:
    """The path lists and route rules of one guard, answered per `(method, path)`."""

    def __init__(
        self,
        routes: Iterable[str | RouteRule] = (),
        public_paths: Iterable[str | PathRule] = (),
        token_in_query_paths: Iterable[str | PathRule] = (),
    ) -> None:
        self.routes = parse_routes(routes)
        self.public_paths = parse_path_rules(public_paths)
        self.token_in_query_paths = parse_path_rules(token_in_query_paths)
        self._memo: dict[tuple[str, str], Route] = {}

    @property
    def remembered(self) -> int:
        """How many `(method, path)` answers are kept (at most `MEMO_ENTRIES`)."""
        return len(self._memo)

    def route(self, method: str, path: str) -> Route:
        key = (method, path)
        found = self._memo.get(key)
        if found is not None:
            return found
        found = Route(
            public=_matches(self.public_paths, method, path),
            token_in_query=_matches(self.token_in_query_paths, method, path),
            scope=scope_for(self.routes, method, path) if self.routes else None,
        )
        if len(path) <= MEMO_PATH_CHARS:
            if len(self._memo) >= MEMO_ENTRIES:
                self._memo.clear()
            self._memo[key] = found
        return found
