"""Plain records passed across the ports. None of them holds a raw token or password."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jwtkeep.core.fingerprint import Fingerprint

__all__ = [
    "DEFAULT_GRANTS",
    "GRANT_TYPE_NAMES",
    "AccessRecord",
    "App",
    "AuditEvent",
    "AuthorizationCode",
    "CodeRedemption",
    "KeyChange",
    "LoginSession",
    "RefreshState",
    "RotationOutcome",
    "Session",
    "StoredKey",
    "User",
]


@dataclass(frozen=True)
class User:
    id: str  # canonical UUID string; the token's `sub`
    username: str
    password_hash: str  # argon2id PHC string
    created_at: float
    password_changed_at: float
    disabled: bool = False


# RFC 6749 grant_type values an app may be given (`jwtkeep app create --grant`).
GRANT_TYPE_NAMES = ("authorization_code", "refresh_token", "password", "client_credentials")
# New apps: the authorization code flow with PKCE and refresh (RFC 9700 §2.1.1); the
# password grant is an explicit opt-in (RFC 9700 §2.4: it MUST NOT be used).
DEFAULT_GRANTS = ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class App:
    """A client application (RFC 6749 §2) and the audience its tokens are for."""

    id: str  # UUID; the `sub` of its client_credentials tokens
    name: str
    client_id: str
    audience: str
    scopes: tuple[str, ...]
    routes: tuple[str, ...]  # "METHOD /path/*=scope" rule texts
    confidential: bool
    client_secret_hash: str | None  # argon2id; None for public clients
    access_token_ttl: int
    refresh_enabled: bool
    created_at: float
    extra_claims: Mapping[str, Any] = field(default_factory=dict)
    # May ask for the `account`/`openid` scopes, i.e. tokens for jwtkeep's account API.
    account_access: bool = False
    # Other apps' audiences whose tokens this (confidential) app may introspect: the
    # explicit grant for an API behind a public client (RFC 7662 §4; usecases/introspection).
    introspect_audiences: tuple[str, ...] = ()
    # `app disable`: every grant, introspection and revocation by it is refused.
    disabled: bool = False
    # `app rotate-secret --overlap N`: the previous secret's digest, until its expiry.
    previous_secret_hash: str | None = None
    previous_secret_expires_at: float | None = None
    # RFC 6749 §3.1.2 redirection endpoints, matched exactly (jwtkeep.core.redirect_uri).
    redirect_uris: tuple[str, ...] = ()
    grants: tuple[str, ...] = DEFAULT_GRANTS  # RFC 6749 grant_type values it may use
    first_party: bool = False  # the operator's own app: no consent page

    def allows_grant(self, grant_type: str) -> bool:
        """RFC 6749 §5.2 `unauthorized_client` otherwise. Refresh also needs the app's
        refresh tokens on; client credentials a confidential app (RFC 6749 §4.4)."""
        if grant_type not in self.grants:
            return False
        if grant_type == "refresh_token":
            return self.refresh_enabled
        return grant_type != "client_credentials" or self.confidential


@dataclass(frozen=True)
class StoredKey:
    kid: str
    alg: str
    status: str  # a jwtkeep.core.keyring.KeyStatus value
    created_at: float
    public_jwk: Mapping[str, Any] | None  # None for HMAC keys
    sealed_private: bytes  # AES-GCM sealed private JWK (jwtkeep.core.sealing)
    activates_at: float | None = None  # signs from then on (None: from created_at)
    retires_at: float | None = None  # a retiring key is retired then (None: by hand)


@dataclass(frozen=True)
class KeyChange:
    """What one step of the key lifecycle writes: new keys, new statuses by kid, and
    keys rewritten (`replace`: status, times and sealed private key of an existing kid)."""

    add: tuple[StoredKey, ...] = ()
    statuses: Mapping[str, str] = field(default_factory=dict)
    replace: tuple[StoredKey, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.add or self.statuses or self.replace)


@dataclass(frozen=True)
class AccessRecord:
    """What the allowlist holds for one issued access token."""

    fingerprint: Fingerprint
    sub: str
    sid: str
    jti: str
    client_id: str
    exp: int  # the record expires with the token (TTL = exp - now)
    kid: str = ""  # the signing key, so the key-leak drill can find what it signed


@dataclass(frozen=True)
class Session:
    """A login session: one refresh-token family (RFC 9700 §4.14.2)."""

    sid: str
    user_id: str
    client_id: str
    scope: str
    created_at: float
    last_used_at: float
    idle_expires_at: float
    absolute_expires_at: float
    user_agent: str = ""
    ip: str = ""  # server-side only, for the audit trail; never in a token

    def expires_at(self) -> float:
        return min(self.idle_expires_at, self.absolute_expires_at)


class RotationOutcome(enum.StrEnum):
    ROTATED = "rotated"
    REUSED = "reused"  # a used-up refresh token came back: the session was revoked
    # The current token's parent came back within the reuse interval (a client's own
    # tabs racing): refused, nothing changed, the session lives on.
    RACED = "raced"
    UNKNOWN = "unknown"  # no such session or token (ended, expired, never issued)


class RefreshState(enum.StrEnum):
    CURRENT = "current"
    USED = "used"


@dataclass(frozen=True)
class AuditEvent:
    at: float
    event: str  # e.g. "login.succeeded", "refresh.reuse_detected", "token.rejected"
    user_id: str | None = None
    client_id: str | None = None
    sid: str | None = None
    jti: str | None = None
    ip: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    actor: str | None = None  # who acted: "cli:<os user>", "user", "client", "server"
    target: str | None = None  # on what: "user:<id>", "app:<client_id>", "everyone"
    reason: str | None = None  # the operator's `--reason`, or why it happened
    # The audit log's sequence number, once recorded (not part of the event's value).
    id: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class AuthorizationCode:
    """An authorization code (RFC 6749 §4.1.2), stored by fingerprint only, bound to the
    client, redirect URI, PKCE challenge, nonce and login session it was issued for."""

    fingerprint: Fingerprint
    client_id: str
    user_id: str
    redirect_uri: str
    scope: str
    code_challenge: str  # S256 (RFC 7636 §4.2)
    nonce: str | None
    login_id: str  # the login session (the browser's sign-in at the issuer)
    auth_time: float
    expires_at: float  # at most 60 s after issue


@dataclass(frozen=True)
class CodeRedemption:
    """What redeeming a code found: the code (None if unknown or expired), and whether it
    had been redeemed before; then `sid` is the session it gave (to revoke)."""

    code: AuthorizationCode | None
    replayed: bool = False
    sid: str | None = None


@dataclass(frozen=True)
class LoginSession:
    """A user's sign-in at the issuer (the `__Host-` cookie), stored by fingerprint of the
    cookie value only. `id` is not secret: codes and sessions refer to it."""

    id: str
    fingerprint: Fingerprint
    user_id: str
    auth_time: float
    expires_at: float
