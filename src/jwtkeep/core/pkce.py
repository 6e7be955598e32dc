"""PKCE, Proof Key for Code Exchange (RFC 7636), `S256` only.

- `plain` is refused (RFC 9700 §2.1.1: "SHOULD use S256"; jwtkeep requires it for every
  client, public and confidential, RFC 9700 §4.8.2 "PKCE downgrade").
- A challenge is BASE64URL(SHA-256(verifier)) without padding: exactly 43 characters of the
  base64url alphabet (RFC 7636 §4.2).
- A verifier is 43-128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`
  (RFC 7636 §4.1); compared to the challenge in constant time (RFC 7636 §4.6).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from jwtkeep.errors import InvalidValue

__all__ = ["S256", "check_challenge", "s256_challenge", "verifier_matches"]

S256 = "S256"
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def check_challenge(challenge: str | None, method: str | None) -> str:
    """The challenge, if well formed and `S256`; else InvalidValue saying what is wrong."""
    if not challenge:
        raise InvalidValue("code_challenge is required (PKCE, RFC 7636; S256)")
    if method != S256:
        raise InvalidValue("code_challenge_method must be S256 (plain is not allowed)")
    if not _CHALLENGE.fullmatch(challenge):
        raise InvalidValue("code_challenge must be 43 base64url characters (RFC 7636 §4.2)")
    return challenge


def s256_challenge(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verifier_matches(verifier: str | None, challenge: str) -> bool:
    """RFC 7636 §4.6: the verifier is well formed and hashes to the challenge."""
    if verifier is None or not _VERIFIER.fullmatch(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier), challenge)
