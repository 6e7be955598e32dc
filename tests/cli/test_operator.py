"""The operator's day from the command line, against real stores: SQLite, PostgreSQL, and
a Redis token store. Users (list, show, disable, enable, delete, set-password), apps
(show, update, rotate-secret, disable, enable, delete), sessions (revoke with a `-` id,
revoke-everything) and the audit trail that records who did it and why. Tokens are
issued by the login use case and checked with the runtime's verifier."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from jwtkeep.errors import InvalidClient, InvalidGrant
from jwtkeep.ports import App
from jwtkeep.runtime import Runtime
from jwtkeep.usecases.clients import authenticate_client
from tests.cli.support import PASSWORD, Cli, login, one_json, verifies

NEW_PASSWORD = "a different horse battery"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def op(
    request: pytest.FixtureRequest,
    cli: Cli,
    initialised_template: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Cli:
    """An initialised CLI on one backend (the token store is Redis for "redis")."""
    if request.param == "postgres":
        key = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        monkeypatch.setenv("JWTKEEP_MASTER_KEY", key)
        monkeypatch.setenv("JWTKEEP_DATABASE_URL", request.getfixturevalue("fresh_postgres_url"))
        cli.ok("init")
        return cli
    shutil.copytree(initialised_template, cli.data_dir)
    if request.param == "redis":
        monkeypatch.setenv("JWTKEEP_TOKEN_STORE_URL", request.getfixturevalue("fresh_redis_url"))
    return cli


def make_app(cli: Cli, name: str = "web", *args: str) -> dict[str, Any]:
    created: dict[str, Any] = one_json(
        cli.ok("app", "create", name, "--audience", f"https://{name}.example", *args, "--json")
    )
    return created


def make_user(cli: Cli, name: str = "alice") -> str:
    user_id: str = one_json(cli.ok("user", "create", name, "--password-stdin", "--json",
                                   input=PASSWORD))["id"]  # fmt: skip
    return user_id


def log_in_as(cli: Cli, client_id: str, username: str, password: str = PASSWORD) -> str | None:
    """A login through the password grant use case; None if refused (invalid_grant)."""
    from jwtkeep.usecases.context import RequestInfo  # noqa: PLC0415
    from jwtkeep.usecases.password_grant import password_grant  # noqa: PLC0415

    async def action(runtime: Runtime) -> str | None:
        app = await runtime.context.apps.app_by_client_id(client_id)
        assert app is not None
        info = RequestInfo(ip="192.0.2.1", user_agent="tests")
        try:
            response = await password_grant(runtime.context, app, username, password, None, info)
        except InvalidGrant as exc:
            refusal = str(exc)
        else:
            return response.access_token
        assert refusal == "The username or password is incorrect."  # as a wrong password
        return None

    return cli.with_runtime(action)


def authenticates(cli: Cli, client_id: str, secret: str | None) -> bool:
    async def action(runtime: Runtime) -> bool:
        try:
            await authenticate_client(runtime.context.apps, client_id, secret,
                                      runtime.context.clock())  # fmt: skip
        except InvalidClient:
            return False
        return True

    return cli.with_runtime(action)


def stored_app(cli: Cli, client_id: str) -> App | None:
    return cli.with_runtime(lambda rt: rt.database.apps.app_by_client_id(client_id))


def events(cli: Cli, *args: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = one_json(cli.ok("audit", "--json", *args))
    return found


# --- users ------------------------------------------------------------------------------


def test_user_list_has_headers_pages_and_json(op: Cli) -> None:
    ids = {name: make_user(op, name) for name in ("carol", "alice", "bob")}
    table = op.ok("user", "list").stdout.splitlines()
    assert table[0].split() == ["USERNAME", "ID", "STATUS", "CREATED"]
    assert [line.split()[0] for line in table[1:]] == ["alice", "bob", "carol"]
    page = one_json(op.ok("user", "list", "--limit", "2", "--json"))
    assert [(u["username"], u["id"]) for u in page] == [
        ("alice", ids["alice"]),
        ("bob", ids["bob"]),
    ]
    assert not {key for one in page for key in one if "password_hash" in key}
    rest = one_json(op.ok("user", "list", "--after", "bob", "--json"))
    assert [u["username"] for u in rest] == ["carol"]


def test_user_show_by_name_or_id_and_unknown(op: Cli) -> None:
    user_id = make_user(op)
    by_name = one_json(op.ok("user", "show", "alice", "--json"))
    assert by_name == one_json(op.ok("user", "show", user_id, "--json"))
    assert by_name["id"] == user_id
    assert by_name["disabled"] is False
    unknown = op("user", "show", "nobody")
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: no user 'nobody'\n"


def test_disable_ends_every_token_and_refuses_login_like_a_wrong_password(op: Cli) -> None:
    web, shop = make_app(op, "web")["client_id"], make_app(op, "shop")["client_id"]
    make_user(op)
    tokens = [login(op, web, "alice"), login(op, shop, "alice")]
    assert all(verifies(op, token) for token in tokens)

    result = op.ok("user", "disable", "alice", "--reason", "ticket 42: account compromised")

    assert "2 session(s) ended" in result.stdout
    assert not any(verifies(op, token) for token in tokens)
    assert one_json(op.ok("sessions", "list", "alice", "--json")) == []
    assert log_in_as(op, web, "alice") is None
    again = op("user", "disable", "alice")
    assert again.exit_code == 1
    assert "already disabled" in again.stderr
    (event,) = events(op, "--event", "user.disabled")
    assert event["actor"].startswith("cli:")
    assert event["reason"] == "ticket 42: account compromised"
    assert event["detail"]["sessions_ended"] == 2


def test_enable_lets_the_user_back_in_but_not_the_old_tokens(op: Cli) -> None:
    web = make_app(op)["client_id"]
    make_user(op)
    old = login(op, web, "alice")
    op.ok("user", "disable", "alice")
    op.ok("user", "enable", "alice", "--reason", "verified by phone")
    fresh = log_in_as(op, web, "alice")
    assert fresh is not None
    assert verifies(op, fresh)
    assert not verifies(op, old)
    twice = op("user", "enable", "alice")
    assert twice.exit_code == 1
    assert "not disabled" in twice.stderr


def test_delete_ends_every_token_and_keeps_the_audit_trail(op: Cli) -> None:
    web = make_app(op)["client_id"]
    user_id = make_user(op)
    token = login(op, web, "alice")

    op.ok("user", "delete", "alice", "--reason", "GDPR erasure request")

    assert not verifies(op, token)
    assert op("user", "show", user_id).exit_code == 1
    gone = op("user", "delete", "alice")
    assert gone.exit_code == 1
    assert "no user 'alice'" in gone.stderr
    trail = {e["event"]: e for e in events(op, "--user", user_id)}
    assert {"user.created", "login.succeeded", "user.deleted"} <= set(trail)
    assert trail["user.deleted"]["reason"] == "GDPR erasure request"
    assert "alice" not in str(trail["user.deleted"])  # no username outlives the account


def test_set_password_ends_every_token_and_only_the_new_one_works(op: Cli) -> None:
    web = make_app(op)["client_id"]
    make_user(op)
    token = login(op, web, "alice")

    op.ok("user", "set-password", "alice", "--password-stdin", "--reason", "forgot it",
          input=NEW_PASSWORD + "\n")  # fmt: skip

    assert not verifies(op, token)
    assert log_in_as(op, web, "alice") is None
    assert log_in_as(op, web, "alice", NEW_PASSWORD) is not None
    (event,) = events(op, "--event", "password.reset")
    assert event["reason"] == "forgot it"
    assert NEW_PASSWORD not in str(events(op))


def test_set_password_failures(op: Cli) -> None:
    make_user(op)
    no_stdin = op("user", "set-password", "alice")
    assert no_stdin.exit_code == 2
    assert "--password-stdin" in no_stdin.stderr
    weak = op("user", "set-password", "alice", "--password-stdin", input="short")
    assert weak.exit_code == 1
    unknown = op("user", "set-password", "bob", "--password-stdin", input=NEW_PASSWORD)
    assert unknown.exit_code == 1
    assert "no user 'bob'" in unknown.stderr


# --- apps -------------------------------------------------------------------------------


def test_app_show_by_name_or_client_id(op: Cli) -> None:
    created = make_app(op, "web", "--scope", "read")
    shown = one_json(op.ok("app", "show", "web", "--json"))
    assert shown == one_json(op.ok("app", "show", created["client_id"], "--json"))
    assert shown["scopes"] == ["read"]
    assert shown["disabled"] is False
    assert "client_id:" in op.ok("app", "show", "web").stdout
    unknown = op("app", "show", "nope")
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: no app 'nope'\n"


def test_app_list_prints_column_headers(op: Cli) -> None:
    make_app(op)
    header = op.ok("app", "list").stdout.splitlines()[0].split()
    assert header == [
        "NAME",
        "CLIENT_ID",
        "AUDIENCE",
        "TYPE",
        "STATUS",
        "TTL",
        "ACCOUNT",
        "SCOPES",
        "GRANTS",
        "REDIRECT_URIS",
        "FIRST_PARTY",
        "INTROSPECTS",
    ]


def test_app_update_changes_fields_and_a_lost_scope_ends_sessions(op: Cli) -> None:
    web = make_app(op, "web", "--scope", "read", "--scope", "write")["client_id"]
    make_user(op)
    token = login(op, web, "alice")

    kept = one_json(op.ok("app", "update", "web", "--ttl", "120", "--json"))
    assert kept["access_token_ttl"] == 120
    assert kept["sessions_ended"] == 0
    assert verifies(op, token)  # nothing was taken away

    narrowed = one_json(op.ok("app", "update", web, "--scope", "read", "--name", "web2",
                              "--reason", "write is retired", "--json"))  # fmt: skip
    assert narrowed["scopes"] == ["read"]
    assert narrowed["name"] == "web2"
    assert narrowed["sessions_ended"] == 1
    assert not verifies(op, token)
    stored = stored_app(op, web)
    assert stored is not None
    assert stored.scopes == ("read",)
    assert stored.access_token_ttl == 120
    (event,) = events(op, "--event", "app.updated", "--app", "web2", "--since", "1h")[:1]
    assert event["detail"]["scopes_lost"] == ["write"]


def test_app_update_failures(op: Cli) -> None:
    make_app(op, "web")
    make_app(op, "shop")
    nothing = op("app", "update", "web")
    assert nothing.exit_code == 1
    assert "nothing to change" in nothing.stderr
    taken = op("app", "update", "web", "--name", "shop")
    assert taken.exit_code == 1
    assert op("app", "update", "web", "--scope", "bad scope").exit_code == 1
    assert op("app", "update", "web", "--ttl", "5").exit_code == 2
    assert op("app", "update", "nope", "--ttl", "60").exit_code == 1


def test_rotate_secret_without_overlap_refuses_the_old_one_at_once(op: Cli) -> None:
    created = make_app(op, "api", "--confidential")
    client_id, old = created["client_id"], created["client_secret"]

    rotated = one_json(op.ok("app", "rotate-secret", "api", "--reason", "leaked", "--json"))

    assert set(rotated) == {"client_id", "client_secret"}
    assert rotated["client_id"] == client_id
    assert rotated["client_secret"] != old
    assert authenticates(op, client_id, rotated["client_secret"])
    assert not authenticates(op, client_id, old)
    assert old not in str(events(op))
    assert rotated["client_secret"] not in str(events(op))


def test_rotate_secret_with_overlap_keeps_the_old_one_for_a_while(op: Cli) -> None:
    created = make_app(op, "api", "--confidential")
    client_id, old = created["client_id"], created["client_secret"]

    rotated = one_json(op.ok("app", "rotate-secret", client_id, "--overlap", "3600", "--json"))

    assert authenticates(op, client_id, rotated["client_secret"])
    assert authenticates(op, client_id, old)
    one_json(op.ok("app", "rotate-secret", client_id, "--json"))  # the next rotation: no overlap
    assert not authenticates(op, client_id, old)
    assert not authenticates(op, client_id, rotated["client_secret"])


def test_rotate_secret_failures(op: Cli) -> None:
    make_app(op, "spa")
    public = op("app", "rotate-secret", "spa")
    assert public.exit_code == 1
    assert "public" in public.stderr
    make_app(op, "api", "--confidential")
    too_long = op("app", "rotate-secret", "api", "--overlap", str(7 * 86400 + 1))
    assert too_long.exit_code == 2
    assert too_long.stdout == ""


def test_app_disable_refuses_the_app_and_ends_its_tokens(op: Cli) -> None:
    created = make_app(op, "api", "--confidential")
    other = make_app(op, "other")["client_id"]
    client_id = created["client_id"]
    make_user(op)
    token, kept = login(op, client_id, "alice"), login(op, other, "alice")

    result = op.ok("app", "disable", "api", "--reason", "secret leaked")

    assert "1 session(s) ended" in result.stdout
    assert not verifies(op, token)
    assert verifies(op, kept)  # another app's session of the same user lives on
    assert not authenticates(op, client_id, created["client_secret"])
    assert op("app", "disable", "api").exit_code == 1
    op.ok("app", "enable", "api")
    assert authenticates(op, client_id, created["client_secret"])
    assert not verifies(op, token)  # enabling does not bring old tokens back


def test_app_delete_ends_every_token_issued_to_it(op: Cli) -> None:
    client_id = make_app(op, "web")["client_id"]
    make_user(op)
    token = login(op, client_id, "alice")

    op.ok("app", "delete", "web", "--reason", "decommissioned")

    assert not verifies(op, token)
    assert stored_app(op, client_id) is None
    assert op("app", "show", client_id).exit_code == 1
    (event,) = events(op, "--event", "app.deleted", "--app", client_id)
    assert event["reason"] == "decommissioned"


# --- sessions ---------------------------------------------------------------------------


def test_revoke_everything_ends_every_session_and_token(op: Cli) -> None:
    web, shop = make_app(op, "web")["client_id"], make_app(op, "shop")["client_id"]
    for name in ("alice", "bob"):
        make_user(op, name)
    tokens = [login(op, app, name) for app in (web, shop) for name in ("alice", "bob")]

    result = op.ok("sessions", "revoke-everything", "--reason", "database backup leaked",
                   "--json")  # fmt: skip

    assert one_json(result) == {"sessions_ended": 4}
    assert not any(verifies(op, token) for token in tokens)
    assert one_json(op.ok("sessions", "list", "alice", "--json")) == []
    (event,) = events(op, "--event", "sessions.revoked_everything")
    assert event["target"] == "everyone"
    assert event["reason"] == "database backup leaked"


def test_revoke_everything_needs_a_reason(op: Cli) -> None:
    missing = op("sessions", "revoke-everything")
    assert missing.exit_code == 2
    assert "--reason" in missing.output
    blank = op("sessions", "revoke-everything", "--reason", "  ")
    assert blank.exit_code == 1
    assert "--reason" in blank.stderr


@pytest.mark.parametrize("sid", ["-abc", "-xhq", "-hY2", "--abc", "--reasonable"])
def test_session_ids_starting_with_a_dash_are_arguments(op: Cli, sid: str) -> None:
    """Click alone read `-xhq` as short options `-x -h -q` and showed the help (exit 0)."""
    for args in ((sid,), ("--", sid), (sid, "--reason", "r"), ("--reason=r", sid)):
        result = op("sessions", "revoke", *args)
        assert result.exit_code == 1, result.output
        assert result.stderr == f"error: no live session {sid!r}\n"


def test_a_session_id_with_an_h_after_a_dash_is_revoked(op: Cli) -> None:
    """The operator's revoke ends a real session whose sid reads like `-h` options: it
    once printed the help, exited 0 and ended nothing (the token kept working)."""
    web = make_app(op)["client_id"]
    make_user(op)
    token = login(op, web, "alice", sid_bytes=b"\xfa\x1e" + os.urandom(14))
    (session,) = one_json(op.ok("sessions", "list", "alice", "--json"))
    assert session["sid"].startswith("-h")
    assert verifies(op, token)
    result = op.ok("sessions", "revoke", session["sid"], "--reason", "lost phone")
    assert result.stdout == f"Session {session['sid']} ended: its tokens are refused from now on.\n"
    assert not verifies(op, token)
    assert one_json(op.ok("sessions", "list", "alice", "--json")) == []


def test_help_is_still_an_option_on_id_commands(op: Cli) -> None:
    for flag in ("-h", "--help"):
        result = op.ok("sessions", "revoke", flag)
        assert result.stdout.startswith("Usage: jwtkeep sessions revoke")


def test_sessions_revoke_is_audited_with_the_operator(op: Cli) -> None:
    web = make_app(op)["client_id"]
    make_user(op)
    token = login(op, web, "alice")
    (session,) = one_json(op.ok("sessions", "list", "alice", "--json"))
    assert op.ok("sessions", "list", "alice").stdout.split()[:2] == ["SID", "CLIENT_ID"]
    op.ok("sessions", "revoke", session["sid"], "--reason", "lost phone")
    assert not verifies(op, token)
    (event,) = events(op, "--event", "session.ended")
    assert event["sid"] == session["sid"]
    assert event["reason"] == "lost phone"
    assert event["actor"].startswith("cli:")
