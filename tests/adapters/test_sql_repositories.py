"""The SQL repositories for users, apps, signing keys and the audit trail (jwtkeep.ports),
on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from uuid import uuid4

import pytest

from jwtkeep.adapters.sql import Database
from jwtkeep.errors import Conflict, NotFound
from jwtkeep.ports import App, AuditEvent, KeyChange, StoredKey, User


def a_user(username: str | None = None) -> User:
    return User(
        id=str(uuid4()),
        username=username or f"user-{uuid4().hex[:8]}",
        password_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2g",
        created_at=1_800_000_000.5,
        password_changed_at=1_800_000_000.5,
    )


def an_app(
    name: str = "web",
    client_id: str | None = None,
    created_at: float = 1.0,
    audience: str | None = None,
) -> App:
    return App(
        id=str(uuid4()),
        name=name,
        client_id=client_id or uuid4().hex,
        audience=audience or f"https://{name}.api.example.com",
        scopes=("read", "write"),
        routes=("GET /items/*=read", "POST /items=write"),
        confidential=True,
        client_secret_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$c2VjcmV0",
        access_token_ttl=300,
        refresh_enabled=False,
        created_at=created_at,
        extra_claims={"tenant": "acme", "roles": ["a", "b"], "nested": {"n": 1}},
        account_access=True,
    )


def a_key(kid: str, created_at: float, *, public: bool = True) -> StoredKey:
    return StoredKey(
        kid=kid,
        alg="EdDSA" if public else "HS256",
        status="active",
        created_at=created_at,
        public_jwk={"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg", "kid": kid}
        if public
        else None,
        sealed_private=bytes(range(256)) + b"\x00sealed",
    )


# -- users ---------------------------------------------------------------------------------


async def test_a_user_round_trips(database: Database) -> None:
    user = a_user()
    disabled = replace(a_user(), disabled=True)
    await database.users.add_user(user)
    await database.users.add_user(disabled)

    assert await database.users.get_user(user.id) == user
    assert await database.users.user_by_username(user.username) == user
    assert await database.users.get_user(disabled.id) == disabled


async def test_unknown_users_are_none(database: Database) -> None:
    await database.users.add_user(a_user("alice"))
    assert await database.users.get_user(str(uuid4())) is None
    assert await database.users.user_by_username("bob") is None
    assert await database.users.user_by_username("ALICE") is None


async def test_a_taken_username_is_a_conflict(database: Database) -> None:
    first = a_user("alice")
    await database.users.add_user(first)
    with pytest.raises(Conflict):
        await database.users.add_user(a_user("alice"))
    assert await database.users.user_by_username("alice") == first


async def test_set_password_hash(database: Database) -> None:
    user = a_user()
    await database.users.add_user(user)

    applied = await database.users.set_password_hash(
        user.id, "$argon2id$new", 1_800_000_100.0, expected_hash=user.password_hash
    )

    assert applied is True
    changed = await database.users.get_user(user.id)
    assert changed is not None
    assert (changed.password_hash, changed.password_changed_at) == (
        "$argon2id$new",
        1_800_000_100.0,
    )
    assert changed.created_at == user.created_at


async def test_set_password_hash_is_a_compare_and_set(database: Database) -> None:
    user = a_user()
    await database.users.add_user(user)
    assert await database.users.set_password_hash(
        user.id, "$argon2id$newer", 2.0, expected_hash=user.password_hash
    )

    # A writer that verified the old hash cannot overwrite the newer one.
    stale = await database.users.set_password_hash(
        user.id, "$argon2id$stale", 3.0, expected_hash=user.password_hash
    )

    assert stale is False
    current = await database.users.get_user(user.id)
    assert current is not None
    assert (current.password_hash, current.password_changed_at) == ("$argon2id$newer", 2.0)


async def test_concurrent_compare_and_sets_of_one_hash_apply_once(database: Database) -> None:
    user = a_user()
    await database.users.add_user(user)
    others = [Database.connect(database.url, pool_size=1) for _ in range(6)]
    try:
        applied = await asyncio.gather(*(
            other.users.set_password_hash(
                user.id, f"$argon2id${n}", float(n), expected_hash=user.password_hash
            )
            for n, other in enumerate(others)
        ))  # fmt: skip
    finally:
        for other in others:
            await other.close()
    assert applied.count(True) == 1
    winner = applied.index(True)
    current = await database.users.get_user(user.id)
    assert current is not None
    assert current.password_hash == f"$argon2id${winner}"


async def test_set_password_hash_of_an_unknown_user(database: Database) -> None:
    with pytest.raises(NotFound, match="no such user"):
        await database.users.set_password_hash(
            str(uuid4()), "$argon2id$new", 1.0, expected_hash="$argon2id$old"
        )


# -- apps ----------------------------------------------------------------------------------


async def test_an_app_round_trips(database: Database) -> None:
    app = an_app()
    public = replace(an_app("spa"), confidential=False, client_secret_hash=None)
    await database.apps.add_app(app)
    await database.apps.add_app(public)

    assert await database.apps.app_by_client_id(app.client_id) == app
    assert await database.apps.app_by_client_id(public.client_id) == public
    assert await database.apps.app_by_client_id("nope") is None


async def test_list_apps_oldest_first(database: Database) -> None:
    newer, older = an_app("b", created_at=20.0), an_app("a", created_at=10.0)
    await database.apps.add_app(newer)
    await database.apps.add_app(older)
    assert await database.apps.list_apps() == [older, newer]


async def test_a_taken_app_name_client_id_or_audience_is_a_conflict(database: Database) -> None:
    app = an_app("web", client_id="client-1")
    await database.apps.add_app(app)
    with pytest.raises(Conflict):
        await database.apps.add_app(an_app("web", audience="https://fresh.example"))
    with pytest.raises(Conflict):
        await database.apps.add_app(an_app("other", client_id="client-1"))
    # The unique index backs up registration's check against a concurrent create.
    with pytest.raises(Conflict, match="audience"):
        await database.apps.add_app(an_app("other", audience=app.audience))
    assert await database.apps.list_apps() == [app]


async def test_account_access_round_trips(database: Database) -> None:
    closed = replace(an_app("kiosk"), account_access=False)
    await database.apps.add_app(closed)
    assert await database.apps.app_by_client_id(closed.client_id) == closed


# -- signing keys --------------------------------------------------------------------------


async def add_keys(database: Database, *keys: StoredKey) -> KeyChange:
    return await database.keys.change_keys(lambda _: KeyChange(add=keys))


async def test_keys_round_trip_oldest_first(database: Database) -> None:
    newest, oldest, hmac = a_key("k3", 30.0), a_key("k1", 10.0), a_key("k2", 20.0, public=False)
    await add_keys(database, newest, oldest, hmac)
    assert await database.keys.list_keys() == [oldest, hmac, newest]


async def test_change_keys_decides_on_every_key_and_writes_the_change(database: Database) -> None:
    await add_keys(database, a_key("k1", 10.0), a_key("k2", 20.0))
    seen: list[list[str]] = []

    def plan(keys: Sequence[StoredKey]) -> KeyChange:
        seen.append([key.kid for key in keys])
        return KeyChange(add=(a_key("k3", 30.0),), statuses={"k1": "compromised"})

    change = await database.keys.change_keys(plan)

    assert seen == [["k1", "k2"]]
    assert [key.kid for key in change.add] == ["k3"]
    assert [(k.kid, k.status) for k in await database.keys.list_keys()] == [
        ("k1", "compromised"),
        ("k2", "active"),
        ("k3", "active"),
    ]


async def test_a_refused_key_change_changes_nothing(database: Database) -> None:
    await add_keys(database, a_key("k1", 10.0))

    def plan(keys: Sequence[StoredKey]) -> KeyChange:
        # What it would write must not be half-written before the refusal.
        raise Conflict("refused")

    with pytest.raises(Conflict, match="refused"):
        await database.keys.change_keys(plan)
    assert [(k.kid, k.status) for k in await database.keys.list_keys()] == [("k1", "active")]


async def test_a_duplicate_kid_is_a_conflict(database: Database) -> None:
    await add_keys(database, a_key("k1", 10.0))
    with pytest.raises(Conflict, match="a key with that kid exists"):
        await add_keys(database, a_key("k2", 15.0), a_key("k1", 20.0))
    assert [key.kid for key in await database.keys.list_keys()] == ["k1"]


# -- audit ---------------------------------------------------------------------------------


async def test_audit_query_newest_first_with_filters(database: Database) -> None:
    alice, bob = str(uuid4()), str(uuid4())
    events = [
        AuditEvent(at=10.0, event="login.succeeded", user_id=alice, client_id="web", sid="s1",
                   jti="j1", ip="192.0.2.1", detail={"grant": "password", "n": [1, 2]}),
        AuditEvent(at=20.0, event="token.rejected", jti="j2", detail={"reason": "not allowlisted"}),
        AuditEvent(at=30.0, event="logout", user_id=alice, sid="s1"),
        AuditEvent(at=30.0, event="login.succeeded", user_id=bob),
    ]  # fmt: skip
    for event in events:
        await database.audit.record(event)
    audit = database.audit

    assert await audit.query() == [events[3], events[2], events[1], events[0]]
    assert await audit.query(user_id=alice) == [events[2], events[0]]
    assert await audit.query(jti="j2") == [events[1]]
    assert await audit.query(since=20.0) == [events[3], events[2], events[1]]
    assert await audit.query(user_id=alice, since=11.0) == [events[2]]
    assert await audit.query(limit=2) == [events[3], events[2]]
    assert await audit.query(user_id=str(uuid4())) == []
