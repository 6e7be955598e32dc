"""Client applications (RFC 6749 §2; implements `jwtkeep.ports.AppRepository`).

Only the argon2id hash of a confidential client's secret is stored (RFC 6749 §2.3.1).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, insert, select, update

from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.errors import conflict_on_duplicate
from jwtkeep.adapters.sql.schema import AppRow
from jwtkeep.errors import NotFound
from jwtkeep.ports.records import App

__all__ = ["SqlAppRepository"]

_BY_CLIENT_ID = select(AppRow.__table__).where(AppRow.client_id == bindparam("client_id"))


class SqlAppRepository:
    def __init__(self, engine: SqlEngine) -> None:
        self._engine = engine

    async def add_app(self, app: App) -> None:
        """Raise `Conflict` if the name, client_id or audience is taken."""
        with conflict_on_duplicate("an app with that name, client_id or audience exists"):
            await self._engine.write(lambda conn: _insert(conn, app))

    async def app_by_client_id(self, client_id: str) -> App | None:
        row = await self._engine.read(
            lambda conn: conn.execute(_BY_CLIENT_ID, {"client_id": client_id}).first()
        )
        return None if row is None else _app(row)

    async def replace_app(self, app: App) -> None:
        """Write every field of the app with `app.id` (NotFound if gone; Conflict if the
        new name or audience is another app's)."""
        values = _values(app)
        del values["id"], values["created_at"]
        with conflict_on_duplicate("another app has that name or audience"):
            changed = await self._engine.write(
                lambda conn: (
                    conn.execute(
                        update(AppRow).where(AppRow.id == app.id).values(**values)
                    ).rowcount
                )
            )
        if changed == 0:
            raise NotFound(f"no app {app.name!r}")

    async def delete_app(self, app_id: str) -> bool:
        deleted = await self._engine.write(
            lambda conn: conn.execute(delete(AppRow).where(AppRow.id == app_id)).rowcount
        )
        return bool(deleted)

    async def list_apps(self) -> list[App]:
        """Every app, oldest first."""
        query = select(AppRow.__table__).order_by(AppRow.created_at, AppRow.name)
        rows = await self._engine.read(lambda conn: conn.execute(query).all())
        return [_app(row) for row in rows]


def _insert(conn: Connection, app: App) -> None:
    conn.execute(insert(AppRow).values(**_values(app)))


def _values(app: App) -> dict[str, Any]:
    return {
        "id": app.id,
        "name": app.name,
        "client_id": app.client_id,
        "audience": app.audience,
        "scopes": list(app.scopes),
        "routes": list(app.routes),
        "confidential": app.confidential,
        "client_secret_hash": app.client_secret_hash,
        "access_token_ttl": app.access_token_ttl,
        "refresh_enabled": app.refresh_enabled,
        "extra_claims": dict(app.extra_claims),
        "created_at": app.created_at,
        "account_access": app.account_access,
        "introspect_audiences": list(app.introspect_audiences),
        "disabled": app.disabled,
        "previous_secret_hash": app.previous_secret_hash,
        "previous_secret_expires_at": app.previous_secret_expires_at,
        "redirect_uris": list(app.redirect_uris),
        "grants": list(app.grants),
        "first_party": app.first_party,
    }


def _app(row: Row[Any]) -> App:
    return App(
        id=row.id,
        name=row.name,
        client_id=row.client_id,
        audience=row.audience,
        scopes=tuple(row.scopes),
        routes=tuple(row.routes),
        confidential=bool(row.confidential),
        client_secret_hash=row.client_secret_hash,
        access_token_ttl=row.access_token_ttl,
        refresh_enabled=bool(row.refresh_enabled),
        created_at=row.created_at,
        extra_claims=dict(row.extra_claims),
        account_access=bool(row.account_access),
        introspect_audiences=tuple(row.introspect_audiences),
        disabled=bool(row.disabled),
        previous_secret_hash=row.previous_secret_hash,
        previous_secret_expires_at=row.previous_secret_expires_at,
        redirect_uris=tuple(row.redirect_uris),
        grants=tuple(row.grants),
        first_party=bool(row.first_party),
    )
