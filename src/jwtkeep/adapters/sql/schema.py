"""The relational schema, as SQLAlchemy 2 typed declarative tables.

Times are float Unix seconds (the ports' unit). Tokens are only ever present as their raw
32-byte SHA-256 fingerprints (`jwtkeep.core.fingerprint`), never in any other form
(DESIGN "Contract: the token store"). Every table a read filters by time is indexed on it,
so expired rows can be skipped by reads and purged in small batches by writes.

`migrations/versions/` must produce exactly this schema; a test compares them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    false,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "FINGERPRINT",
    "ID",
    "NAME",
    "NAMING_CONVENTION",
    "AccessTokenRow",
    "AppRow",
    "AuditEventRow",
    "AuthorizationCodeRow",
    "AutoId",
    "Base",
    "ConsentRow",
    "Json",
    "LoginSessionRow",
    "LoginSessionSidRow",
    "RefreshTokenRow",
    "RevocationEventRow",
    "SessionRow",
    "SigningKeyRow",
    "UserRow",
    "metadata",
]

# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
FINGERPRINT = LargeBinary(32)
ID = String(36)  # a canonical UUID string
NAME = String(255)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {float: Double(), dict[str, Any]: Json, list[str]: Json}  # noqa: RUF012


metadata = Base.metadata


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(NAME, unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float]
    password_changed_at: Mapped[float]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class AppRow(Base):
    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(NAME, unique=True)
    client_id: Mapped[str] = mapped_column(NAME, unique=True)
    # One audience, one app: introspection trusts it (migration 0002).
    audience: Mapped[str] = mapped_column(Text, index=True, unique=True)
    scopes: Mapped[list[str]]
    routes: Mapped[list[str]]
    confidential: Mapped[bool] = mapped_column(Boolean)
    client_secret_hash: Mapped[str | None] = mapped_column(Text)
    access_token_ttl: Mapped[int] = mapped_column(Integer)
    refresh_enabled: Mapped[bool] = mapped_column(Boolean)
    extra_claims: Mapped[dict[str, Any]]
    created_at: Mapped[float]
    account_access: Mapped[bool] = mapped_column(Boolean, server_default=true())
    # Audiences this app may introspect besides its own (migration 0002).
    introspect_audiences: Mapped[list[str]] = mapped_column(server_default="[]")
    # Migration 0003: redirect URIs, grant types, first party.
    redirect_uris: Mapped[list[str]]
    grants: Mapped[list[str]]
    first_party: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Migration 0004: `app disable`, and `app rotate-secret --overlap` (the old digest
    # keeps working until its expiry).
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=false())
    previous_secret_hash: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[float | None]


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(NAME, primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[float] = mapped_column(index=True)
    public_jwk: Mapped[dict[str, Any] | None]
    sealed_private: Mapped[bytes] = mapped_column(LargeBinary)
    activates_at: Mapped[float | None]  # migration 0005
    retires_at: Mapped[float | None]


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(index=True)
    event: Mapped[str] = mapped_column(NAME, index=True)
    user_id: Mapped[str | None] = mapped_column(ID, index=True)
    client_id: Mapped[str | None] = mapped_column(NAME, index=True)
    sid: Mapped[str | None] = mapped_column(String(128))
    jti: Mapped[str | None] = mapped_column(String(128), index=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]]
    # Migration 0004: who acted ("cli:<os user>", "user", "client"), on what
    # ("user:<id>", "app:<client_id>", "everyone"), and the operator's `--reason`.
    actor: Mapped[str | None] = mapped_column(NAME)
    target: Mapped[str | None] = mapped_column(NAME)
    reason: Mapped[str | None] = mapped_column(Text)


class SessionRow(Base):
    """A login session: one refresh-token family (RFC 9700 §4.14.2)."""

    __tablename__ = "sessions"

    sid: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(ID, index=True)
    client_id: Mapped[str] = mapped_column(NAME)
    scope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[float]
    last_used_at: Mapped[float]
    idle_expires_at: Mapped[float]
    absolute_expires_at: Mapped[float]
    # min(idle_expires_at, absolute_expires_at): the session is live while now < expires_at.
    expires_at: Mapped[float] = mapped_column(index=True)
    user_agent: Mapped[str] = mapped_column(Text)
    ip: Mapped[str] = mapped_column(String(64))


class RefreshTokenRow(Base):
    """One refresh token of a session's family, by fingerprint; `used` ones detect reuse."""

    __tablename__ = "refresh_tokens"

    fingerprint: Mapped[bytes] = mapped_column(FINGERPRINT, primary_key=True)
    sid: Mapped[str] = mapped_column(
        String(128), ForeignKey("sessions.sid", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(8))  # RefreshState: "current" | "used"
    expires_at: Mapped[float]  # the session's absolute expiry: the family cannot outlive it
    used_at: Mapped[float | None]  # when it was used up; only the newest USED_KEPT are kept


class AccessTokenRow(Base):
    """The allowlist: one row per issued access token, live until its `exp`."""

    __tablename__ = "access_tokens"

    fingerprint: Mapped[bytes] = mapped_column(FINGERPRINT, primary_key=True)
    sub: Mapped[str] = mapped_column(NAME, index=True)
    sid: Mapped[str] = mapped_column(String(128), index=True)
    jti: Mapped[str] = mapped_column(String(128))
    client_id: Mapped[str] = mapped_column(NAME)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    kid: Mapped[str] = mapped_column(String(64), index=True, server_default="")


class RevocationEventRow(Base):
    """SQLite's revocation event log (`revocation_events.py`); empty on PostgreSQL."""

    __tablename__ = "revocation_events"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(index=True)
    payload: Mapped[str] = mapped_column(Text)


class AuthorizationCodeRow(Base):
    """An authorization code (RFC 6749 §4.1.2) by fingerprint; `sid` once redeemed."""

    __tablename__ = "authorization_codes"

    fingerprint: Mapped[bytes] = mapped_column(FINGERPRINT, primary_key=True)
    client_id: Mapped[str] = mapped_column(NAME)
    user_id: Mapped[str] = mapped_column(ID)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str | None] = mapped_column(Text)
    login_id: Mapped[str] = mapped_column(String(64))
    auth_time: Mapped[float]
    expires_at: Mapped[float] = mapped_column(index=True)
    sid: Mapped[str | None] = mapped_column(String(128))
    replayed: Mapped[bool] = mapped_column(Boolean, server_default=false())


class LoginSessionRow(Base):
    """A sign-in at the issuer (the `__Host-` cookie), by the cookie's fingerprint."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    fingerprint: Mapped[bytes] = mapped_column(FINGERPRINT, unique=True)
    user_id: Mapped[str] = mapped_column(ID, index=True)
    auth_time: Mapped[float]
    expires_at: Mapped[float] = mapped_column(index=True)


class LoginSessionSidRow(Base):
    """The sessions (refresh families) started from a login session."""

    __tablename__ = "login_session_sids"

    login_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("login_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    sid: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(ID)


class ConsentRow(Base):
    """A user's remembered consent to one app for one exact scope set."""

    __tablename__ = "consents"

    user_id: Mapped[str] = mapped_column(ID, primary_key=True)
    client_id: Mapped[str] = mapped_column(NAME, primary_key=True)
    scope: Mapped[str] = mapped_column(String(1024), primary_key=True)
    granted_at: Mapped[float]
