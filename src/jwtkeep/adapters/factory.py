"""Choose the token-store adapter from `JWTKEEP_TOKEN_STORE_URL`.

`sqlite://`/`postgresql://` (or none: the database) give the SQL store;
`redis://`, `rediss://`, `redis+sentinel://`, `redis+cluster://` give the Redis store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jwtkeep.errors import ConfigurationError

if TYPE_CHECKING:
    from jwtkeep.adapters.sql import Database
    from jwtkeep.ports import TokenStore

__all__ = ["REDIS_SCHEMES", "open_token_store"]

REDIS_SCHEMES = ("redis://", "rediss://", "redis+sentinel://", "redis+cluster://")


async def open_token_store(
    url: str | None,
    *,
    database: Database | None = None,
    pool_size: int = 50,
    timeout: float = 0.25,
) -> TokenStore:
    """The token store for `url`; `None` means the SQL database itself."""
    if url is None or (database is not None and url == database.url):
        if database is None:
            raise ConfigurationError("a token store URL or a database is required")
        return database.tokens
    if url.startswith(REDIS_SCHEMES):
        try:
            from jwtkeep.adapters.redis import RedisTokenStore  # noqa: PLC0415 (optional extra)
        except ImportError as exc:
            raise ConfigurationError("Redis token store needs: pip install 'jwtkeep[redis]'") from exc
        return RedisTokenStore.from_url(url, pool_size=pool_size, timeout=timeout)
    if url.startswith(("sqlite", "postgresql", "postgres")):
        from jwtkeep.adapters.sql import Database  # noqa: PLC0415

        return Database.connect(url, pool_size=pool_size).tokens
    raise ConfigurationError(
        "JWTKEEP_TOKEN_STORE_URL must start with one of: sqlite, postgresql, " + ", ".join(REDIS_SCHEMES)
    )
