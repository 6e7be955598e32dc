"""Users (implements `jwtkeep.ports.UserRepository`). Only argon2id hashes are stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from jwtkeep.adapters.sql import prepared
from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.errors import conflict_on_duplicate
from jwtkeep.adapters.sql.schema import UserRow
from jwtkeep.errors import NotFound
from jwtkeep.ports.records import User

__all__ = ["SqlUserRepository"]

_COLUMNS = (
    UserRow.id,
    UserRow.username,
    UserRow.password_hash,
    UserRow.created_at,
    UserRow.password_changed_at,
    UserRow.disabled,
)

# Built once: the lookups of every login and refresh (run through `prepared`).
_BY_ID = select(*_COLUMNS).where(UserRow.id == bindparam("value"))
_BY_USERNAME = select(*_COLUMNS).where(UserRow.username == bindparam("value"))


class SqlUserRepository:
    def __init__(self, engine: SqlEngine) -> None:
        self._engine = engine

    async def add_user(self, user: User) -> None:
        """Raise `Conflict` if the username is taken."""
        with conflict_on_duplicate("the username is taken"):
            await self._engine.write(lambda conn: _insert(conn, user))

    async def get_user(self, user_id: str) -> User | None:
        return await self._one(_BY_ID, user_id)

    async def user_by_username(self, username: str) -> User | None:
        return await self._one(_BY_USERNAME, username)

    async def set_password_hash(
        self, user_id: str, password_hash: str, changed_at: float, *, expected_hash: str
    ) -> bool:
        """Compare-and-set in one statement: the row changes only if its hash is still
        `expected_hash` (PostgreSQL re-checks the WHERE after waiting for a concurrent
        update of the row; SQLite writers are serialized). Raise `NotFound` for an
        unknown user."""

        def work(conn: Connection) -> bool | None:
            result = conn.execute(
                update(UserRow)
                .where(UserRow.id == user_id, UserRow.password_hash == expected_hash)
                .values(password_hash=password_hash, password_changed_at=changed_at)
            )
            if result.rowcount == 1:
                return True
            known = conn.execute(select(UserRow.id).where(UserRow.id == user_id)).first()
            return None if known is None else False

        changed = await self._engine.write(work)
        if changed is None:
            raise NotFound("no such user")
        return changed

    async def list_users(self, *, after: str = "", limit: int = 100) -> list[User]:
        """Users by username, the page after the username `after`."""
        query = select(*_COLUMNS).where(UserRow.username > after).order_by(UserRow.username)
        rows = await self._engine.read(lambda conn: conn.execute(query.limit(limit)).all())
        return [_user(row) for row in rows]

    async def set_disabled(self, user_id: str, disabled: bool) -> bool:
        """True if the flag changed; NotFound for an unknown user."""

        def work(conn: Connection) -> bool | None:
            result = conn.execute(
                update(UserRow)
                .where(UserRow.id == user_id, UserRow.disabled.is_(not disabled))
                .values(disabled=disabled)
            )
            if result.rowcount == 1:
                return True
            known = conn.execute(select(UserRow.id).where(UserRow.id == user_id)).first()
            return None if known is None else False

        changed = await self._engine.write(work)
        if changed is None:
            raise NotFound("no such user")
        return changed

    async def delete_user(self, user_id: str) -> bool:
        deleted = await self._engine.write(
            lambda conn: conn.execute(delete(UserRow).where(UserRow.id == user_id)).rowcount
        )
        return bool(deleted)

    async def _one(self, query: Any, value: str) -> User | None:
        row = await self._engine.read(lambda conn: prepared.first(conn, query, {"value": value}))
        return None if row is None else _user(row)


def _user(row: Any) -> User:
    return User(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        created_at=row.created_at,
        password_changed_at=row.password_changed_at,
        disabled=bool(row.disabled),
    )


def _insert(conn: Connection, user: User) -> None:
    conn.execute(
        insert(UserRow).values(
            id=user.id,
            username=user.username,
            password_hash=user.password_hash,
            created_at=user.created_at,
            password_changed_at=user.password_changed_at,
            disabled=user.disabled,
        )
    )
