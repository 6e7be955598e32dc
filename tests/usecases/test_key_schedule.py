"""The rotation schedule's rules, one at a time, on a real (SQLite) database: when the
next key is published, when it signs, when the old key is retired, and what the
key-leak drill does with a published next key. The whole schedule on two replicas and
PostgreSQL: tests/adapters/test_key_rotation_schedule.py."""

from __future__ import annotations

import dataclasses

import pytest

from jwtkeep.core.clock import FixedClock
from jwtkeep.core.keyring import JWKS_MAX_AGE, KeyStatus, signing_kid
from jwtkeep.core.sealing import Sealer
from jwtkeep.ports import KeyChange, StoredKey
from jwtkeep.settings import MAX_ACCESS_TOKEN_TTL
from jwtkeep.usecases.context import Operator, RequestInfo
from jwtkeep.usecases.key_manager import KeyManager
from jwtkeep.usecases.key_schedule import DAY, KeyPolicy
from jwtkeep.usecases.key_withdrawal import key_compromised
from jwtkeep.usecases.password_grant import password_grant
from tests.support.refusals import refused_for
from tests.usecases.conftest import PASSWORD, World

PERIOD = 10 * DAY


def manager(world: World, *, period: float | None = PERIOD) -> KeyManager:
    policy = KeyPolicy.derive(rotation_days=period / DAY if period else 0, refresh_seconds=30,
                              token_lifetime=MAX_ACCESS_TOKEN_TTL + 30)  # fmt: skip
    return KeyManager(world.database.keys, Sealer(bytes(range(32))), clock=world.clock,
                      policy=policy, audit=world.database.audit)  # fmt: skip


async def stored(world: World) -> dict[str, StoredKey]:
    return {key.kid: key for key in await world.database.keys.list_keys()}


async def events(world: World) -> list[tuple[str, dict[str, object]]]:
    """The key events, oldest first: the name, and the detail with who and why."""
    found = await world.database.audit.query(limit=100)
    return [(e.event, {**e.detail, "actor": e.actor, "reason": e.reason})
            for e in reversed(found) if e.event.startswith("key")]  # fmt: skip


def test_the_derived_lead_and_retirement_cover_caches_reloads_and_token_lifetimes() -> None:
    policy = KeyPolicy.derive(rotation_days=90, refresh_seconds=30, token_lifetime=3630)
    assert policy.publish_ahead >= JWKS_MAX_AGE + 30
    assert policy.retire_after >= 3630 + 30
    assert policy.scheduled_lead == DAY  # a day ahead: any cache up to 24 h has it
    assert KeyPolicy.derive(rotation_days=0, refresh_seconds=30,
                            token_lifetime=3630).rotation_period is None  # fmt: skip


async def test_the_next_key_is_published_a_lead_before_its_time(world: World) -> None:
    keys = manager(world)
    (first,) = await stored(world)
    assert not await keys.step()  # nothing due for a fresh key
    world.clock.advance(PERIOD - DAY - 1)
    assert not await keys.step()
    world.clock.advance(1)
    change = await keys.step()
    (upcoming,) = change.add
    assert upcoming.activates_at == pytest.approx(world.clock() + DAY, abs=1)
    assert not await keys.step()  # already published: never a second one
    ring = await keys.ring()
    assert {k["kid"] for k in ring.jwks()["keys"]} == {first, upcoming.kid}
    assert ring.signer(world.clock()).kid == first


async def test_a_late_schedule_still_publishes_a_full_lead_ahead(world: World) -> None:
    keys = manager(world)
    world.clock.advance(3 * PERIOD)  # every replica was down, or rotation was off
    (upcoming,) = (await keys.step()).add
    assert upcoming.activates_at == pytest.approx(world.clock() + DAY, abs=1)


