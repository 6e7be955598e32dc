"""Strict parsing of a JWS in compact serialization (RFC 7515 §7.1), before any crypto.

Refuses, cheaply and before the signature is checked:
- anything over `MAX_TOKEN_BYTES` (RFC 8725 §3.? resource exhaustion; a token is a header);
- anything that is not exactly three base64url segments of the RFC 7515 §2 alphabet
  with no padding (RFC 7515 §2 "Base64url Encoding");
- a header that is not a JSON object, has duplicate member names (RFC 7515 §5.2 allows
  refusing them, and we do), or names `jku`, `x5u`, `jwk`, `x5c` or `crit` (RFC 8725 §3.10:
  never fetch or trust keys named by the token; we also understand no critical extension);
- a `typ` other than the one asked for: `at+jwt` for access tokens (RFC 9068 §2.1), `JWT`
  for ID tokens (OIDC Core §2 leaves it open; RFC 8725 §3.11 explicit typing, §3.12: an
  access token must never pass as an ID token nor the reverse);
- a missing or odd `kid`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jwtkeep.errors import TokenError

__all__ = [
    "ACCESS_TOKEN_TYP",
    "FORBIDDEN_HEADERS",
    "ID_TOKEN_TYP",
    "MAX_KID_LENGTH",
    "MAX_TOKEN_BYTES",
    "MalformedToken",
    "ParsedToken",
    "b64url_decode",
    "b64url_encode",
    "parse_compact",
    "strict_json_object",
]

MAX_TOKEN_BYTES = 4096
MAX_KID_LENGTH = 128
ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105 (a media type, not a secret)
ID_TOKEN_TYP = "JWT"  # noqa: S105 (a media type, not a secret)
_TYP_NAMES = {
    ACCESS_TOKEN_TYP: (ACCESS_TOKEN_TYP, "application/at+jwt"),
    ID_TOKEN_TYP: ("jwt", "application/jwt"),
}
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit", "zip"})
_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_KID = re.compile(rf"[A-Za-z0-9_.-]{{1,{MAX_KID_LENGTH}}}")


class MalformedToken(TokenError, ValueError):
    """The token is not a well-formed compact JWS that jwtkeep would ever issue (also a
    `ValueError`: strict JSON and base64url parsing refuse bad values)."""


@dataclass(frozen=True, slots=True)
class ParsedToken:
    header: Mapping[str, Any]
    kid: str
    alg: str
    signing_input: bytes  # ASCII(header "." payload), RFC 7515 §5.2 step 8
    payload_segment: str
    signature: bytes


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Strict base64url without padding: a length of 1 mod 4 is impossible (RFC 4648 §5)."""
    if len(segment) % 4 == 1:
        raise MalformedToken("bad base64url length")
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise MalformedToken("bad base64url") from None
    # Non-canonical encodings (stray low bits) would let two strings name one token.
    if b64url_encode(raw) != segment:
        raise MalformedToken("non-canonical base64url")
    return raw


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedToken("duplicate JSON member")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise MalformedToken(f"non-standard JSON constant {name}")


def strict_json_object(raw: bytes) -> dict[str, Any]:
    """UTF-8 JSON (RFC 8259 §8.1) that is an object, without duplicate names or NaN."""
    try:
        text = raw.decode("utf-8", "strict")
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except MalformedToken:
        raise  # a duplicate member or a NaN, refused by the hooks above
    except (ValueError, RecursionError):
        # ValueError: bad UTF-8, bad JSON, or an integer past Python's digit limit (which
        # is no JSONDecodeError, and used to escape as a bare ValueError: a 500).
        raise MalformedToken("not JSON") from None
    if not isinstance(value, dict):
        raise MalformedToken("not a JSON object")
    return value


def parse_compact(token: str, typ: str = ACCESS_TOKEN_TYP) -> ParsedToken:
    """Parse and vet structure and header (whose `typ` must be `typ`); the signature is
    not checked here."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise MalformedToken("token too large or not text")
    if not _COMPACT.fullmatch(token):
        raise MalformedToken("not a compact JWS")
    header_segment, payload_segment, signature_segment = token.split(".")
    signature = b64url_decode(signature_segment)
    header, kid, alg = _parse_header(header_segment, typ)
    signing_input = token[: len(header_segment) + 1 + len(payload_segment)].encode("ascii")
    return ParsedToken(header, kid, alg, signing_input, payload_segment, signature)


@lru_cache(maxsize=256)
def _parse_header(header_segment: str, want_typ: str) -> tuple[Mapping[str, Any], str, str]:
    """Vet one header. Cached: every token a key signs has the same header, so the hot
    path decodes it once. Only valid headers are cached (exceptions are not), and the
    cache is bounded, so junk cannot grow it."""
    header = strict_json_object(b64url_decode(header_segment))
    forbidden = FORBIDDEN_HEADERS.intersection(header)
    if forbidden:
        raise MalformedToken(f"forbidden header {sorted(forbidden)[0]}")
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _TYP_NAMES[want_typ]:
        raise MalformedToken(f"typ is not {want_typ}")
    kid, alg = header.get("kid"), header.get("alg")
    if not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise MalformedToken("missing or malformed kid")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise MalformedToken("missing or none alg")
    return MappingProxyType(header), kid, alg
