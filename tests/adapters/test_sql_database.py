"""`Database`: URLs, migrations, failure mapping and closing, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import re
import string
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import URL

from jwtkeep.adapters.sql import Database, normalize_url, redact_url
from jwtkeep.adapters.sql.database import MIGRATIONS_DIR
from jwtkeep.adapters.sql.schema import metadata
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.errors import ConfigurationError, StoreUnavailable
from tests.support.services import free_port

HEAD = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
TABLES = {
    "users", "apps", "signing_keys", "audit_events", "sessions", "refresh_tokens",
    "access_tokens", "alembic_version", "authorization_codes", "login_sessions",
    "login_session_sids", "consents", "revocation_events",
}  # fmt: skip


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jwtkeep.db'}"
    fresh: str = request.getfixturevalue("fresh_postgres_url")
    return fresh


@pytest.fixture
async def database(url: str) -> AsyncIterator[Database]:
    database = Database.connect(url)
    try:
        yield database
    finally:
        await database.close()


# -- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_url", "normalized"),
    [
        ("sqlite:///data/jwtkeep.db", "sqlite+pysqlite:///data/jwtkeep.db"),
        ("sqlite:////var/lib/jwtkeep.db", "sqlite+pysqlite:////var/lib/jwtkeep.db"),
        ("sqlite://", "sqlite+pysqlite://"),
        ("postgresql://u:p@db:5432/jk", "postgresql+asyncpg://u:p@db:5432/jk"),
        ("postgres://u@db/jk", "postgresql+asyncpg://u@db/jk"),
        ("postgresql+asyncpg://u@db/jk", "postgresql+asyncpg://u@db/jk"),
        ("sqlite+aiosqlite:///x.db", "sqlite+pysqlite:///x.db"),
    ],
)
def test_normalize_url_picks_the_async_driver(given_url: str, normalized: str) -> None:
    assert normalize_url(given_url) == normalized
    assert Database.connect(given_url).url == normalized


@pytest.mark.parametrize("bad", ["mysql://u:hunter2hunter2@h/d", "no-scheme", "redis://h:6379/0"])
def test_other_urls_are_a_configuration_error(bad: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Database.connect(bad)
    assert "hunter2hunter2" not in str(caught.value)


@given(password=st.text(string.ascii_letters + string.digits + "!$%&()*+,;=:@/?#[]", min_size=12))
def test_a_password_never_shows(password: str) -> None:
    # A "password" that is itself a piece of the redacted URL (Hypothesis found
    # "postgresql+a") cannot be told apart from the URL's public parts.
    assume(password not in "postgresql+asyncpg://jk:***@db.internal/jwtkeep")
    url = URL.create(
        "postgresql", username="jk", password=password, host="db.internal", database="jwtkeep"
    ).render_as_string(hide_password=False)
    database = Database.connect(url)
    for shown in (redact_url(url), redact_url(database.url), repr(database)):
        assert password not in shown
        assert "***" in shown


# -- migrations ----------------------------------------------------------------------------


async def test_migrate_creates_the_schema_and_is_idempotent(database: Database) -> None:
    await database.migrate()
    await database.migrate()

    tables = await database.engine.read(_table_names)
    version = await database.engine.read(_version)
    assert tables == TABLES
    assert version == HEAD


def _table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _version(connection: Connection) -> str | None:
    version: str | None = connection.execute(
        text("SELECT version_num FROM alembic_version")
    ).scalar()
    return version


async def test_the_migrations_build_exactly_the_declared_schema(database: Database) -> None:
    """`alembic revision --autogenerate` would find nothing to do."""
    await database.migrate()

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    assert await database.engine.read(differences) == []


_APP_AT_0001 = text(
    "INSERT INTO apps (id, name, client_id, audience, scopes, routes, confidential, "
    "client_secret_hash, access_token_ttl, refresh_enabled, extra_claims, created_at) "
    "VALUES (:id, :name, :client_id, :audience, '[]', '[]', false, NULL, 300, true, '{}', 1.0)"
)


async def _database_at_0001_with_apps(database: Database, *audiences: str) -> None:
    await database.migrate("0001")

    def insert(conn: Connection) -> None:
        for n, audience in enumerate(audiences):
            values = {"id": f"00000000-0000-4000-8000-00000000000{n}", "name": f"app{n}",
                      "client_id": f"client{n}", "audience": audience}  # fmt: skip
            conn.execute(_APP_AT_0001, values)

    await database.engine.write(insert)


async def test_0002_keeps_account_access_for_existing_apps(database: Database) -> None:
    """Apps made before 0002 were the operator's, with account access: they keep it."""
    await _database_at_0001_with_apps(database, "https://a.example", "https://b.example")
    await database.migrate()
    apps = await database.apps.list_apps()
    assert [(app.name, app.account_access) for app in apps] == [("app0", True), ("app1", True)]
    assert await database.engine.read(_version) == HEAD


