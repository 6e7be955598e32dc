"""The operator's day: disabled apps, secret rotation with an overlap, a richer audit trail.

- `apps.disabled`: a disabled app is refused every grant, introspection and revocation
  (RFC 6749 §5.2 `invalid_client`); `jwtkeep app disable`.
- `apps.previous_secret_hash` / `apps.previous_secret_expires_at`: after
  `jwtkeep app rotate-secret --overlap N`, the old secret's SHA-256 digest keeps working
  until that time (then it is ignored, and dropped on the next rotation).
- `audit_events.actor`, `target`, `reason`: who did it ("cli:alice", "user", "client"),
  to what ("user:<id>", "app:<client_id>", "everyone"), and why (`--reason`); indexes on
  `event` and `client_id` for `jwtkeep audit --event/--app`.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "apps", sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.add_column("apps", sa.Column("previous_secret_hash", sa.Text(), nullable=True))
    op.add_column("apps", sa.Column("previous_secret_expires_at", sa.Double(), nullable=True))
    op.add_column("audit_events", sa.Column("actor", sa.String(255), nullable=True))
    op.add_column("audit_events", sa.Column("target", sa.String(255), nullable=True))
    op.add_column("audit_events", sa.Column("reason", sa.Text(), nullable=True))
    op.create_index("ix_audit_events_event", "audit_events", ["event"])
    op.create_index("ix_audit_events_client_id", "audit_events", ["client_id"])
