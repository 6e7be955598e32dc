"""Contract: refresh token rotation and reuse detection (RFC 9700 §4.14.2).

Each use of the current refresh token retires it (`used`) and makes a new one current; a
used one presented again ends the whole session, because the store cannot tell the
attacker from the victim. Rotation is atomic: concurrent uses of one token cannot fork
the family.
"""

from __future__ import annotations

import asyncio

from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.ports import AccessRecord, RefreshState, RotationOutcome, TokenStore
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


async def rotate(
    store: TokenStore,
    login: Login,
    presented: Fingerprint,
    now: float,
    *,
    user_id: str | None = None,
    sid: str | None = None,
) -> tuple[RotationOutcome, Fingerprint, AccessRecord]:
    """Present `presented` for `login`'s session; returns the outcome and what was offered."""
    new_refresh = new_fp()
    access = access_for(login.user_id, login.sid, exp=now + ACCESS_TTL)
    outcome = await store.rotate_refresh(
        user_id or login.user_id, sid or login.sid, presented, new_refresh, access, now,
        IDLE_TIMEOUT,
    )  # fmt: skip
    return outcome, new_refresh, access


async def state_of(
    store: TokenStore, login: Login, fp: Fingerprint, now: float = NOW + 10
) -> object:
    return await store.refresh_state(login.user_id, login.sid, fp, now)


async def test_rotation_retires_the_presented_token_and_issues_the_next(
    token_store: TokenStore,
) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None

    outcome, new_refresh, access = await rotate(token_store, login, login.refresh_fp, NOW + 10)

    assert outcome is RotationOutcome.ROTATED
    assert await state_of(token_store, login, login.refresh_fp) is RefreshState.USED
    assert await state_of(token_store, login, new_refresh) is RefreshState.CURRENT
    assert await allowed(token_store, access, NOW + 10)
    session = await token_store.get_session(login.sid, NOW + 10)
    assert session is not None
    assert session.last_used_at == NOW + 10
    assert session.idle_expires_at == NOW + 10 + IDLE_TIMEOUT


