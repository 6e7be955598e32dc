"""Contract: sessions: start, read, expire, end (jwtkeep.ports.token_store.SessionStore).

A session is live while now < min(idle_expires_at, absolute_expires_at). Ending a session
removes its refresh family and every access token it issued, at once (DESIGN "Contract:
the token store": logout, logout-all, password change).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from jwtkeep.errors import DuplicateSession
from jwtkeep.ports import RefreshState, RotationOutcome, TokenStore
from tests.contract.builders import (
    ACCESS_TTL,
    IDLE_TIMEOUT,
    NOW,
    Login,
    access_for,
    allowed,
    log_in,
    new_fp,
    new_sid,
    new_user,
)

# -- start_session, get_session, list_sessions ---------------------------------------------


async def test_start_session_creates_session_refresh_and_access(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None

    assert await token_store.get_session(login.sid, NOW) == login.session
    assert await token_store.list_sessions(login.user_id, NOW) == [login.session]
    assert await allowed(token_store, login.access)
    state = await token_store.refresh_state(login.user_id, login.sid, login.refresh_fp, NOW)
    assert state is RefreshState.CURRENT


async def test_a_session_without_refresh_token(token_store: TokenStore) -> None:
    login = await log_in(token_store, with_refresh=False)

    assert await token_store.get_session(login.sid, NOW) == login.session
    assert await allowed(token_store, login.access)
    assert await token_store.refresh_state(login.user_id, login.sid, new_fp(), NOW) is None


async def test_an_unknown_session_is_none(token_store: TokenStore) -> None:
    await log_in(token_store)
    assert await token_store.get_session(new_sid(), NOW) is None
    assert await token_store.list_sessions(new_user(), NOW) == []


async def test_list_sessions_is_the_users_live_sessions_newest_first(
    token_store: TokenStore,
) -> None:
    user = new_user()
    oldest = await log_in(token_store, user, now=NOW)
    expired = await log_in(token_store, user, now=NOW + 1, idle_timeout=5)
    middle = await log_in(token_store, user, now=NOW + 2)
    newest = await log_in(token_store, user, now=NOW + 3)
    await log_in(token_store, now=NOW + 4)  # someone else

    listed = await token_store.list_sessions(user, NOW + 10)

    assert [s.sid for s in listed] == [newest.sid, middle.sid, oldest.sid]
    assert expired.sid not in {s.sid for s in listed}


# -- idle timeout and absolute lifetime ----------------------------------------------------


async def test_a_session_dies_at_its_idle_timeout(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    deadline = NOW + IDLE_TIMEOUT

    assert await token_store.get_session(login.sid, deadline - 1) == login.session
    assert await token_store.get_session(login.sid, deadline) is None
    assert await token_store.list_sessions(login.user_id, deadline) == []
    assert (
        await token_store.refresh_state(login.user_id, login.sid, login.refresh_fp, deadline)
        is None
    )
    outcome = await token_store.rotate_refresh(
        login.user_id, login.sid, login.refresh_fp, new_fp(),
        access_for(login.user_id, login.sid, exp=deadline + ACCESS_TTL), deadline, IDLE_TIMEOUT,
    )  # fmt: skip
    assert outcome is RotationOutcome.UNKNOWN


async def test_use_extends_the_idle_deadline_but_never_past_the_absolute_lifetime(
    token_store: TokenStore,
) -> None:
    login = await log_in(token_store, idle_timeout=100, absolute_lifetime=150)
    assert login.refresh_fp is not None
    new_refresh = new_fp()

    outcome = await token_store.rotate_refresh(
        login.user_id, login.sid, login.refresh_fp, new_refresh,
        access_for(login.user_id, login.sid, exp=NOW + 90 + ACCESS_TTL), NOW + 90, 100,
    )  # fmt: skip

    assert outcome is RotationOutcome.ROTATED
    session = await token_store.get_session(login.sid, NOW + 90)
    assert session is not None
    assert session.last_used_at == NOW + 90
    assert session.idle_expires_at == NOW + 150  # min(NOW + 90 + 100, NOW + 150)
    assert session.absolute_expires_at == NOW + 150
    assert await token_store.get_session(login.sid, NOW + 149) is not None
    assert await token_store.get_session(login.sid, NOW + 150) is None
    late = await token_store.rotate_refresh(
        login.user_id, login.sid, new_refresh, new_fp(),
        access_for(login.user_id, login.sid, exp=NOW + 150 + ACCESS_TTL), NOW + 150, 100,
    )  # fmt: skip
    assert late is RotationOutcome.UNKNOWN


# -- end_session ---------------------------------------------------------------------------


async def test_end_session_removes_that_session_and_its_access_tokens_only(
    token_store: TokenStore,
) -> None:
    user = new_user()
    ended = await log_in(token_store, user)
    kept = await log_in(token_store, user, now=NOW + 1)
    assert ended.refresh_fp is not None
    second_access = access_for(user, ended.sid)
    await token_store.add_access(second_access, NOW)

    assert await token_store.end_session(user, ended.sid) is True

    assert await token_store.get_session(ended.sid, NOW) is None
    assert not await allowed(token_store, ended.access)
    assert not await allowed(token_store, second_access)
    assert await token_store.refresh_state(user, ended.sid, ended.refresh_fp, NOW) is None
    outcome = await token_store.rotate_refresh(
        user, ended.sid, ended.refresh_fp, new_fp(), access_for(user, ended.sid), NOW, IDLE_TIMEOUT
    )
    assert outcome is RotationOutcome.UNKNOWN
    assert await token_store.list_sessions(user, NOW) == [kept.session]
    assert await allowed(token_store, kept.access)


async def test_end_session_twice(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert await token_store.end_session(login.user_id, login.sid) is True
    assert await token_store.end_session(login.user_id, login.sid) is False


async def test_end_session_of_a_sid_with_access_tokens_only(token_store: TokenStore) -> None:
    """client_credentials tokens carry a sid but no session row."""
    app, sid = new_user(), new_sid()
    tokens = [access_for(app, sid), access_for(app, sid)]
    other = access_for(app, new_sid())
    for record in [*tokens, other]:
        await token_store.add_access(record, NOW)

    assert await token_store.end_session(app, sid) is True

    assert [await allowed(token_store, record) for record in tokens] == [False, False]
    assert await allowed(token_store, other)


async def test_end_session_of_another_users_session_changes_nothing(
    token_store: TokenStore,
) -> None:
    victim = await log_in(token_store)

    await token_store.end_session(new_user(), victim.sid)

    assert await token_store.get_session(victim.sid, NOW) == victim.session
    assert await allowed(token_store, victim.access)


async def test_end_session_of_an_unknown_sid(token_store: TokenStore) -> None:
    assert await token_store.end_session(new_user(), new_sid()) is False


# -- end_user_sessions ---------------------------------------------------------------------


async def test_end_user_sessions_ends_them_all_and_only_theirs(token_store: TokenStore) -> None:
    user = new_user()
    logins = [await log_in(token_store, user, now=NOW + i) for i in range(3)]
    bystander = await log_in(token_store)

    ended = await token_store.end_user_sessions(user)

    assert sorted(ended) == sorted(login.sid for login in logins)
    assert await token_store.list_sessions(user, NOW + 5) == []
    for login in logins:
        assert login.refresh_fp is not None
        assert not await allowed(token_store, login.access)
        assert await token_store.refresh_state(user, login.sid, login.refresh_fp, NOW) is None
    assert await token_store.list_sessions(bystander.user_id, NOW) == [bystander.session]
    assert await allowed(token_store, bystander.access)


async def test_end_user_sessions_but_one(token_store: TokenStore) -> None:
    """A password change ends every other session (DESIGN "Contract: the token store")."""
    user = new_user()
    current = await log_in(token_store, user)
    others = [await log_in(token_store, user, now=NOW + i) for i in (1, 2)]
    assert current.refresh_fp is not None

    ended = await token_store.end_user_sessions(user, except_sid=current.sid)

    assert sorted(ended) == sorted(login.sid for login in others)
    assert await token_store.list_sessions(user, NOW + 5) == [current.session]
    assert await allowed(token_store, current.access)
    state = await token_store.refresh_state(user, current.sid, current.refresh_fp, NOW)
    assert state is RefreshState.CURRENT
    for login in others:
        assert not await allowed(token_store, login.access)


async def test_end_user_sessions_of_a_user_without_sessions(token_store: TokenStore) -> None:
    await log_in(token_store)
    assert await token_store.end_user_sessions(new_user()) == []


async def test_end_user_sessions_also_revokes_tokens_that_outlive_their_session(
    token_store: TokenStore,
) -> None:
    """An access token can outlive its session's idle deadline by up to its own lifetime;
    logout-all must still kill it: it revokes every token of the user."""
    login = await log_in(token_store, idle_timeout=10)
    later = NOW + 20
    assert await token_store.get_session(login.sid, later) is None
    assert await allowed(token_store, login.access, later)

    await token_store.end_user_sessions(login.user_id)

    assert not await allowed(token_store, login.access, later)


async def test_end_session_also_revokes_tokens_that_outlive_the_session(
    token_store: TokenStore,
) -> None:
    login = await log_in(token_store, idle_timeout=10)
    later = NOW + 20
    assert await allowed(token_store, login.access, later)

    await token_store.end_session(login.user_id, login.sid)

    assert not await allowed(token_store, login.access, later)


# -- a duplicate session id ------------------------------------------------------------------


async def _start_again(store: TokenStore, login: Login, user_id: str) -> Login:
    """start_session with `login`'s sid, for `user_id`, with new tokens: refused."""
    session = replace(login.session, user_id=user_id, scope="admin", user_agent="intruder/1")
    again = Login(session, new_fp(), access_for(user_id, login.sid))
    with pytest.raises(DuplicateSession, match="a session with that sid exists"):
        await store.start_session(again.session, again.refresh_fp, again.access, NOW + 1)
    return again


