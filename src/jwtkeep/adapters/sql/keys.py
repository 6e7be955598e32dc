"""Signing keys (implements `jwtkeep.ports.KeyRepository`).

Private keys are stored only sealed (AES-GCM, `jwtkeep.core.sealing`); the public JWK is
kept in the clear for the JWKS (RFC 7517 §5). `kid` is the primary key (RFC 7517 §4.5).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select, update

from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.errors import conflict_on_duplicate
from jwtkeep.adapters.sql.schema import SigningKeyRow
from jwtkeep.errors import NotFound
from jwtkeep.ports.records import StoredKey

__all__ = ["SqlKeyRepository"]


class SqlKeyRepository:
    def __init__(self, engine: SqlEngine) -> None:
        self._engine = engine

    async def add_key(self, key: StoredKey) -> None:
        """Raise `Conflict` if the kid exists."""
        with conflict_on_duplicate("a key with that kid exists"):
            async with self._engine.write() as conn:
                await conn.execute(
                    insert(SigningKeyRow).values(
                        kid=key.kid,
                        alg=key.alg,
                        status=key.status,
                        created_at=key.created_at,
                        public_jwk=None if key.public_jwk is None else dict(key.public_jwk),
                        sealed_private=key.sealed_private,
                    )
                )

    async def list_keys(self) -> list[StoredKey]:
        """Every key, oldest first."""
        async with self._engine.read() as conn:
            query = select(SigningKeyRow.__table__).order_by(
                SigningKeyRow.created_at, SigningKeyRow.kid
            )
            rows = (await conn.execute(query)).all()
        return [_key(row) for row in rows]

    async def set_key_status(self, kid: str, status: str) -> None:
        """Raise `NotFound` for an unknown kid."""
        async with self._engine.write() as conn:
            result = await conn.execute(
                update(SigningKeyRow).where(SigningKeyRow.kid == kid).values(status=status)
            )
        if result.rowcount == 0:
            raise NotFound("no signing key with that kid")


def _key(row: Row[Any]) -> StoredKey:
    return StoredKey(
        kid=row.kid,
        alg=row.alg,
        status=row.status,
        created_at=row.created_at,
        public_jwk=None if row.public_jwk is None else dict(row.public_jwk),
        sealed_private=bytes(row.sealed_private),
    )
