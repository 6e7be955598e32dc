"""Where a bearer token may come from (RFC 6750 §2), parsed strictly and framework-free.

- The `Authorization` request header is the one place a token is taken from
  (RFC 6750 §2.1): `Bearer 1*SP b64token`, the scheme matched case-insensitively
  (RFC 9110 §11.1), exactly one header and exactly one token.
- A token in the URL query (`access_token`, RFC 6750 §2.3) is refused with 400
  `invalid_request` unless the route opted in: URLs end up in logs, histories, caches and
  `Referer` headers (RFC 6750 §5.3, RFC 9700 §4.3.2, and the article: "Don't append your
  tokens in a URL"). On an opted-in route the response must not be cached
  (`URL_TOKEN_RESPONSE_HEADERS`).
- A token in a form body (RFC 6750 §2.2) is refused with 400 as well: jwtkeep never reads
  one, and accepting it silently would teach clients a leaky habit.
- Using more than one method in one request is refused (RFC 6750 §2: "MUST NOT").
- A request with no bearer credentials at all (or another scheme) gets 401 with a bare
  `Bearer` challenge and no error code (RFC 6750 §3.1).

Nothing here logs or echoes a token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import parse_qsl

from jwtkeep.core.compact import MAX_TOKEN_BYTES
from jwtkeep.core.fingerprint import DIGEST, Fingerprint
from jwtkeep.errors import InvalidRequest, InvalidToken, MissingToken

__all__ = [
    "MAX_AUTHORIZATION_BYTES",
    "QUERY_PARAMETER",
    "URL_TOKEN_RESPONSE_HEADERS",
    "MissingToken",
    "form_has_token",
    "lookup_fingerprint",
    "query_tokens",
    "single_query_token",
    "token_from_header",
]

QUERY_PARAMETER = "access_token"  # RFC 6750 §2.2 and §2.3
MAX_AUTHORIZATION_BYTES = MAX_TOKEN_BYTES + 64
# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_SCHEME = "bearer"
_SCHEME_PREFIX = b"Bearer "  # as RFC 6750 §2.1 spells it
_SCHEME_PREFIX_LOWER = _SCHEME_PREFIX.lower()

# RFC 6750 §2.3 / RFC 9111 §5.2.2.5 and the article: a page fetched with a token in its
# URL must not be cached, nor leak its URL through `Referer`.
URL_TOKEN_RESPONSE_HEADERS: tuple[tuple[str, str], ...] = (
    ("cache-control", "no-store"),
    ("pragma", "no-cache"),
    ("referrer-policy", "no-referrer"),
)


def token_from_header(values: Sequence[str]) -> str | None:
    """The one bearer token of the `Authorization` header(s), or None if there is none.

    Raises InvalidRequest for a malformed `Bearer` credential or repeated header, and
    InvalidToken for a well-formed but oversized token (RFC 8725 §3: bound the input).
    """
    if not values:
        return None
    if len(values) > 1:
        raise InvalidRequest("Send exactly one Authorization header.")
    value = values[0].strip(" \t")
    if len(value) > MAX_AUTHORIZATION_BYTES:
        raise InvalidToken("authorization header too large")
    scheme, _, rest = value.partition(" ")
    if scheme.lower() != _SCHEME:
        return None  # another scheme (or none): "lacks authentication information"
    token = rest.lstrip(" ")
    if not token:
        raise InvalidRequest("The Bearer credential has no token.")
    if not _B64TOKEN.fullmatch(token):
        raise InvalidRequest("The Bearer credential must be exactly one token.")
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
    return token


def lookup_fingerprint(value: bytes) -> Fingerprint | None:
    """The fingerprint of the token of a `Bearer <token>` header value (raw bytes, as the
    ASGI server gives them), for a verdict-cache lookup only; None if it cannot hit.

    A lookup succeeds only for a token that passed the full check, and such a token is a
    compact JWS (RFC 7515 §7.1: base64url segments and dots, at most MAX_TOKEN_BYTES):
    so on a hit `value` was exactly the scheme (any case), one space and a b64token, and
    `token_from_header((value.decode("latin-1"),))` returns the same token (the hash
    stands for the character check: bytes that are not that token do not hash to its
    fingerprint). That skips the decoding and the regex over the whole token on a hit. On
    None, or on a miss, use `token_from_header`, which names what is wrong. One function,
    with the hash inline (`DIGEST`): it runs on every request of an API.
    """
    if len(value) > MAX_AUTHORIZATION_BYTES:
        return None
    # The scheme is case-insensitive (RFC 7235 §2.1); "Bearer " as RFC 6750 §2.1 spells
    # it is tested first, since nearly every client sends exactly that.
    if not value.startswith(_SCHEME_PREFIX) and value[:7].lower() != _SCHEME_PREFIX_LOWER:
        return None  # ASCII case only: other bytes never match
    return Fingerprint(DIGEST(value[7:]).digest())


def query_tokens(query_string: str) -> list[str]:
    """Every `access_token` value in the query (an empty value counts: it was sent)."""
    if not query_string:
        return []
    pairs = parse_qsl(query_string, keep_blank_values=True)
    return [value for name, value in pairs if name == QUERY_PARAMETER]


def single_query_token(values: Sequence[str]) -> str:
    """The one query token of an opted-in route; InvalidRequest if repeated or malformed."""
    if len(values) != 1 or not _B64TOKEN.fullmatch(values[0]):
        raise InvalidRequest("The access_token query parameter is malformed.")
    if len(values[0]) > MAX_TOKEN_BYTES:
        raise InvalidToken("token too large")
    return values[0]


def form_has_token(body: bytes) -> bool:
    """True if an `application/x-www-form-urlencoded` body carries `access_token`."""
    text = body.decode("latin-1")
    return any(k == QUERY_PARAMETER for k, _ in parse_qsl(text, keep_blank_values=True))