async def test_0002_grants_existing_apps_no_introspection(database: Database) -> None:
    """`apps.introspect_audiences` starts empty: no app sees another's tokens by migrating."""
    await _database_at_0001_with_apps(database, "https://a.example")
    await database.migrate()
    assert [app.introspect_audiences for app in await database.apps.list_apps()] == [()]


async def test_0003_keeps_every_grant_existing_apps_could_use(database: Database) -> None:
    """Before 0003 every app could use the password and refresh grants, and a confidential
    one client credentials: none is locked out. No redirect URI, no code flow yet."""
    await _database_at_0001_with_apps(database, "https://a.example", "https://b.example")
    await database.engine.write(
        lambda conn: conn.execute(text("UPDATE apps SET confidential = true WHERE name = 'app1'"))
    )
    await database.migrate()
    apps = {app.name: app for app in await database.apps.list_apps()}
    assert apps["app0"].grants == ("password", "refresh_token")
    assert apps["app1"].grants == ("password", "refresh_token", "client_credentials")
    assert apps["app0"].allows_grant("password")
    assert not apps["app0"].allows_grant("authorization_code")
    assert apps["app1"].allows_grant("client_credentials")
    assert [(a.redirect_uris, a.first_party) for a in apps.values()] == [((), False)] * 2


async def test_0002_refuses_apps_that_share_an_audience(database: Database) -> None:
    await _database_at_0001_with_apps(database, "https://shared.example", "https://shared.example")
    with pytest.raises(ConfigurationError, match=re.escape("'https://shared.example': app0, app1")):
        await database.migrate()
    # nothing changed: the operator fixes it and migrates again
    assert await database.engine.read(_version) == "0001"
    await database.engine.write(
        lambda conn: conn.execute(
            text("UPDATE apps SET audience = 'https://b.example' WHERE name = 'app1'")
        )
    )
    await database.migrate()
    assert [app.account_access for app in await database.apps.list_apps()] == [True, True]


async def test_0005_keys_made_before_it_signed_from_their_creation(database: Database) -> None:
    await database.migrate("0002")
    await database.engine.write(lambda conn: conn.execute(text(
        "INSERT INTO signing_keys (kid, alg, status, created_at, public_jwk, sealed_private)"
        " VALUES ('old', 'EdDSA', 'retiring', 5.0, NULL, :blob)"
    ), {"blob": b"sealed"}))  # fmt: skip
    await database.migrate()
    (key,) = await database.keys.list_keys()
    assert (key.activates_at, key.retires_at) == (5.0, None)  # the schedule gives it a time


async def test_a_database_from_a_newer_jwtkeep_is_refused(database: Database) -> None:
    await database.migrate()
    await database.engine.write(
        lambda conn: conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    )
    with pytest.raises(ConfigurationError):
        await database.migrate()


