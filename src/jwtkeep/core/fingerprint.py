"""SHA-256 fingerprints of tokens: what the token store holds instead of the token.

The article's second layer: "make the hash of your JWT token and then store it". A store
reader learns nothing usable; a 256-bit preimage search is out of reach. Fingerprints are
raw 32-byte digests (compact in Redis); `.hex()` when a human must see one.
"""

from __future__ import annotations

import hashlib
from typing import NewType

__all__ = ["DIGEST", "Fingerprint", "fingerprint"]

Fingerprint = NewType("Fingerprint", bytes)
DIGEST = hashlib.sha256
"""The hash of every fingerprint; `DIGEST(data).digest()` is `fingerprint(data)`, for a hot
path that cannot afford the call (`jwtkeep.sdk.bearer.lookup_fingerprint`)."""


def fingerprint(token: str | bytes) -> Fingerprint:
    """SHA-256 of the token's exact ASCII text (or of those bytes, as an HTTP server
    received them: a token is ASCII, RFC 7515 §7.1, so both name the same token)."""
    data = token.encode("ascii", "strict") if isinstance(token, str) else token
    return Fingerprint(DIGEST(data).digest())
