"""Users (implements `jwtkeep.ports.UserRepository`). Only argon2id hashes are stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update

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


class SqlUserRepository:
    def __init__(self, engine: SqlEngine) -> None:
        self._engine = engine

    async def add_user(self, user: User) -> None:
        """Raise `Conflict` if the username is taken."""
        with conflict_on_duplicate("the username is taken"):
            async with self._engine.write() as conn:
                await conn.execute(
                    insert(UserRow).values(
                        id=user.id,
                        username=user.username,
                        password_hash=user.password_hash,
                        created_at=user.created_at,
                        password_changed_at=user.password_changed_at,
                        disabled=user.disabled,
                    )
                )

    async def get_user(self, user_id: str) -> User | None:
        return await self._one(UserRow.id == user_id)

    async def user_by_username(self, username: str) -> User | None:
        return await self._one(UserRow.username == username)

    async def set_password_hash(
        self, user_id: str, password_hash: str, changed_at: float, *, expected_hash: str
    ) -> bool:
        """Compare-and-set in one statement: the row changes only if its hash is still
        `expected_hash` (PostgreSQL re-checks the WHERE after waiting for a concurrent
        update of the row; SQLite writers are serialized). Raise `NotFound` for an
        unknown user."""
        async with self._engine.write() as conn:
            result = await conn.execute(
                update(UserRow)
                .where(UserRow.id == user_id, UserRow.password_hash == expected_hash)
                .values(password_hash=password_hash, password_changed_at=changed_at)
            )
            if result.rowcount == 1:
                return True
            known = (await conn.execute(select(UserRow.id).where(UserRow.id == user_id))).first()
        if known is None:
            raise NotFound("no such user")
        return False

    async def list_users(self, *, after: str = "", limit: int = 100) -> list[User]:
        """Users by username, the page after the username `after`."""
        query = select(*_COLUMNS).where(UserRow.username > after).order_by(UserRow.username)
        async with self._engine.read() as conn:
            rows = (await conn.execute(query.limit(limit))).all()
        return [_user(row) for row in rows]

    async def set_disabled(self, user_id: str, disabled: bool) -> bool:
        """True if the flag changed; NotFound for an unknown user."""
        async with self._engine.write() as conn:
            result = await conn.execute(
                update(UserRow)
                .where(UserRow.id == user_id, UserRow.disabled.is_(not disabled))
                .values(disabled=disabled)
            )
            if result.rowcount == 1:
                return True
            known = (await conn.execute(select(UserRow.id).where(UserRow.id == user_id))).first()
        if known is None:
            raise NotFound("no such user")
        return False

    async def delete_user(self, user_id: str) -> bool:
        async with self._engine.write() as conn:
            result = await conn.execute(delete(UserRow).where(UserRow.id == user_id))
        return bool(result.rowcount)

    async def _one(self, condition: Any) -> User | None:
        async with self._engine.read() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(condition))).first()
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