async def test_a_chain_of_rotations(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    presented = login.refresh_fp
    for step in range(1, 4):
        outcome, presented, _ = await rotate(token_store, login, presented, NOW + step)
        assert outcome is RotationOutcome.ROTATED
    assert await state_of(token_store, login, presented) is RefreshState.CURRENT


async def test_reuse_of_a_used_token_ends_the_whole_session(token_store: TokenStore) -> None:
    user = new_user()
    login = await log_in(token_store, user)
    bystander = await log_in(token_store, user, now=NOW + 1)
    assert login.refresh_fp is not None
    _, new_refresh, rotated_access = await rotate(token_store, login, login.refresh_fp, NOW + 10)

    outcome, _, offered_access = await rotate(token_store, login, login.refresh_fp, NOW + 20)

    assert outcome is RotationOutcome.REUSED
    assert await token_store.get_session(login.sid, NOW + 20) is None
    for access in (login.access, rotated_access, offered_access):
        assert not await allowed(token_store, access, NOW + 20)
    assert await state_of(token_store, login, new_refresh, NOW + 20) is None
    assert await state_of(token_store, login, login.refresh_fp, NOW + 20) is None
    after, _, _ = await rotate(token_store, login, new_refresh, NOW + 30)
    assert after is RotationOutcome.UNKNOWN
    assert await token_store.list_sessions(user, NOW + 30) == [bystander.session]
    assert await allowed(token_store, bystander.access, NOW + 30)


async def test_reuse_of_any_older_token_in_the_family_is_detected(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    presented = login.refresh_fp
    for step in range(1, 4):
        _, presented, _ = await rotate(token_store, login, presented, NOW + step)

    outcome, _, _ = await rotate(token_store, login, login.refresh_fp, NOW + 10)

    assert outcome is RotationOutcome.REUSED
    assert await token_store.get_session(login.sid, NOW + 10) is None


async def test_an_unknown_token_changes_nothing(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None

    outcome, offered_refresh, offered_access = await rotate(token_store, login, new_fp(), NOW + 10)

    assert outcome is RotationOutcome.UNKNOWN
    assert await token_store.get_session(login.sid, NOW + 10) == login.session
    assert await state_of(token_store, login, login.refresh_fp) is RefreshState.CURRENT
    assert await state_of(token_store, login, offered_refresh) is None
    assert not await allowed(token_store, offered_access, NOW + 10)
    assert await allowed(token_store, login.access, NOW + 10)
    again, _, _ = await rotate(token_store, login, login.refresh_fp, NOW + 20)
    assert again is RotationOutcome.ROTATED


async def test_rotation_in_an_unknown_session_or_for_another_user(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None

    wrong_sid, _, _ = await rotate(token_store, login, login.refresh_fp, NOW + 1, sid=new_sid())
    wrong_user, _, access = await rotate(
        token_store, login, login.refresh_fp, NOW + 1, user_id=new_user()
    )

    assert wrong_sid is RotationOutcome.UNKNOWN
    assert wrong_user is RotationOutcome.UNKNOWN
    assert not await allowed(token_store, access, NOW + 1)
    assert await state_of(token_store, login, login.refresh_fp) is RefreshState.CURRENT
    assert await token_store.get_session(login.sid, NOW + 1) == login.session


async def test_refresh_state(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    _, new_refresh, _ = await rotate(token_store, login, login.refresh_fp, NOW + 10)
    store = token_store

    assert await store.refresh_state(login.user_id, login.sid, new_refresh, NOW + 10) is (
        RefreshState.CURRENT
    )
    assert await store.refresh_state(login.user_id, login.sid, login.refresh_fp, NOW + 10) is (
        RefreshState.USED
    )
    assert await store.refresh_state(login.user_id, login.sid, new_fp(), NOW + 10) is None
    assert await store.refresh_state(new_user(), login.sid, new_refresh, NOW + 10) is None
    assert await store.refresh_state(login.user_id, new_sid(), new_refresh, NOW + 10) is None
    expired = NOW + 10 + IDLE_TIMEOUT
    assert await store.refresh_state(login.user_id, login.sid, new_refresh, expired) is None


async def test_concurrent_rotations_of_one_token_cannot_fork_the_family(
    token_store: TokenStore,
) -> None:
    """20 concurrent uses of one refresh token. Rotation is atomic, so they happen in some
    order: the first rotates; the second presents a now-used token, which is reuse and
    ends the session; the other 18 find no session. Nothing issued survives."""
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    presented = login.refresh_fp

    results = await asyncio.gather(
        *(rotate(token_store, login, presented, NOW + 10) for _ in range(20))
    )

    outcomes = [outcome for outcome, _, _ in results]
    assert outcomes.count(RotationOutcome.ROTATED) == 1
    assert outcomes.count(RotationOutcome.REUSED) == 1
    assert outcomes.count(RotationOutcome.UNKNOWN) == 18
    assert await token_store.get_session(login.sid, NOW + 10) is None
    for _, new_refresh, access in results:
        assert await state_of(token_store, login, new_refresh) is None
        assert not await allowed(token_store, access, NOW + 10)
    assert not await allowed(token_store, login.access, NOW + 10)


async def test_only_the_newest_used_tokens_are_remembered(token_store: TokenStore) -> None:
    """Nothing grows without bound: a session refreshed every few minutes for weeks keeps
    only its newest 32 used-up refresh fingerprints. Reuse of one of them still ends the
    session; an older one is merely unknown (refused, nothing changed)."""
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    used = [login.refresh_fp]
    for step in range(1, 41):
        outcome, fresh, _ = await rotate(token_store, login, used[-1], NOW + step)
        assert outcome is RotationOutcome.ROTATED
        used.append(fresh)
    current = used.pop()
    now = NOW + 50
    state = token_store.refresh_state
    assert await state(login.user_id, login.sid, used[0], now) is None  # forgotten
    assert await state(login.user_id, login.sid, used[-32], now) is RefreshState.USED
    assert await state(login.user_id, login.sid, current, now) is RefreshState.CURRENT
    outcome, _, _ = await rotate(token_store, login, used[0], now)
    assert outcome is RotationOutcome.UNKNOWN
    assert await token_store.get_session(login.sid, now) is not None
    outcome, _, _ = await rotate(token_store, login, used[-32], now)
    assert outcome is RotationOutcome.REUSED
    assert await token_store.get_session(login.sid, now) is None
