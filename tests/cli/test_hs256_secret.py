"""`jwtkeep init` with HS256: a weak JWTKEEP_HMAC_SECRET stops it with one line, exit 2."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.cli.support import Cli

PASSWORD_32 = "CorrectHorseBatteryStaple2024xyz"  # 32 characters: enough on today's main


@pytest.fixture
def hs256(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("JWTKEEP_SIGNING_ALG", "HS256")
    monkeypatch.setenv("JWTKEEP_ALLOW_HS256", "true")
    return monkeypatch


@pytest.mark.parametrize(
    ("secret", "reason"),
    [(PASSWORD_32, "decodes to 24 bytes"), ("not/base64+at*all" * 3, "not base64url")],
)
def test_a_weak_secret_stops_init_with_one_line(
    cli: Cli, hs256: pytest.MonkeyPatch, secret: str, reason: str
) -> None:
    hs256.setenv("JWTKEEP_HMAC_SECRET", secret)
    result = cli("init")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "JWTKEEP_HMAC_SECRET" in result.stderr
    assert reason in result.stderr
    assert secret not in result.output
    assert not cli.data_dir.exists()


def test_a_random_secret_initialises(cli: Cli, hs256: pytest.MonkeyPatch) -> None:
    hs256.setenv("JWTKEEP_HMAC_SECRET", secrets.token_urlsafe(32))
    cli.ok("init")


def test_the_drill_refuses_to_keep_the_leaked_secret(cli: Cli, hs256: pytest.MonkeyPatch) -> None:
    """Every HS256 key is JWTKEEP_HMAC_SECRET: a new kid on the leaked secret is no new key
    (RFC 7518 §3.2). The drill says what to do, and runs once the secret is a new one."""
    hs256.setenv("JWTKEEP_HMAC_SECRET", secrets.token_urlsafe(32))
    cli.ok("init")
    listed = json.loads(cli.ok("keys", "list", "--json").stdout)
    leaked = listed[0]["kid"]
    refused = cli("keys", "compromised", leaked)
    assert refused.exit_code == 1
    assert "Set a new JWTKEEP_HMAC_SECRET" in refused.stderr
    assert json.loads(cli.ok("keys", "list", "--json").stdout)[0]["status"] == "active"
    hs256.setenv("JWTKEEP_HMAC_SECRET", secrets.token_urlsafe(32))
    done = json.loads(cli.ok("keys", "compromised", leaked, "--json").stdout)
    assert done["status"] == "compromised"
    assert done["new_kid"]
