"""Choosing the token store from JWTKEEP_TOKEN_STORE_URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from jwtkeep.adapters.sql import Database
from jwtkeep.errors import ConfigurationError
from jwtkeep.runtime import open_token_store
from tests.contract.builders import NOW, access_for, new_sid, new_user


async def test_no_url_means_the_database_itself(tmp_path: Path) -> None:
    database = Database.connect(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert await open_token_store(None, database=database) is database.tokens
        same = f"sqlite:///{tmp_path / 'a.db'}"
        assert await open_token_store(same, database=database) is database.tokens
    finally:
        await database.close()


async def test_a_separate_sql_store_is_migrated_and_usable(tmp_path: Path) -> None:
    store = await open_token_store(f"sqlite:///{tmp_path / 'tokens.db'}")
    try:
        record = access_for(new_user(), new_sid())
        await store.add_access(record, NOW)
        assert await store.is_allowed(record.fingerprint, record.sub, record.sid, NOW)
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["memcached://x", "http://redis", "mysql://db", ""])
async def test_unknown_schemes_are_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        await open_token_store(url)


async def test_no_url_and_no_database_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        await open_token_store(None)
