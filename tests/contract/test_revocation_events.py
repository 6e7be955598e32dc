"""Contract: every change that makes a token unacceptable publishes its revocation event.

Runs on every backend (`token_store`: SQLite, PostgreSQL, Redis standalone, Redis
Cluster). A real subscription (`revocation_feed().listen()`) is opened first; the test
then makes the change and reads the next event. Waiting is bounded generously (a stuck
feed fails the test); nothing here measures time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator

from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.revocation_events import EVERYTHING, EventKind, RevocationEvent
from jwtkeep.ports import AccessRecord, RotationOutcome, TokenStore
from tests.contract.builders import (
    IDLE_TIMEOUT,
    NOW,
    access_for,
    allowed,
    log_in,
    new_fp,
    new_sid,
    new_user,
    session_for,
)

WAIT = 10.0


async def log_in_to(store: TokenStore, client_id: str, user: str) -> None:
    """A session of another app (`log_in` makes those of "web")."""
    session = dataclasses.replace(session_for(user), client_id=client_id)
    access = dataclasses.replace(access_for(user, session.sid), client_id=client_id)
    await store.start_session(session, new_fp(), access, NOW)


class Subscription:
    def __init__(self, signals: AsyncIterator[RevocationEvent | None]) -> None:
        self._signals = signals

    async def next_event(self) -> RevocationEvent:
        async with asyncio.timeout(WAIT):
            async for signal in self._signals:
                if signal is not None:
                    return signal
        raise AssertionError("the feed ended")

    async def nothing_before(self, marker: RevocationEvent) -> None:
        """The next event is `marker` (published after the step that must not announce)."""
        assert await self.next_event() == marker


@contextlib.asynccontextmanager
async def subscribed(store: TokenStore) -> AsyncIterator[Subscription]:
    feed = store.revocation_feed()
    signals = feed.listen()
    async with asyncio.timeout(WAIT):
        assert await anext(signals) is None  # subscribed: nothing after this is missed
    try:
        yield Subscription(signals)
    finally:
        await signals.aclose()  # type: ignore[attr-defined]
        await feed.aclose()


async def test_rfc7009_revocation_publishes_the_fingerprint(token_store: TokenStore) -> None:
    record = (await log_in(token_store)).access
    async with subscribed(token_store) as events:
        assert await token_store.remove_access(record.fingerprint, record.sub, record.sid)
        assert await events.next_event() == RevocationEvent.token(record.fingerprint, "web")


async def test_a_token_of_no_session_names_its_client_or_none(token_store: TokenStore) -> None:
    """A client_credentials token has no session: SQL stores its client with it, Redis
    only in a session's details. Not knowing it (None: every stream subscriber gets the
    event) is safe; naming a wrong one would not be."""
    record = access_for(new_user(), new_sid())
    await token_store.add_access(record, NOW)
    async with subscribed(token_store) as events:
        assert await token_store.remove_access(record.fingerprint, record.sub, record.sid)
        event = await events.next_event()
    assert event.without_clients() == RevocationEvent.token(record.fingerprint)
    if event.clients is not None:  # the contract allows "not known", never a wrong app
        assert event.clients == ("web",)


async def test_a_removal_that_removed_nothing_publishes_nothing(token_store: TokenStore) -> None:
    record = (await log_in(token_store)).access
    async with subscribed(token_store) as events:
        assert not await token_store.remove_access(new_fp(), record.sub, record.sid)
        assert await token_store.remove_access(record.fingerprint, record.sub, record.sid)
        await events.nothing_before(RevocationEvent.token(record.fingerprint, "web"))


async def test_logout_publishes_the_session(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    async with subscribed(token_store) as events:
        assert await token_store.end_session(login.user_id, login.sid)
        assert await events.next_event() == RevocationEvent.session(
            login.sid, login.user_id, ["web"]
        )


async def test_logout_all_and_password_change_publish_the_user(token_store: TokenStore) -> None:
    """The event names the apps of the sessions it ended (for the HTTPS stream's filter)."""
    user = new_user()
    kept = await log_in(token_store, user)
    await log_in(token_store, user)
    await log_in_to(token_store, "blog", user)
    async with subscribed(token_store) as events:
        await token_store.end_user_sessions(user, except_sid=kept.sid)
        assert await events.next_event() == RevocationEvent.user(user, ["blog", "web"])
        await token_store.end_user_sessions(user)
        assert await events.next_event() == RevocationEvent.user(user, ["web"])


async def test_refresh_reuse_publishes_the_session(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    assert login.refresh_fp is not None
    new_refresh = new_fp()
    rotated = await token_store.rotate_refresh(
        login.user_id, login.sid, login.refresh_fp, new_refresh,
        access_for(login.user_id, login.sid), NOW + 1, IDLE_TIMEOUT,
    )  # fmt: skip
    assert rotated is RotationOutcome.ROTATED
    async with subscribed(token_store) as events:
        reused = await token_store.rotate_refresh(
            login.user_id, login.sid, login.refresh_fp, new_fp(),
            access_for(login.user_id, login.sid), NOW + 2, IDLE_TIMEOUT,
        )  # fmt: skip
        assert reused is RotationOutcome.REUSED
        assert await events.next_event() == RevocationEvent.session(
            login.sid, login.user_id, ["web"]
        )


async def test_the_key_leak_drill_kills_what_the_key_signed_and_publishes_it(
    token_store: TokenStore,
) -> None:
    user = new_user()
    leaked = [AccessRecord(fingerprint(f"leaked-{i}-{user}"), user, new_sid(), f"j{i}", "web",
                           int(NOW) + 300, kid="leaked-kid") for i in range(3)]  # fmt: skip
    other = AccessRecord(fingerprint(f"other-{user}"), new_user(), new_sid(), "j", "web",
                         int(NOW) + 300, kid="good-kid")  # fmt: skip
    for record in (*leaked, other):
        await token_store.add_access(record, NOW)
    async with subscribed(token_store) as events:
        assert await token_store.revoke_signed_by("leaked-kid", NOW) == 3
        event = await events.next_event()
    assert event.kind is EventKind.KID
    assert event == RevocationEvent.signed_by("leaked-kid")
    assert not any([await allowed(token_store, record) for record in leaked])
    assert await allowed(token_store, other)


async def test_the_drill_also_finds_tokens_of_sessions(token_store: TokenStore) -> None:
    login = await log_in(token_store)
    signed = AccessRecord(fingerprint(f"s-{login.sid}"), login.user_id, login.sid, "j", "web",
                          int(NOW) + 300, kid="session-kid")  # fmt: skip
    await token_store.add_access(signed, NOW)
    assert await token_store.revoke_signed_by("session-kid", NOW) == 1
    assert not await allowed(token_store, signed)
    assert await allowed(token_store, login.access)  # signed by another key (kid "")
    assert await token_store.get_session(login.sid, NOW) is not None


async def test_everyone_out_publishes_all(token_store: TokenStore) -> None:
    """`sessions revoke-everything`: every verdict cache must empty, in the cut-off's step."""
    await log_in(token_store)
    async with subscribed(token_store) as events:
        await token_store.end_everything(NOW + 1)
        assert await events.next_event() == EVERYTHING


async def test_one_app_out_publishes_all(token_store: TokenStore) -> None:
    """`app disable`/`app delete`: the schema names no app and a verdict cache does not
    know a token's app, so the event is `all` (dropping too much is the safe side)."""
    await log_in(token_store)
    async with subscribed(token_store) as events:
        await token_store.end_client_sessions("web", NOW + 1)
        assert await events.next_event() == EVERYTHING
