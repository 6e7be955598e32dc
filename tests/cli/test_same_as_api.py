"""The operator's command and the account API's route for the same action are one use
case: the real `jwtkeep` command and the real server (in-process, on the same SQLite file
and token store: the database's, or Redis) write the same audit event, its `actor` (and
`reason`) aside, and the tokens they end are refused afterwards."""

from __future__ import annotations

import getpass
from typing import Any

import httpx
import pytest

from jwtkeep.runtime import Runtime
from jwtkeep.server import create_app
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.password_grant import password_grant
from tests.cli.support import PASSWORD, Cli, one_json, verifies

ACCOUNT_SCOPE = "read account"  # a token the account API accepts (`server.account_auth`)
OPERATOR = f"cli:{getpass.getuser()}"


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, ready: Cli, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """The CLI on an initialised SQLite data folder, its token store the database's or a
    fresh Redis."""
    if request.param == "redis":
        monkeypatch.setenv("JWTKEEP_TOKEN_STORE_URL", request.getfixturevalue("fresh_redis_url"))
    return ready


def web_app(cli: Cli) -> str:
    grants = ("--grant", "password", "--grant", "refresh_token")
    created = one_json(cli.ok("app", "create", "web", "--audience", "api", "--scope", "read",
                              *grants, "--json"))  # fmt: skip
    client_id: str = created["client_id"]
    return client_id


def new_user(cli: Cli, name: str) -> str:
    user_id: str = one_json(cli.ok("user", "create", name, "--password-stdin", "--json",
                                   input=PASSWORD))["id"]  # fmt: skip
    return user_id


def account_token(cli: Cli, client_id: str, username: str) -> str:
    """A real login (the password grant use case) for a token the account API accepts."""

    async def action(runtime: Runtime) -> str:
        app = await runtime.context.apps.app_by_client_id(client_id)
        assert app is not None
        info = RequestInfo(ip="127.0.0.1", user_agent="tests")
        tokens = await password_grant(runtime.context, app, username, PASSWORD,
                                      ACCOUNT_SCOPE, info)  # fmt: skip
        return tokens.access_token

    return cli.with_runtime(action)


def api(cli: Cli, method: str, path: str, token: str | None = None, **body: Any) -> int:
    """One request to the real server (`jwtkeep.server.create_app`) on the CLI's settings;
    its status code."""

    async def action(runtime: Runtime) -> int:
        application = create_app(runtime)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(
                transport=transport, base_url="https://testserver"
            ) as http:
                response = await http.request(method, path, headers=headers,
                                              json=body or None)  # fmt: skip
        return response.status_code

    return cli.with_runtime(action)


def sids(cli: Cli, username: str) -> list[str]:
    return [one["sid"] for one in one_json(cli.ok("sessions", "list", username, "--json"))]


def event(cli: Cli, name: str, user_id: str) -> dict[str, Any]:
    recorded = one_json(cli.ok("audit", "--event", name, "--user", user_id, "--json"))
    assert len(recorded) == 1, f"{name} events of {user_id}: {recorded}"
    found: dict[str, Any] = recorded[0]
    return found


def the_action(recorded: dict[str, Any], **ids: str | None) -> dict[str, Any]:
    """What the event says was done: its name, ids and detail; who did it and why (actor,
    reason), the request's token and IP and the time are left out, checked separately."""
    kept = {key: recorded[key] for key in ("event", "user_id", "client_id", "sid", "target")}
    return {**kept, **ids, "detail": recorded["detail"]}


def test_sessions_revoke_is_the_apis_end_session(store: Cli) -> None:
    client_id = web_app(store)
    alice, bob = new_user(store, "alice"), new_user(store, "bob")
    acting = account_token(store, client_id, "alice")
    ended_by_alice = account_token(store, client_id, "alice")
    ended_by_operator = account_token(store, client_id, "bob")
    alice_sid = sids(store, "alice")[0]  # newest first: the session `ended_by_alice` is in
    (bob_sid,) = sids(store, "bob")

    assert api(store, "DELETE", f"/auth/sessions/{alice_sid}", acting) == 204
    store.ok("sessions", "revoke", bob_sid, "--reason", "lost phone")

    assert not verifies(store, ended_by_alice)
    assert not verifies(store, ended_by_operator)
    assert verifies(store, acting)
    by_user = event(store, "session.ended", alice)
    by_operator = event(store, "session.ended", bob)
    assert the_action(by_user, user_id=None, sid=None, target=None) == the_action(
        by_operator, user_id=None, sid=None, target=None
    )
    assert the_action(by_user)["detail"] == {}
    assert (by_user["user_id"], by_user["sid"], by_user["target"], by_user["client_id"]) == (
        alice, alice_sid, f"session:{alice_sid}", client_id,
    )  # fmt: skip
    assert (by_operator["user_id"], by_operator["sid"], by_operator["target"]) == (
        bob, bob_sid, f"session:{bob_sid}",
    )  # fmt: skip
    assert (by_user["actor"], by_user["reason"]) == (None, None)
    assert (by_operator["actor"], by_operator["reason"]) == (OPERATOR, "lost phone")
    assert by_user["jti"] is not None  # the token the user acted with
    assert by_operator["jti"] is None


