"""Contract: the refresh reuse interval (`JWTKEEP_REFRESH_REUSE_INTERVAL`), every backend.

Two tabs of one browser refresh with the same token at once: one wins, the other
presents what is now the current token's parent. Within the interval that loser is
refused (RACED: nothing changes) and the session lives on; anything older than the
parent, the parent after the interval, or any replay with the interval 0 is reuse and
ends the session, as before.
"""

from __future__ import annotations

import asyncio

from jwtkeep.core.fingerprint import Fingerprint
from jwtkeep.ports import RotationOutcome, TokenStore
from tests.contract.builders import IDLE_TIMEOUT, NOW, Login, access_for, allowed, log_in, new_fp

INTERVAL = 10


async def rotate(
    store: TokenStore, login: Login, presented: Fingerprint, now: float, interval: float = INTERVAL
) -> tuple[RotationOutcome, Fingerprint]:
    new = new_fp()
    outcome = await store.rotate_refresh(
        login.user_id, login.sid, presented, new, access_for(login.user_id, login.sid), now,
        IDLE_TIMEOUT, interval,
    )  # fmt: skip
    return outcome, new


async def test_the_parent_within_the_interval_is_refused_and_the_session_lives(
    token_store: TokenStore,
) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    outcome, current = await rotate(token_store, login, login.refresh_fp, NOW + 1)
    assert outcome is RotationOutcome.ROTATED
    raced, _ = await rotate(token_store, login, login.refresh_fp, NOW + 1 + INTERVAL)
    assert raced is RotationOutcome.RACED
    assert await token_store.get_session(login.sid, NOW + 12) is not None
    assert await allowed(token_store, login.access, NOW + 12)
    again, _ = await rotate(token_store, login, current, NOW + 12)  # the winner goes on
    assert again is RotationOutcome.ROTATED


async def test_the_parent_after_the_interval_is_reuse(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    await rotate(token_store, login, login.refresh_fp, NOW + 1)
    late, _ = await rotate(token_store, login, login.refresh_fp, NOW + 1 + INTERVAL + 0.5)
    assert late is RotationOutcome.REUSED
    assert await token_store.get_session(login.sid, NOW + 12) is None


async def test_a_grandparent_is_reuse_even_within_the_interval(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    _, child = await rotate(token_store, login, login.refresh_fp, NOW + 1)
    await rotate(token_store, login, child, NOW + 2)
    grandparent, _ = await rotate(token_store, login, login.refresh_fp, NOW + 3)
    assert grandparent is RotationOutcome.REUSED
    assert await token_store.get_session(login.sid, NOW + 3) is None


async def test_with_interval_zero_the_parent_is_reuse(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    await rotate(token_store, login, login.refresh_fp, NOW + 1, interval=0)
    replay, _ = await rotate(token_store, login, login.refresh_fp, NOW + 1, interval=0)
    assert replay is RotationOutcome.REUSED


async def test_32_racing_tabs_keep_the_session(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    presented = login.refresh_fp
    outcomes = await asyncio.gather(
        *(rotate(token_store, login, presented, NOW + 1) for _ in range(32))
    )
    kinds = sorted(outcome for outcome, _ in outcomes)
    assert kinds == sorted([RotationOutcome.ROTATED] + [RotationOutcome.RACED] * 31)
    assert await token_store.get_session(login.sid, NOW + 2) is not None
