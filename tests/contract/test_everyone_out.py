"""Contract: everyone out (`end_everything`) and one app out (`end_client_sessions`).

`sessions revoke-everything` (a stolen database, an unknown breach) must end every
session and access token of every user at once, on every backend; `app disable` and
`app delete` the same for one app. Later logins are untouched.
"""

from __future__ import annotations

from dataclasses import replace

from jwtkeep.ports import AccessRecord, RotationOutcome, TokenStore
from tests.contract.builders import (
    ACCESS_TTL,
    IDLE_TIMEOUT,
    NOW,
    Login,
    access_for,
    new_fp,
    new_sid,
    new_user,
    session_for,
)


async def start(store: TokenStore, *, client_id: str = "web", now: float = NOW) -> Login:
    session = replace(session_for(new_user(), created_at=now), client_id=client_id)
    access = replace(access_for(session.user_id, session.sid, exp=now + ACCESS_TTL),
                     client_id=client_id)  # fmt: skip
    login = Login(session=session, refresh_fp=new_fp(), access=access)
    await store.start_session(session, login.refresh_fp, access, now)
    return login


async def accepted(store: TokenStore, record: AccessRecord, issued_at: float, now: float) -> bool:
    return await store.is_allowed(
        record.fingerprint, record.sub, record.sid, now, issued_at=issued_at,
        client_id=record.client_id,
    )  # fmt: skip


async def rotates(store: TokenStore, login: Login, now: float) -> RotationOutcome:
    assert login.refresh_fp is not None
    fresh = access_for(login.user_id, login.sid, exp=now + ACCESS_TTL)
    return await store.rotate_refresh(login.user_id, login.sid, login.refresh_fp, new_fp(),
                                      fresh, now, IDLE_TIMEOUT)  # fmt: skip


async def test_end_everything_ends_every_session_and_token(token_store: TokenStore) -> None:
    logins = [await start(token_store) for _ in range(3)]
    machine = access_for(new_user(), new_sid())  # a client_credentials token: no session
    await token_store.add_access(machine, NOW)
    reports: list[tuple[int, int]] = []

    ended = await token_store.end_everything(
        NOW + 1, lambda done, total: reports.append((done, total))
    )

    later = NOW + 2
    assert ended == 3
    assert reports
    assert reports[-1][0] == reports[-1][1]
    for login in logins:
        assert await token_store.get_session(login.sid, later) is None
        assert await token_store.list_sessions(login.user_id, later) == []
        assert not await accepted(token_store, login.access, NOW, later)
        assert await rotates(token_store, login, later) is RotationOutcome.UNKNOWN
    assert not await accepted(token_store, machine, NOW, later)


async def test_logins_after_end_everything_work(token_store: TokenStore) -> None:
    await start(token_store)
    await token_store.end_everything(NOW + 1)

    after = await start(token_store, now=NOW + 10)

    assert await token_store.get_session(after.sid, NOW + 11) == after.session
    assert await token_store.list_sessions(after.user_id, NOW + 11) == [after.session]
    assert await accepted(token_store, after.access, NOW + 10, NOW + 11)
    assert await rotates(token_store, after, NOW + 12) is RotationOutcome.ROTATED


async def test_end_everything_on_an_empty_store(token_store: TokenStore) -> None:
    assert await token_store.end_everything(NOW) == 0


async def test_end_client_sessions_ends_only_that_apps(token_store: TokenStore) -> None:
    web = [await start(token_store, client_id="web") for _ in range(2)]
    other = await start(token_store, client_id="other")
    user = web[0].user_id  # one user signed in on both apps
    both = replace(session_for(user), client_id="other")
    both_access = replace(access_for(user, both.sid), client_id="other")
    await token_store.start_session(both, new_fp(), both_access, NOW)

    ended = await token_store.end_client_sessions("web", NOW + 1)

    later = NOW + 2
    assert ended == 2
    for login in web:
        assert await token_store.get_session(login.sid, later) is None
        assert not await accepted(token_store, login.access, NOW, later)
        assert await rotates(token_store, login, later) is RotationOutcome.UNKNOWN
    assert await token_store.get_session(other.sid, later) == other.session
    assert await accepted(token_store, other.access, NOW, later)
    assert await token_store.list_sessions(user, later) == [both]
    assert await accepted(token_store, both_access, NOW, later)


async def test_an_app_ended_can_sign_in_again(token_store: TokenStore) -> None:
    await start(token_store, client_id="web")
    await token_store.end_client_sessions("web", NOW + 1)

    again = await start(token_store, client_id="web", now=NOW + 10)

    assert await token_store.get_session(again.sid, NOW + 11) == again.session
    assert await accepted(token_store, again.access, NOW + 10, NOW + 11)