async def test_replicas_may_migrate_at_the_same_time(url: str) -> None:
    replicas = [Database.connect(url) for _ in range(3)]
    try:
        await asyncio.gather(*(replica.migrate() for replica in replicas))
        user = await replicas[0].users.get_user("nobody")
    finally:
        for replica in replicas:
            await replica.close()
    assert user is None


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    """WAL, foreign keys, synchronous=NORMAL (1: durable against a crash of jwtkeep, no
    fsync per commit in WAL mode) on every connection. The pooled connections (bulk
    transactions, on threads) wait on the busy timeout and checkpoint as SQLite does; the
    connection of short transactions, used on the event loop, never waits (busy timeout
    0: it hands the transaction to a thread instead) and never checkpoints."""
    database = Database.connect(f"sqlite:///{tmp_path / 'jwtkeep.db'}", timeout=2.5)

    def pragmas(conn: Connection) -> tuple[object, ...]:
        return tuple(
            conn.execute(text(f"PRAGMA {name}")).scalar()
            for name in (
                "journal_mode", "foreign_keys", "synchronous", "busy_timeout", "wal_autocheckpoint"
            )
        )  # fmt: skip

    try:
        await database.migrate()
        pooled = set(
            await asyncio.gather(*(database.engine.read(pragmas, bulk=True) for _ in range(8)))
        )
        short = set(await asyncio.gather(*(database.engine.read(pragmas) for _ in range(8))))
    finally:
        await database.close()
    assert pooled == {("wal", 1, 1, 2500, 1000)}
    assert short == {("wal", 1, 1, 0, 0)}


# -- failures: StoreUnavailable, never a silent answer -------------------------------------


async def _is_allowed(database: Database) -> bool:
    return await database.tokens.is_allowed(fingerprint("t"), "sub", "sid", 1.0)


async def test_a_closed_port_is_store_unavailable() -> None:
    url = f"postgresql://jk:hunter2hunter2@127.0.0.1:{free_port()}/jwtkeep"
    database = Database.connect(url, timeout=1.0)
    try:
        calls = (database.ping, lambda: _is_allowed(database), lambda: database.users.get_user("u"))
        for call in calls:
            with pytest.raises(StoreUnavailable) as caught:
                await call()
            assert "hunter2hunter2" not in str(caught.value)
            assert "hunter2hunter2" not in str(caught.value.__cause__)
    finally:
        await database.close()


async def test_a_missing_postgres_database_is_store_unavailable(fresh_postgres_url: str) -> None:
    database = Database.connect(fresh_postgres_url.rsplit("/", 1)[0] + "/no_such_db", timeout=1.0)
    try:
        with pytest.raises(StoreUnavailable):
            await database.ping()
    finally:
        await database.close()


async def test_an_unopenable_sqlite_file_is_store_unavailable(tmp_path: Path) -> None:
    database = Database.connect(f"sqlite:///{tmp_path / 'missing-dir' / 'jwtkeep.db'}")
    try:
        with pytest.raises(StoreUnavailable):
            await database.ping()
        with pytest.raises(StoreUnavailable):
            await _is_allowed(database)
    finally:
        await database.close()


async def test_postgres_recovers_when_its_connections_are_killed(fresh_postgres_url: str) -> None:
    """A database restart drops pooled connections; the next call reconnects by itself."""
    database = Database.connect(fresh_postgres_url)
    try:
        await database.migrate()
        assert await _is_allowed(database) is False
        assert await _kill_connections(fresh_postgres_url) >= 1
        assert await _is_allowed(database) is False
    finally:
        await database.close()


# -- closing -------------------------------------------------------------------------------


async def test_a_token_store_opened_alone_closes_its_connections(fresh_postgres_url: str) -> None:
    """The factory's `Database.connect(url).tokens` must not leak the engine."""
    store = Database.connect(fresh_postgres_url).tokens
    await store.ping()
    assert await _connections(fresh_postgres_url) >= 1
    await store.close()
    assert await _connections(fresh_postgres_url) == 0


async def test_a_shared_token_store_leaves_closing_to_the_database(
    fresh_postgres_url: str,
) -> None:
    database = Database.connect(fresh_postgres_url)
    await database.tokens.ping()
    await database.tokens.close()
    assert await _connections(fresh_postgres_url) >= 1
    await database.ping()
    await database.close()
    assert await _connections(fresh_postgres_url) == 0


async def _connections(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'jwtkeep'"
        )
    finally:
        await conn.close()
    return count


async def _kill_connections(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        killed: int = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'jwtkeep'"
        )
    finally:
        await conn.close()
    return killed
