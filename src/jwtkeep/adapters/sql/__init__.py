"""The SQL adapter: SQLite (the standard sqlite3; short transactions on the event loop, bulk
ones on a worker thread) and PostgreSQL (asyncpg) via SQLAlchemy 2; see `engine.py`.

`Database.connect(url)` gives the user, app, key and audit repositories and the token
store, all on one database; `migrate()` brings its schema up to date (Alembic).
"""

from jwtkeep.adapters.sql.apps import SqlAppRepository
from jwtkeep.adapters.sql.audit import SqlAuditLog
from jwtkeep.adapters.sql.database import Database
from jwtkeep.adapters.sql.engine import SqlEngine
from jwtkeep.adapters.sql.signing_keys import SqlKeyRepository
from jwtkeep.adapters.sql.token_store import SqlTokenStore
from jwtkeep.adapters.sql.url import normalize_url, redact_url
from jwtkeep.adapters.sql.users import SqlUserRepository

__all__ = [
    "Database",
    "SqlAppRepository",
    "SqlAuditLog",
    "SqlEngine",
    "SqlKeyRepository",
    "SqlTokenStore",
    "SqlUserRepository",
    "normalize_url",
    "redact_url",
]
