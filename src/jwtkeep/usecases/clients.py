"""Client authentication (RFC 6749 §2.3.1) and client secrets.

Client secrets are 256 random bits with a `jkcs_` prefix (secret scanners can find leaked
ones). Being high-entropy, they are stored as SHA-256 digests and compared in constant
time; the slow argon2id hash is for low-entropy human passwords only. After
`app rotate-secret --overlap N` the previous secret is also accepted until its expiry;
both digests are compared every time, so the timing says nothing about which matched.
A disabled app is refused like a wrong secret (RFC 6749 §5.2 `invalid_client`).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from jwtkeep.core.clock import RandomBytes, new_id
from jwtkeep.errors import InvalidClient
from jwtkeep.ports import App, AppRepository

__all__ = ["CLIENT_SECRET_PREFIX", "authenticate_client", "hash_client_secret", "new_client_secret"]

CLIENT_SECRET_PREFIX = "jkcs_"  # noqa: S105 (a prefix, not a secret)
_MAX_CLIENT_ID = 128


def new_client_secret(random: RandomBytes) -> str:
    return CLIENT_SECRET_PREFIX + new_id(random, 32)


def hash_client_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


async def authenticate_client(
    apps: AppRepository, client_id: str, secret: str | None, now: float | None = None
) -> App:
    """The app, or InvalidClient. Confidential clients must present their secret (or,
    until it expires at `now`, the previous one); a public client must not present one
    (it has none, so one is a misconfiguration or an attack)."""
    if not client_id or len(client_id) > _MAX_CLIENT_ID:
        raise InvalidClient("Client authentication failed.", reason="missing client_id")
    app = await apps.app_by_client_id(client_id)
    if app is None:
        raise InvalidClient("Client authentication failed.", reason="unknown client")
    if app.confidential:
        given = hash_client_secret(secret) if secret is not None else ""
        current = hmac.compare_digest(app.client_secret_hash or "", given)
        previous = hmac.compare_digest(_previous_digest(app, now), given)
        if not secret or not (current | previous):  # no short cut: both always compared
            raise InvalidClient("Client authentication failed.", reason="bad client secret")
    elif secret:
        raise InvalidClient("Client authentication failed.", reason="public client sent a secret")
    if app.disabled:
        raise InvalidClient("Client authentication failed.", reason="disabled app")
    return app


def _previous_digest(app: App, now: float | None) -> str:
    """The previous secret's digest while its overlap lasts; else one that never matches
    (a digest is 64 hex digits, so "-" is never equal to one)."""
    until = app.previous_secret_expires_at
    if app.previous_secret_hash is None or until is None:
        return "-"
    if (time.time() if now is None else now) >= until:
        return "-"
    return app.previous_secret_hash
