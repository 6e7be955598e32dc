"""The store contract suite runs against every backend (CONVENTIONS "Tests").

`token_store` is a fresh, empty store per test on: SQLite, PostgreSQL, Redis standalone,
and a three-master Redis Cluster. The servers are real processes started by the test
session (see tests/support/). `fresh_*_url` are synchronous function-scoped fixtures
that hand out an empty database / flushed Redis for each test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jwtkeep.adapters.sql import Database
from jwtkeep.ports import TokenStore
from jwtkeep.runtime import open_token_store
from tests.support.redis_server import CORRECTNESS_TIMEOUT

BACKENDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("redis-cluster", marks=pytest.mark.redis),
]


@pytest.fixture(params=BACKENDS)
async def token_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TokenStore]:
    backend: str = request.param
    if backend == "sqlite":
        database = Database.connect(f"sqlite:///{tmp_path / 'store.db'}")
        await database.migrate()
        store = await open_token_store(database.url, database=database)
    elif backend == "postgres":
        url: str = request.getfixturevalue("fresh_postgres_url")
        database = Database.connect(url)
        await database.migrate()
        store = await open_token_store(database.url, database=database)
    elif backend == "redis":
        store = await open_token_store(
            request.getfixturevalue("fresh_redis_url"), io_timeout=CORRECTNESS_TIMEOUT
        )
    else:
        store = await open_token_store(
            request.getfixturevalue("fresh_redis_cluster_url"), io_timeout=CORRECTNESS_TIMEOUT
        )
    try:
        yield store
    finally:
        await store.close()
        if backend in ("sqlite", "postgres"):
            await database.close()
