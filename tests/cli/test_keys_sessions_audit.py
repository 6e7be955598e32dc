"""`jwtkeep keys ...`, `jwtkeep sessions ...` and `jwtkeep audit`, against real state:
tokens are issued by the login use case and checked with the runtime's verifier."""

from __future__ import annotations

import time
from typing import Any

import pytest

from jwtkeep.cli.audit import parse_since
from tests.cli.support import PASSWORD, Cli, login, one_json, verifies


def keys(cli: Cli) -> dict[str, str]:
    return {k["kid"]: k["status"] for k in one_json(cli.ok("keys", "list", "--json"))}


def active(cli: Cli) -> str:
    (kid,) = [kid for kid, status in keys(cli).items() if status == "active"]
    return kid


# --- keys -----------------------------------------------------------------------------


def test_keys_list_shows_one_active_key_after_init(ready: Cli) -> None:
    listed = one_json(ready.ok("keys", "list", "--json"))
    assert len(listed) == 1
    assert listed[0]["status"] == "active"
    assert listed[0]["alg"] == "EdDSA"
    assert set(listed[0]) == {"kid", "alg", "status", "created_at", "signs_from"}
    assert listed[0]["kid"] in ready.ok("keys", "list").stdout


def test_rotate_now_then_retire(ready: Cli) -> None:
    old = active(ready)
    result = ready.ok("keys", "rotate", "--now")
    new = active(ready)
    assert new != old
    assert new in result.stdout
    assert keys(ready) == {old: "retiring", new: "active"}
    ready.ok("keys", "retire", old)
    assert keys(ready) == {old: "retired", new: "active"}


def test_rotate_and_compromised_json(ready: Cli) -> None:
    old = active(ready)
    rotated = one_json(ready.ok("keys", "rotate", "--now", "--json"))
    assert rotated["kid"] == active(ready)
    assert set(rotated) == {"kid", "signs_from"}
    retiring = one_json(ready.ok("keys", "compromised", old, "--json"))
    assert retiring == {"kid": old, "status": "compromised", "new_kid": None, "tokens_killed": 0}
    signing = rotated["kid"]
    drill = one_json(ready.ok("keys", "compromised", signing, "--json"))
    assert drill["new_kid"] == active(ready)
    assert keys(ready)[signing] == "compromised"


def test_the_only_active_key_cannot_be_retired(ready: Cli) -> None:
    result = ready("keys", "retire", active(ready))
    assert result.exit_code == 1
    assert "rotate" in result.stderr


def test_a_compromised_key_cannot_be_retired(ready: Cli) -> None:
    leaked = active(ready)
    ready.ok("keys", "compromised", leaked)
    result = ready("keys", "retire", leaked)
    assert result.exit_code == 1
    assert f"key {leaked} is compromised: its status never changes again" in result.stderr
    assert keys(ready)[leaked] == "compromised"


def test_unknown_kid_is_not_found(ready: Cli) -> None:
    for command in ("retire", "compromised"):
        result = ready("keys", command, "no-such-kid")
        assert result.exit_code == 1
        assert "no key" in result.stderr


def test_compromised_drill_withdraws_the_key_and_its_tokens(ready: Cli) -> None:
    client_id = one_json(ready.ok("app", "create", "web", "--audience", "aud", "--json"))
    ready.ok("user", "create", "alice", "--password-stdin", input=PASSWORD)
    token = login(ready, client_id["client_id"], "alice")
    assert verifies(ready, token)
    leaked = active(ready)
    result = ready.ok("keys", "compromised", leaked)
    replacement = active(ready)
    assert keys(ready) == {leaked: "compromised", replacement: "active"}
    assert "refused" in result.stdout
    assert replacement in result.stdout
    assert not verifies(ready, token)  # signed by the withdrawn key: refused
    assert verifies(ready, login(ready, client_id["client_id"], "alice"))  # new key signs


# --- sessions -------------------------------------------------------------------------


@pytest.fixture
def two_users(ready: Cli) -> dict[str, Any]:
    client_id = one_json(ready.ok("app", "create", "web", "--audience", "aud", "--json"))
    ids = {}
    for name in ("alice", "bob"):
        ids[name] = one_json(
            ready.ok("user", "create", name, "--password-stdin", "--json", input=PASSWORD)
        )["id"]
    return {"client_id": client_id["client_id"], "ids": ids}


