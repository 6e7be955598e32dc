"""The CLI against the production backends, real servers started by the test session:
PostgreSQL (master key from the environment, no SQLite file to look at) and a Redis
token store (sessions are listed and ended through it)."""

from __future__ import annotations

import base64
import os

import pytest

from tests.cli.support import PASSWORD, Cli, login, one_json, verifies


@pytest.fixture
def pg_cli(cli: Cli, fresh_postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Cli:
    key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    monkeypatch.setenv("JWTKEEP_MASTER_KEY", key)
    monkeypatch.setenv("JWTKEEP_DATABASE_URL", fresh_postgres_url)
    return cli


@pytest.mark.postgres
def test_commands_on_an_empty_database_ask_for_init(pg_cli: Cli) -> None:
    for args in (("keys", "list"), ("app", "list"), ("serve",)):
        result = pg_cli(*args)
        assert result.exit_code == 2, result.output
        assert "jwtkeep init" in result.stderr


@pytest.mark.postgres
def test_init_then_use_on_postgres(pg_cli: Cli) -> None:
    first = pg_cli.ok("init")
    assert "signing key" in first.stdout
    assert not (pg_cli.data_dir / "master.key").exists()
    assert "nothing changed" in pg_cli.ok("init").stdout
    created = one_json(pg_cli.ok("app", "create", "pg", "--audience", "aud", "--json"))
    user = one_json(pg_cli.ok("user", "create", "pat", "--password-stdin", "--json",
                              input=PASSWORD))  # fmt: skip
    assert [a["client_id"] for a in one_json(pg_cli.ok("app", "list", "--json"))] == [
        created["client_id"]
    ]
    assert one_json(pg_cli.ok("sessions", "list", user["id"], "--json")) == []
    events = one_json(pg_cli.ok("audit", "--json"))
    assert {"app.created", "user.created"} <= {e["event"] for e in events}


@pytest.mark.redis
def test_sessions_through_a_redis_token_store(
    ready: Cli, fresh_redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWTKEEP_TOKEN_STORE_URL", fresh_redis_url)
    client_id = one_json(ready.ok("app", "create", "web", "--audience", "aud", "--json"))
    ready.ok("user", "create", "rita", "--password-stdin", input=PASSWORD)
    tokens = [login(ready, client_id["client_id"], "rita") for _ in range(2)]
    listed = one_json(ready.ok("sessions", "list", "rita", "--json"))
    assert len(listed) == 2
    ready.ok("sessions", "revoke", listed[0]["sid"])
    assert [verifies(ready, token) for token in tokens] == [True, False]
    assert "Ended 1 session(s)" in ready.ok("sessions", "revoke-all", "rita").stdout
    assert not verifies(ready, tokens[0])
    assert one_json(ready.ok("sessions", "list", "rita", "--json")) == []
