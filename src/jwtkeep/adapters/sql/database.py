"""`Database`: one SQL database (SQLite or PostgreSQL) and every repository on it."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, text

from jwtkeep.adapters.sql.apps import SqlAppRepository
from jwtkeep.adapters.sql.audit import SqlAuditLog
from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.sign_in import SqlAuthorizationCodes, SqlConsents, SqlLoginSessions
from jwtkeep.adapters.sql.signing_keys import SqlKeyRepository
from jwtkeep.adapters.sql.token_store import SqlTokenStore
from jwtkeep.adapters.sql.url import normalize_url, redact_url
from jwtkeep.adapters.sql.users import SqlUserRepository
from jwtkeep.errors import ConfigurationError

if TYPE_CHECKING:
    from jwtkeep.ports import (
        AppRepository,
        AuditLog,
        AuthorizationCodeStore,
        ConsentStore,
        KeyRepository,
        LoginSessionStore,
        TokenStore,
        UserRepository,
    )

__all__ = ["MIGRATIONS_DIR", "Database"]

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Serializes `migrate()` across processes on PostgreSQL (replicas starting together).
_MIGRATION_LOCK_ID = 0x6A77_746B_6565_70  # "jwtkeep"


class Database:
    """Users, apps, keys, audit, browser sign-in and the token store on one SQL database.

    `connect` does no I/O; the first query connects. `close` closes everything.
    """

    def __init__(self, url: str, engine: SqlEngine) -> None:
        self.url = url
        self.engine = engine
        self.users = SqlUserRepository(engine)
        self.apps = SqlAppRepository(engine)
        self.keys = SqlKeyRepository(engine)
        self.audit = SqlAuditLog(engine)
        self.tokens = SqlTokenStore(engine, owner=self)
        # Browser sign-in (authorization codes, login sessions, consents): always SQL.
        self.codes = SqlAuthorizationCodes(engine)
        self.logins = SqlLoginSessions(engine)
        self.consents = SqlConsents(engine)

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10, timeout: float = 5.0) -> Database:
        """A database for `url` (`sqlite:///path`, `postgresql://...`); no I/O here."""
        normalized = normalize_url(url)
        return cls(normalized, SqlEngine(normalized, pool_size=pool_size, timeout=timeout))

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    async def migrate(self, revision: str = "head") -> None:
        """Bring the schema to the newest revision (`alembic upgrade head`); idempotent.
        Tests of a migration pass an older `revision` to start from."""
        async with _in_process_migration_lock():
            await self.engine.write(lambda conn: _upgrade(conn, revision), bulk=True)

    async def ping(self) -> None:
        """Raise `StoreUnavailable` unless the database answers."""
        await self.engine.ping()

    async def close(self) -> None:
        await self.engine.dispose()


_MIGRATION_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


def _in_process_migration_lock() -> asyncio.Lock:
    """Alembic keeps the running migration's context in module globals (`alembic.context`),
    so two migrations in one process must never interleave: one would run its DDL through
    the other's connection, outside the database lock (seen as "table already exists").
    Separate processes are serialized by the database (advisory lock, BEGIN IMMEDIATE)."""
    loop = asyncio.get_running_loop()
    lock = _MIGRATION_LOCKS.get(loop)
    if lock is None:
        lock = _MIGRATION_LOCKS[loop] = asyncio.Lock()
    return lock


def _upgrade(connection: Connection, revision: str) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    try:
        command.upgrade(config, revision)
    except CommandError as error:
        # E.g. the database was migrated by a newer jwtkeep: refuse to run on it.
        raise ConfigurationError(f"cannot migrate the database: {error}") from error


if TYPE_CHECKING:

    def _implements_the_ports(
        db: Database,
    ) -> tuple[UserRepository, AppRepository, KeyRepository, AuditLog, TokenStore]:
        """mypy proves here that every repository matches its port exactly."""
        return db.users, db.apps, db.keys, db.audit, db.tokens

    def _implements_the_browser_ports(
        db: Database,
    ) -> tuple[AuthorizationCodeStore, LoginSessionStore, ConsentStore]:
        return db.codes, db.logins, db.consents
