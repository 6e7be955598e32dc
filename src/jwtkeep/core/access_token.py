"""Issue and verify RFC 9068 JWT access tokens (pure: no store, no clock of its own).

`verify_access_token` is the signature-and-claims half of verification. The allowlist
half (the fingerprint must be in the token store) is done by
`jwtkeep.usecases.verification.TokenVerifier`, which is the one call the edges use.
"""

from __future__ import annotations

import json

from jwtkeep.core.claims import AccessClaims, ClaimError, ClaimRules, validate_claims
from jwtkeep.core.compact import (
    ACCESS_TOKEN_TYP,
    MalformedToken,
    b64url_decode,
    parse_compact,
    strict_json_object,
)
from jwtkeep.core.jose import JoseKey, SignatureInvalid
from jwtkeep.core.keyring import KeyRing
from jwtkeep.errors import TokenError

__all__ = ["TokenRejected", "UnknownKeyId", "issue_access_token", "verify_access_token"]


class TokenRejected(TokenError):
    """Why a token was refused; for the audit log only, never for the client."""


class UnknownKeyId(TokenRejected):
    """No key in the ring verifies this `kid` (a caller may reload keys once and retry)."""

    def __init__(self, kid: str) -> None:
        super().__init__("unknown or withdrawn kid")
        self.kid = kid


def issue_access_token(claims: AccessClaims, key: JoseKey) -> str:
    """Sign the claim set with `typ: at+jwt` (RFC 9068 §2.1) and the key's own `kid`/`alg`."""
    payload = json.dumps(claims.to_payload(), separators=(",", ":"), sort_keys=True)
    return key.sign({"typ": ACCESS_TOKEN_TYP}, payload.encode("utf-8"))


def verify_access_token(token: str, ring: KeyRing, rules: ClaimRules, now: float) -> AccessClaims:
    """Structure, header policy, signature (key by `kid`, algorithm from the key), claims."""
    try:
        parsed = parse_compact(token)
    except MalformedToken as exc:
        raise TokenRejected(f"malformed: {exc}") from None
    key = ring.verifier(parsed.kid)
    if key is None:
        raise UnknownKeyId(parsed.kid)
    if parsed.alg != key.alg:
        # RFC 8725 §3.1: the key decides the algorithm; a mismatch is an attack
        # (e.g. HS256 with the public key as the secret), never a fallback.
        raise TokenRejected("alg does not match the key")
    try:
        key.verify_signature(parsed.signing_input, parsed.signature)
    except SignatureInvalid:
        raise TokenRejected("bad signature") from None
    try:
        payload = strict_json_object(b64url_decode(parsed.payload_segment))
        return validate_claims(payload, rules, now)
    except (MalformedToken, ClaimError) as exc:
        raise TokenRejected(f"claims: {exc}") from None