def test_sessions_list_by_username_or_uuid(ready: Cli, two_users: dict[str, Any]) -> None:
    assert one_json(ready.ok("sessions", "list", "alice", "--json")) == []
    login(ready, two_users["client_id"], "alice")
    login(ready, two_users["client_id"], "alice")
    by_name = one_json(ready.ok("sessions", "list", "alice", "--json"))
    by_id = one_json(ready.ok("sessions", "list", two_users["ids"]["alice"], "--json"))
    assert len(by_name) == 2
    assert by_name == by_id
    assert {s["user_id"] for s in by_name} == {two_users["ids"]["alice"]}
    assert {s["ip"] for s in by_name} == {"127.0.0.1"}
    text = " ".join(str(v) for s in by_name for v in s.values())
    assert "jkrt_" not in text  # no refresh token material
    assert not {k for s in by_name for k in s if "token" in k or "fingerprint" in k}


def test_revoke_one_session_kills_its_token_only(ready: Cli, two_users: dict[str, Any]) -> None:
    first = login(ready, two_users["client_id"], "alice")
    second = login(ready, two_users["client_id"], "alice")
    sessions = one_json(ready.ok("sessions", "list", "alice", "--json"))
    newest = sessions[0]["sid"]  # newest first: the second login
    ready.ok("sessions", "revoke", newest)
    assert not verifies(ready, second)
    assert verifies(ready, first)
    assert [s["sid"] for s in one_json(ready.ok("sessions", "list", "alice", "--json"))] == [
        sessions[1]["sid"]
    ]
    again = ready("sessions", "revoke", newest)
    assert again.exit_code == 1
    assert "no live session" in again.stderr


def test_revoke_all_ends_every_session_of_that_user_only(
    ready: Cli, two_users: dict[str, Any]
) -> None:
    alice = [login(ready, two_users["client_id"], "alice") for _ in range(2)]
    bob = login(ready, two_users["client_id"], "bob")
    result = ready.ok("sessions", "revoke-all", "alice")
    assert "Ended 2 session(s)" in result.stdout
    assert not any(verifies(ready, token) for token in alice)
    assert verifies(ready, bob)


def test_unknown_user_is_a_clear_error(ready: Cli) -> None:
    for args in (("sessions", "list", "nobody"), ("sessions", "revoke-all", "nobody")):
        result = ready(*args)
        assert result.exit_code == 1
        assert "no user 'nobody'" in result.stderr


# --- audit ----------------------------------------------------------------------------


def test_audit_filters_by_user_and_jti(ready: Cli, two_users: dict[str, Any]) -> None:
    token = login(ready, two_users["client_id"], "alice")
    login(ready, two_users["client_id"], "bob")
    ready.ok("sessions", "revoke-all", "alice")
    events = one_json(ready.ok("audit", "--user", "alice", "--json"))
    names = [e["event"] for e in events]
    assert names[:2] == ["logout_all", "login.succeeded"]  # newest first
    assert {e["user_id"] for e in events} == {two_users["ids"]["alice"]}
    jti = events[1]["jti"]
    assert jti is not None
    by_jti = one_json(ready.ok("audit", "--jti", jti, "--json"))
    assert [e["event"] for e in by_jti] == ["login.succeeded"]
    everything = ready.ok("audit", "--json").stdout
    assert token not in everything
    assert token.split(".")[2] not in everything


def test_audit_since(ready: Cli, two_users: dict[str, Any]) -> None:
    login(ready, two_users["client_id"], "alice")
    assert one_json(ready.ok("audit", "--since", "1h", "--json"))
    assert one_json(ready.ok("audit", "--since", "2999-01-01T00:00:00Z", "--json")) == []
    assert "login.succeeded" in ready.ok("audit", "--since", "10m").stdout
    bad = ready("audit", "--since", "yesterday")
    assert bad.exit_code == 2
    assert "ISO 8601" in bad.stderr


@pytest.mark.parametrize(
    ("text", "seconds_ago"),
    [("30s", 30), ("30m", 1800), ("30min", 1800), ("1h", 3600), ("7d", 604800), ("2w", 1209600)],
)
def test_parse_since_durations(text: str, seconds_ago: int) -> None:
    now = time.time()
    assert parse_since(text, now) == now - seconds_ago


def test_parse_since_iso_times() -> None:
    assert parse_since("2030-01-01T00:00:00Z", 0) == 1893456000
    assert parse_since("2030-01-01T00:00:00", 0) == 1893456000  # no offset: UTC
    assert parse_since("2030-01-01T01:00:00+01:00", 0) == 1893456000
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_since("next tuesday", 0)


def test_key_ids_starting_with_a_dash_are_arguments(ready: Cli) -> None:
    """A kid is base64url: one in 64 starts with `-` (the key-leak drill must take it)."""
    for command in ("retire", "compromised"):
        for kid in ("-abc", "-ah1", "--abc"):
            for args in ((kid,), ("--", kid), (kid, "--reason", "leaked")):
                result = ready("keys", command, *args)
                assert result.exit_code == 1, result.output
                assert result.stderr == f"error: no key with kid {kid!r}\n"
