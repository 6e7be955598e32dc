"""Opaque refresh tokens (RFC 6749 §1.5, §10.4; RFC 9700 §4.14).

Format: `jkrt_<sid>.<secret>` where the secret is 256 random bits in base64url. The fixed
prefix lets secret scanners find leaked ones (the GitHub secret-scanning convention). The
session id is not secret; it lets a store find the session's keys directly (one hash slot
in a Redis Cluster). Only the SHA-256 fingerprint of the whole token is ever stored.
"""

from __future__ import annotations

import re

from jwtkeep.core.clock import RandomBytes, new_id

__all__ = ["REFRESH_PREFIX", "new_refresh_token", "refresh_token_session"]

REFRESH_PREFIX = "jkrt_"
_SECRET_BYTES = 32
_SHAPE = re.compile(r"jkrt_([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})")


def new_refresh_token(sid: str, random: RandomBytes) -> str:
    return f"{REFRESH_PREFIX}{sid}.{new_id(random, _SECRET_BYTES)}"


def refresh_token_session(token: str) -> str | None:
    """The session id a well-formed refresh token names, or None for anything else."""
    if not isinstance(token, str) or len(token) > 128:
        return None
    match = _SHAPE.fullmatch(token)
    return match.group(1) if match else None
