"""Choose the token-store adapter from `JWTKEEP_TOKEN_STORE_URL`.

`sqlite://`/`postgresql://` (or none: the database) give the SQL store;
`redis://`, `rediss://`, `redis+sentinel://`, `redis+cluster://` give the Redis store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jwtkeep.adapters.sql import Database, normalize_url
from jwtkeep.errors import ConfigurationError

if TYPE_CHECKING:
    from jwtkeep.ports import TokenStore

__all__ = ["REDIS_SCHEMES", "open_token_store"]

REDIS_SCHEMES = ("redis://", "rediss://", "redis+sentinel://", "redis+cluster://")


async def open_token_store(
    url: str | None,
    *,
    database: Database | None = None,
    pool_size: int = 50,
    io_timeout: float = 0.25,
) -> TokenStore:
    """The token store for `url`; `None` means the SQL database itself.

    A separate SQL token-store database is migrated here (idempotent), since nothing else
    would create its tables."""
    same_database = (
        url is not None
        and database is not None
        and not url.startswith(REDIS_SCHEMES)
        and normalize_url(url) == database.url
    )
    if url is None or same_database:
        if database is None:
            raise ConfigurationError("a token store URL or a database is required")
        return database.tokens
    if url.startswith(REDIS_SCHEMES):
        try:
            from jwtkeep.adapters.redis import RedisTokenStore  # noqa: PLC0415 (optional extra)
        except ImportError as exc:
            raise ConfigurationError(
                "Redis token store needs: pip install 'jwtkeep[redis]'"
            ) from exc
        return RedisTokenStore.from_url(url, pool_size=pool_size, timeout=io_timeout)
    if url.startswith(("sqlite", "postgresql", "postgres")):
        separate = Database.connect(url, pool_size=pool_size, timeout=max(io_timeout, 1.0))
        await separate.migrate()
        return separate.tokens  # closing the store closes this Database's engine
    raise ConfigurationError(
        "JWTKEEP_TOKEN_STORE_URL must start with one of: sqlite, postgresql, "
        + ", ".join(REDIS_SCHEMES)
    )
