"""Account access per app, and one app per audience.

- `apps.account_access`: may the app ask for the `account`/`openid` scopes (tokens for
  jwtkeep's own account API, DESIGN.md "Contract: tokens")? Existing apps were created by
  the operator, who had that access implicitly, so they keep it (server default true).
- `apps.introspect_audiences`: other apps' audiences this (confidential) app may
  introspect, a JSON array (RFC 7662 §4: the grant for an API whose users log in through a
  public client). Existing apps get none (server default '[]').
- A unique index on `apps.audience`: introspection (RFC 7662 §4) answers a client about
  the tokens of its own audience, which is only safe if no two apps share one. A database
  where two apps already share an audience is refused (a `ConfigurationError`, so one line
  and exit code 2 from the CLI) naming the apps to fix; nothing is changed then.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from jwtkeep.errors import ConfigurationError

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")  # as in 0001

_SHARED_AUDIENCES = sa.text(
    "SELECT audience, name FROM apps WHERE audience IN "
    "(SELECT audience FROM apps GROUP BY audience HAVING COUNT(*) > 1) "
    "ORDER BY audience, name"
)


def _refuse_shared_audiences() -> None:
    rows = op.get_bind().execute(_SHARED_AUDIENCES).all()
    if rows:
        shared: dict[str, list[str]] = {}
        for audience, name in rows:
            shared.setdefault(audience, []).append(name)
        listing = "; ".join(f"{aud!r}: {', '.join(names)}" for aud, names in shared.items())
        raise ConfigurationError(
            "cannot migrate the database: apps share an audience, which lets each "
            "introspect the other's tokens; give each app its own audience in the apps "
            f"table first, then retry. Shared: {listing}"
        )


def upgrade() -> None:
    _refuse_shared_audiences()
    op.add_column(
        "apps",
        sa.Column("account_access", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.add_column(
        "apps",
        sa.Column("introspect_audiences", JSON, server_default="[]", nullable=False),
    )
    op.create_index("ix_apps_audience", "apps", ["audience"], unique=True)
