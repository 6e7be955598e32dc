"""A migrated, empty Database per test, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jwtkeep.adapters.sql import Database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jwtkeep.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    database = Database.connect(url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()
