"""Browser sign-in: app redirect URIs, grants and first party; authorization codes, login
sessions and remembered consents (RFC 6749 §4.1, RFC 7636, OpenID Connect Core).

- `apps.redirect_uris`, `apps.grants` (RFC 6749 grant_type values) and `apps.first_party`.
  Apps that exist keep every grant they could use before, so nobody is locked out: the
  password and refresh grants, and client credentials for confidential apps. They get
  no redirect URI (add one with `jwtkeep app update NAME --redirect-uri ...`) and no
  authorization code grant until the operator gives it.
- `authorization_codes`: by SHA-256 fingerprint only, with the session each one gave.
- `login_sessions` (by the cookie's fingerprint only) and the sessions started from each.
- `consents`: per user, app and exact scope set.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
FINGERPRINT = sa.LargeBinary(32)
ID = sa.String(36)
NAME = sa.String(255)
SID = sa.String(128)
LOGIN_ID = sa.String(64)

_APPS = sa.table("apps", sa.column("grants", JSON), sa.column("confidential", sa.Boolean()))
_LEGACY_GRANTS = ["password", "refresh_token"]


def _time(name: str) -> sa.Column[float]:
    return sa.Column(name, sa.Double(), nullable=False)


def upgrade() -> None:
    empty = sa.text("'[]'")
    op.add_column("apps", sa.Column("redirect_uris", JSON, server_default=empty, nullable=False))
    op.add_column("apps", sa.Column("grants", JSON, server_default=empty, nullable=False))
    op.add_column(
        "apps", sa.Column("first_party", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    for confidential in (False, True):
        grants = _LEGACY_GRANTS + (["client_credentials"] if confidential else [])
        op.execute(_APPS.update().where(_APPS.c.confidential == confidential).values(grants=grants))
    _create_codes()
    _create_login_sessions()
    op.create_table(
        "consents",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("client_id", NAME, nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        _time("granted_at"),
        sa.PrimaryKeyConstraint("user_id", "client_id", "scope", name="pk_consents"),
    )


def _create_codes() -> None:
    op.create_table(
        "authorization_codes",
        sa.Column("fingerprint", FINGERPRINT, nullable=False),
        sa.Column("client_id", NAME, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("code_challenge", sa.String(64), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=True),
        sa.Column("login_id", LOGIN_ID, nullable=False),
        _time("auth_time"),
        _time("expires_at"),
        sa.Column("sid", SID, nullable=True),
        sa.Column("replayed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_authorization_codes"),
    )
    op.create_index("ix_authorization_codes_expires_at", "authorization_codes", ["expires_at"])


def _create_login_sessions() -> None:
    op.create_table(
        "login_sessions",
        sa.Column("id", LOGIN_ID, nullable=False),
        sa.Column("fingerprint", FINGERPRINT, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        _time("auth_time"),
        _time("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_login_sessions"),
        sa.UniqueConstraint("fingerprint", name="uq_login_sessions_fingerprint"),
    )
    op.create_index("ix_login_sessions_user_id", "login_sessions", ["user_id"])
    op.create_index("ix_login_sessions_expires_at", "login_sessions", ["expires_at"])
    op.create_table(
        "login_session_sids",
        sa.Column("login_id", LOGIN_ID, nullable=False),
        sa.Column("sid", SID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["login_id"],
            ["login_sessions.id"],
            name="fk_login_session_sids_login_id_login_sessions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("login_id", "sid", name="pk_login_session_sids"),
    )
