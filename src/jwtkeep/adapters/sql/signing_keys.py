"""Signing keys (implements `jwtkeep.ports.KeyRepository`).

Private keys are stored only sealed (AES-GCM, `jwtkeep.core.sealing`); the public JWK is
kept in the clear for the JWKS (RFC 7517 §5). `kid` is the primary key (RFC 7517 §4.5).

Every change is one transaction that first locks the whole ring, the mechanism refresh
rotation uses (`engine.py`, `sessions.lock_live_session`): SQLite's `BEGIN IMMEDIATE`
holds the database write lock; on PostgreSQL `SELECT ... FOR UPDATE` locks every key row,
in kid order (no deadlock), and the keys are then read again by a new statement, which
in READ COMMITTED sees every step that committed while we waited for the locks (a key it
added included: its step held our rows until it committed). So two steps never decide on
the same state: two `keys retire` of the two active keys cannot both succeed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.errors import conflict_on_duplicate
from jwtkeep.adapters.sql.schema import SigningKeyRow
from jwtkeep.ports.records import KeyChange, StoredKey
from jwtkeep.ports.repositories import KeyPlan

__all__ = ["SqlKeyRepository"]

_ALL_KEYS = select(SigningKeyRow.__table__).order_by(SigningKeyRow.created_at, SigningKeyRow.kid)


class SqlKeyRepository:
    def __init__(self, engine: SqlEngine) -> None:
        self._engine = engine

    async def list_keys(self) -> list[StoredKey]:
        """Every key, oldest first."""
        rows = await self._engine.read(lambda conn: conn.execute(_ALL_KEYS).all())
        return [_key(row) for row in rows]

    async def change_keys(self, plan: KeyPlan) -> KeyChange:
        """Lock the ring, decide on it with `plan`, write the change; all one transaction.
        Raise `Conflict` if an added kid exists."""

        def work(conn: Connection) -> KeyChange:
            conn.execute(select(SigningKeyRow.kid).order_by(SigningKeyRow.kid).with_for_update())
            keys = [_key(row) for row in conn.execute(_ALL_KEYS).all()]
            change = plan(keys)
            _write(conn, change)
            return change

        with conflict_on_duplicate("a key with that kid exists"):
            return await self._engine.write(work)


def _write(conn: Connection, change: KeyChange) -> None:
    for key in change.add:
        conn.execute(
            insert(SigningKeyRow).values(
                kid=key.kid,
                alg=key.alg,
                status=key.status,
                created_at=key.created_at,
                public_jwk=None if key.public_jwk is None else dict(key.public_jwk),
                sealed_private=key.sealed_private,
                activates_at=key.activates_at,
                retires_at=key.retires_at,
            )
        )
    for kid, status in change.statuses.items():
        conn.execute(update(SigningKeyRow).where(SigningKeyRow.kid == kid).values(status=status))
    for key in change.replace:  # kid, alg, created_at and the public key never change
        conn.execute(
            update(SigningKeyRow)
            .where(SigningKeyRow.kid == key.kid)
            .values(status=key.status, activates_at=key.activates_at,
                    retires_at=key.retires_at, sealed_private=key.sealed_private)
        )  # fmt: skip


def _key(row: Row[Any]) -> StoredKey:
    return StoredKey(
        kid=row.kid,
        alg=row.alg,
        status=row.status,
        created_at=row.created_at,
        public_jwk=None if row.public_jwk is None else dict(row.public_jwk),
        sealed_private=bytes(row.sealed_private),
        activates_at=row.activates_at,
        retires_at=row.retires_at,
    )