def test_sessions_revoke_all_is_the_apis_logout_all(store: Cli) -> None:
    client_id = web_app(store)
    alice, bob = new_user(store, "alice"), new_user(store, "bob")
    carol = new_user(store, "carol")
    alices = [account_token(store, client_id, "alice") for _ in range(2)]
    bobs = [account_token(store, client_id, "bob") for _ in range(2)]
    carols = account_token(store, client_id, "carol")

    assert api(store, "POST", "/auth/logout-all", alices[0]) == 204
    store.ok("sessions", "revoke-all", "bob", "--reason", "left the company")

    assert not any(verifies(store, token) for token in [*alices, *bobs])
    assert verifies(store, carols)
    assert sids(store, "alice") == sids(store, "bob") == []
    by_user = event(store, "logout_all", alice)
    by_operator = event(store, "logout_all", bob)
    assert the_action(by_user, user_id=None, target=None) == the_action(
        by_operator, user_id=None, target=None
    )
    assert the_action(by_user)["detail"] == {"sessions": 2, "logins_ended": 0}
    assert (by_user["user_id"], by_user["target"]) == (alice, f"user:{alice}")
    assert (by_operator["user_id"], by_operator["target"]) == (bob, f"user:{bob}")
    assert (by_user["actor"], by_operator["actor"]) == (None, OPERATOR)
    assert by_operator["reason"] == "left the company"
    assert carol not in {by_user["user_id"], by_operator["user_id"]}


def test_user_create_is_the_apis_registration(ready: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWTKEEP_ALLOW_REGISTRATION", "true")
    assert api(ready, "POST", "/users", username="alice", password=PASSWORD) == 201
    bob = new_user(ready, "bob")
    alice = next(one["id"] for one in one_json(ready.ok("user", "list", "--json"))
                 if one["username"] == "alice")  # fmt: skip

    registered = event(ready, "user.created", alice)
    created = event(ready, "user.created", bob)
    assert the_action(registered, user_id=None, target=None) == the_action(
        created, user_id=None, target=None
    )
    assert (registered["target"], created["target"]) == (f"user:{alice}", f"user:{bob}")
    assert (registered["actor"], created["actor"]) == (None, OPERATOR)


def test_every_change_by_the_cli_is_audited_with_the_operator(ready: Cli) -> None:
    """The commands without an API twin (apps, users, keys) go through their use cases
    too: each writes its event with the operator as `actor` and their `reason`."""
    client_id = web_app(ready)
    new_user(ready, "alice")
    token = account_token(ready, client_id, "alice")
    (signing,) = [k["kid"] for k in one_json(ready.ok("keys", "list", "--json"))]
    because = ("--reason", "ticket 7")
    ready.ok("keys", "compromised", signing, *because)
    assert not verifies(ready, token)
    ready.ok("keys", "rotate", *because)
    ready.ok("app", "update", "web", "--ttl", "120", *because)
    ready.ok("app", "disable", "web", *because)
    ready.ok("user", "disable", "alice", *because)
    ready.ok("user", "delete", "alice", *because)

    trail = one_json(ready.ok("audit", "--json"))
    by_operator = [(one["event"], one["actor"], one["reason"]) for one in reversed(trail)
                   if not one["event"].startswith("login.")]  # fmt: skip
    assert by_operator == [
        ("key.generated", OPERATOR, None),  # by `jwtkeep init`
        ("app.created", OPERATOR, None), ("user.created", OPERATOR, None),
        ("key.compromised", OPERATOR, "ticket 7"), ("key.rotated", OPERATOR, "ticket 7"),
        ("app.updated", OPERATOR, "ticket 7"), ("app.disabled", OPERATOR, "ticket 7"),
        ("user.disabled", OPERATOR, "ticket 7"), ("user.deleted", OPERATOR, "ticket 7"),
    ]  # fmt: skip
