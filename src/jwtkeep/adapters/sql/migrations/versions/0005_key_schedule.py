"""Key rotation schedule: when a key starts signing, and when a retiring key is retired.

- `signing_keys.activates_at`: the key signs from then on (the newest active key whose
  time has come signs, `jwtkeep.core.keyring.signing_kid`). Existing keys signed from
  their creation, so they get `created_at`.
- `signing_keys.retires_at`: a retiring key is retired then, once every token it signed
  has expired. NULL for existing retiring keys: the schedule gives them a time the first
  time it sees them (never earlier than the longest token lifetime from then).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("signing_keys", sa.Column("activates_at", sa.Double(), nullable=True))
    op.add_column("signing_keys", sa.Column("retires_at", sa.Double(), nullable=True))
    op.execute(sa.text("UPDATE signing_keys SET activates_at = created_at"))


def downgrade() -> None:
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("retires_at")
        batch.drop_column("activates_at")