async def test_the_old_key_retires_once_its_tokens_have_expired(world: World) -> None:
    keys = manager(world)
    (old,) = await stored(world)
    new = await keys.rotate(reason="test")
    world.clock.advance(keys.policy.publish_ahead)
    await keys.step()
    retiring = (await stored(world))[old]
    assert retiring.status == KeyStatus.RETIRING
    assert retiring.retires_at == pytest.approx(world.clock() + keys.policy.retire_after, abs=1)
    world.clock.advance(keys.policy.retire_after - 1)
    await keys.step()
    assert (await stored(world))[old].status == KeyStatus.RETIRING  # a token may live still
    world.clock.advance(1)
    await keys.step()
    assert (await stored(world))[old].status == KeyStatus.RETIRED
    assert [name for name, _ in await events(world)] == [
        "key.rotated", "key.activated", "key.retired",
    ]  # fmt: skip
    assert (await events(world))[1][1]["kid"] == new


async def test_a_key_retiring_before_the_schedule_existed_gets_a_full_lifetime(
    world: World,
) -> None:
    keys = manager(world, period=None)
    await keys.rotate(at_once=True)
    old = next(k for k in (await stored(world)).values() if k.status == KeyStatus.RETIRING)
    legacy = dataclasses.replace(old, retires_at=None)  # as migration 0005 leaves them
    await world.database.keys.change_keys(lambda _: KeyChange(replace=(legacy,)))
    await keys.step()
    given = (await stored(world))[old.kid].retires_at
    assert given == pytest.approx(world.clock() + keys.policy.retire_after, abs=1)
    names = [name for name, _ in await events(world)]
    assert names.count("key.activated") == 1  # a time given is not an activation


async def test_the_leak_drill_does_not_promote_a_published_next_key(world: World) -> None:
    keys = manager(world)
    (leaked,) = await stored(world)
    upcoming = await keys.rotate()
    fresh = await keys.compromised(leaked, reason="found on pastebin")
    assert fresh not in (None, upcoming)
    now_keys = await stored(world)
    assert signing_kid(now_keys.values(), world.clock()) == fresh
    assert now_keys[leaked].status == KeyStatus.COMPROMISED
    assert now_keys[upcoming].status == KeyStatus.ACTIVE  # still next, published
    name, detail = (await events(world))[-1]
    assert name == "key.compromised"
    assert detail == {"kid": leaked, "actor": "operator", "reason": "found on pastebin",
                      "new_kid": fresh}  # fmt: skip


async def test_the_next_key_can_be_withdrawn_without_a_new_key(world: World) -> None:
    keys = manager(world)
    (current,) = await stored(world)
    upcoming = await keys.rotate()
    assert await keys.compromised(upcoming) is None  # the signer is unaffected
    assert signing_kid((await stored(world)).values(), world.clock()) == current


async def test_replicas_share_one_clock_rule(world: World) -> None:
    clock = FixedClock(world.clock())
    one, other = manager(world), manager(world)
    upcoming = await one.rotate()
    (key,) = [k for k in (await other.reload()).keys if k.kid == upcoming]
    assert key.activates_at is not None
    clock.now = key.activates_at
    assert (await one.ring()).signer(clock()).kid == upcoming
    assert (await other.ring()).signer(clock()).kid == upcoming


async def test_the_drill_is_audited_once_with_the_operator_and_the_tokens_killed(
    world: World,
) -> None:
    keys = manager(world)
    ctx = dataclasses.replace(world.ctx, keys=keys)
    login = await password_grant(ctx, world.app, "alice", PASSWORD, None, RequestInfo())
    (leaked,) = await stored(world)
    op = Operator(actor="cli:root", reason="found on pastebin")
    done = await key_compromised(ctx, leaked, op=op)
    assert done.tokens_killed == 1
    drills = [detail for name, detail in await events(world) if name == "key.compromised"]
    assert drills == [{"kid": leaked, "actor": "cli:root", "reason": "found on pastebin",
                       "new_kid": done.new_kid, "tokens_killed": 1}]  # fmt: skip
    with refused_for("not in the allowlist"):
        await world.verifier.verify(login.access_token)
