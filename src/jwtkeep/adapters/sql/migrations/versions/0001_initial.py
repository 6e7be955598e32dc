"""The initial schema: users, apps, signing keys, audit trail, sessions, tokens.

Revision ID: 0001
Revises: -
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types (a migration never imports the live schema).
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FINGERPRINT = sa.LargeBinary(32)
ID = sa.String(36)
NAME = sa.String(255)
SID = sa.String(128)


def _time(name: str) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=False)


def upgrade() -> None:
    _create_users_and_apps()
    _create_keys_and_audit()
    _create_sessions_and_tokens()


def _create_users_and_apps() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("username", NAME, nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        _time("created_at"),
        _time("password_changed_at"),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("username", name="uq_users_username"),
    )
    op.create_table(
        "apps",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", NAME, nullable=False),
        sa.Column("client_id", NAME, nullable=False),
        sa.Column("audience", sa.Text(), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("routes", JSON, nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("client_secret_hash", sa.Text(), nullable=True),
        sa.Column("access_token_ttl", sa.Integer(), nullable=False),
        sa.Column("refresh_enabled", sa.Boolean(), nullable=False),
        sa.Column("extra_claims", JSON, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_apps"),
        sa.UniqueConstraint("name", name="uq_apps_name"),
        sa.UniqueConstraint("client_id", name="uq_apps_client_id"),
    )


def _create_keys_and_audit() -> None:
    op.create_table(
        "signing_keys",
        sa.Column("kid", NAME, nullable=False),
        sa.Column("alg", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _time("created_at"),
        sa.Column("public_jwk", JSON, nullable=True),
        sa.Column("sealed_private", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name="pk_signing_keys"),
    )
    op.create_index("ix_signing_keys_created_at", "signing_keys", ["created_at"])
    op.create_table(
        "audit_events",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        _time("at"),
        sa.Column("event", NAME, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("client_id", NAME, nullable=True),
        sa.Column("sid", SID, nullable=True),
        sa.Column("jti", SID, nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("detail", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_user_id", "audit_events", ["user_id"])
    op.create_index("ix_audit_events_jti", "audit_events", ["jti"])


def _create_sessions_and_tokens() -> None:
    op.create_table(
        "sessions",
        sa.Column("sid", SID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("client_id", NAME, nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        _time("created_at"),
        _time("last_used_at"),
        _time("idle_expires_at"),
        _time("absolute_expires_at"),
        _time("expires_at"),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("sid", name="pk_sessions"),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_index("ix_sessions_expires_at", "sessions", ["expires_at"])
    op.create_table(
        "refresh_tokens",
        sa.Column("fingerprint", FINGERPRINT, nullable=False),
        sa.Column("sid", SID, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        _time("expires_at"),
        sa.Column("used_at", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["sid"],
            ["sessions.sid"],
            name="fk_refresh_tokens_sid_sessions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_refresh_tokens"),
    )
    op.create_index("ix_refresh_tokens_sid", "refresh_tokens", ["sid"])
    op.create_table(
        "access_tokens",
        sa.Column("fingerprint", FINGERPRINT, nullable=False),
        sa.Column("sub", NAME, nullable=False),
        sa.Column("sid", SID, nullable=False),
        sa.Column("jti", SID, nullable=False),
        sa.Column("client_id", NAME, nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_access_tokens"),
    )
    op.create_index("ix_access_tokens_sub", "access_tokens", ["sub"])
    op.create_index("ix_access_tokens_sid", "access_tokens", ["sid"])
    op.create_index("ix_access_tokens_expires_at", "access_tokens", ["expires_at"])


def downgrade() -> None:
    for table in (
        "access_tokens",
        "refresh_tokens",
        "sessions",
        "audit_events",
        "signing_keys",
        "apps",
        "users",
    ):
        op.drop_table(table)
