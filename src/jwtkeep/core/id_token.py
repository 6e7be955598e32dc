"""OpenID Connect ID tokens (OIDC Core 1.0 §2, §3.1.3.6), issued and read back (pure).

- Header `typ: JWT` and the signing key's own `kid`/`alg`: the same key ring as access
  tokens, told apart by explicit typing (RFC 8725 §3.11-3.12). An ID token never passes
  `verify_access_token` (its `typ` is not `at+jwt`, it has no `jti` or `scope`), and an
  access token never passes `read_id_token_hint` (its `typ` is `at+jwt`).
- Claims: `iss`, `sub`, `aud` (the client id, OIDC Core §2), `exp`, `iat`, `auth_time`,
  `nonce` (when the request had one, §3.1.2.1), `sid` (the jwtkeep session, OIDC
  Front-Channel Logout §3), `at_hash` (§3.1.3.6: the left half of the hash of the access
  token, with the hash of the signing algorithm; SHA-512 for EdDSA/Ed25519).
- `read_id_token_hint` is for RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2): the
  signature and issuer must verify; an expired token is still a valid hint there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from jwtkeep.core.compact import (
    ID_TOKEN_TYP,
    MalformedToken,
    b64url_decode,
    b64url_encode,
    parse_compact,
    strict_json_object,
)
from jwtkeep.core.jose import JoseKey, SignatureInvalid
from jwtkeep.core.keyring import KeyRing
from jwtkeep.errors import InvalidValue

__all__ = ["IdClaims", "IdTokenHint", "at_hash", "issue_id_token", "read_id_token_hint"]

_HASHES = {
    "EdDSA": hashlib.sha512,
    "ES256": hashlib.sha256,
    "PS256": hashlib.sha256,
    "RS256": hashlib.sha256,
    "HS256": hashlib.sha256,
}


@dataclass(frozen=True)
class IdClaims:
    iss: str
    sub: str
    aud: str  # the client id
    exp: int
    iat: int
    auth_time: int
    sid: str
    at_hash: str
    nonce: str | None = None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "iss": self.iss,
            "sub": self.sub,
            "aud": self.aud,
            "exp": self.exp,
            "iat": self.iat,
            "auth_time": self.auth_time,
            "sid": self.sid,
            "at_hash": self.at_hash,
        }
        if self.nonce is not None:
            payload["nonce"] = self.nonce
        return payload


def at_hash(access_token: str, alg: str) -> str:
    """OIDC Core §3.1.3.6: base64url of the left-most half of the hash of the ASCII token."""
    digest = _HASHES[alg](access_token.encode("ascii")).digest()
    return b64url_encode(digest[: len(digest) // 2])


def issue_id_token(claims: IdClaims, key: JoseKey) -> str:
    payload = json.dumps(claims.to_payload(), separators=(",", ":"), sort_keys=True)
    return key.sign({"typ": ID_TOKEN_TYP}, payload.encode("utf-8"))


@dataclass(frozen=True)
class IdTokenHint:
    sub: str
    aud: str
    sid: str


def read_id_token_hint(token: str, ring: KeyRing, issuer: str) -> IdTokenHint:
    """A hint we issued (signature by a key of the ring, `typ: JWT`, our `iss`); expiry is
    not checked (RP-Initiated Logout §2 allows an expired hint). InvalidValue otherwise."""
    try:
        parsed = parse_compact(token, ID_TOKEN_TYP)
        key = ring.verifier(parsed.kid)
        if key is None or parsed.alg != key.alg:  # RFC 8725 §3.1: the key decides the alg
            raise InvalidValue("unknown key or algorithm")
        key.verify_signature(parsed.signing_input, parsed.signature)
        payload = strict_json_object(b64url_decode(parsed.payload_segment))
    except (MalformedToken, SignatureInvalid) as exc:
        raise InvalidValue(f"not an ID token of this issuer: {exc}") from None
    values = [payload.get(name) for name in ("iss", "sub", "aud", "sid")]
    if not all(isinstance(v, str) and 0 < len(v) <= 512 for v in values):
        raise InvalidValue("ID token hint lacks iss, sub, aud or sid")
    if payload["iss"] != issuer or "auth_time" not in payload:
        raise InvalidValue("not an ID token of this issuer")
    return IdTokenHint(sub=payload["sub"], aud=payload["aud"], sid=payload["sid"])
