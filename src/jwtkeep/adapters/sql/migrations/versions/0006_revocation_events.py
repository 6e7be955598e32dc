"""Revocation events: the signing key of each access token, and SQLite's event log.

- `access_tokens.kid`: the kid that signed the token, so the key-leak drill
  (`jwtkeep keys compromised`) can drop every token that key signed, and count them.
  Rows written before this migration have '' (their tokens still die with the key: every
  verifier drops the kid from its ring).
- `revocation_events`: on SQLite (one file, possibly several processes: `jwtkeep serve`
  and the CLI), the event log that listeners poll; on PostgreSQL events go out with
  `NOTIFY` instead and this table stays empty. Rows older than a minute are pruned on
  write.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "access_tokens",
        sa.Column("kid", sa.String(64), server_default="", nullable=False),
    )
    op.create_index("ix_access_tokens_kid", "access_tokens", ["kid"])
    op.create_table(
        "revocation_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.Double(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_revocation_events"),
    )
    op.create_index("ix_revocation_events_at", "revocation_events", ["at"])


def downgrade() -> None:
    op.drop_table("revocation_events")
    op.drop_index("ix_access_tokens_kid", "access_tokens")
    op.drop_column("access_tokens", "kid")