async def _unchanged(store: TokenStore, login: Login, again: Login) -> None:
    assert login.refresh_fp is not None
    assert again.refresh_fp is not None
    assert await store.get_session(login.sid, NOW + 2) == login.session
    assert await store.list_sessions(login.user_id, NOW + 2) == [login.session]
    state = await store.refresh_state(login.user_id, login.sid, login.refresh_fp, NOW + 2)
    assert state is RefreshState.CURRENT
    assert await allowed(store, login.access, NOW + 2)
    assert not await allowed(store, again.access, NOW + 2)
    assert await store.refresh_state(again.user_id, login.sid, again.refresh_fp, NOW + 2) is None


async def test_a_duplicate_sid_of_the_same_user_is_refused_and_changes_nothing(
    token_store: TokenStore,
) -> None:
    login = await log_in(token_store)
    again = await _start_again(token_store, login, login.user_id)
    await _unchanged(token_store, login, again)
    # The existing session still rotates as before.
    assert login.refresh_fp is not None
    outcome = await token_store.rotate_refresh(
        login.user_id, login.sid, login.refresh_fp, new_fp(),
        access_for(login.user_id, login.sid), NOW + 3, IDLE_TIMEOUT,
    )  # fmt: skip
    assert outcome is RotationOutcome.ROTATED


async def test_a_duplicate_sid_of_another_user_is_refused_and_changes_nothing(
    token_store: TokenStore,
) -> None:
    login = await log_in(token_store)
    intruder = new_user()
    again = await _start_again(token_store, login, intruder)
    await _unchanged(token_store, login, again)
    assert await token_store.list_sessions(intruder, NOW + 2) == []
