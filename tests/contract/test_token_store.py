"""Contract: the access-token allowlist, and what a store may hold (jwtkeep.ports.token_store).

Runs on every backend through the `token_store` fixture (tests/contract/conftest.py). Times
are fixed Unix seconds passed as `now`; Redis sets real TTLs from them, so nothing here
sleeps and every expiry is checked by moving `now` (and at `now >= exp` exactly).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.refresh_token import new_refresh_token
from jwtkeep.ports import AccessRecord, Session, TokenStore
from tests.contract.builders import (
    NOW,
    access_for,
    allowed,
    new_sid,
    new_user,
)
from tests.support.at_rest import postgres_dump, redis_dump


async def test_an_added_access_token_is_allowed(token_store: TokenStore) -> None:
    record = access_for(new_user(), new_sid())
    await token_store.add_access(record, NOW)
    assert await allowed(token_store, record)


async def test_a_token_never_added_is_not_allowed(token_store: TokenStore) -> None:
    await token_store.add_access(access_for(new_user(), new_sid()), NOW)
    assert not await allowed(token_store, access_for(new_user(), new_sid()))


async def test_the_record_is_bound_to_its_sub_and_sid(token_store: TokenStore) -> None:
    record = access_for(new_user(), new_sid())
    await token_store.add_access(record, NOW)
    fp = record.fingerprint
    assert not await token_store.is_allowed(fp, new_user(), record.sid, NOW)
    assert not await token_store.is_allowed(fp, record.sub, new_sid(), NOW)
    assert await token_store.is_allowed(fp, record.sub, record.sid, NOW)


async def test_a_record_lives_until_exp_and_not_a_second_longer(token_store: TokenStore) -> None:
    record = access_for(new_user(), new_sid(), exp=NOW + 30)
    await token_store.add_access(record, NOW)
    assert await allowed(token_store, record, NOW + 29)
    assert await allowed(token_store, record, NOW + 29.999)
    assert not await allowed(token_store, record, NOW + 30)  # now >= exp
    assert not await allowed(token_store, record, NOW + 31)


async def test_a_record_added_at_or_after_its_exp_is_never_allowed(token_store: TokenStore) -> None:
    at_exp = access_for(new_user(), new_sid(), exp=NOW)
    past_exp = access_for(new_user(), new_sid(), exp=NOW - 60)
    await token_store.add_access(at_exp, NOW)
    await token_store.add_access(past_exp, NOW)
    assert not await allowed(token_store, at_exp, NOW)
    assert not await allowed(token_store, past_exp, NOW)


async def test_remove_access_revokes_one_token_only(token_store: TokenStore) -> None:
    sub, sid = new_user(), new_sid()
    revoked, kept = access_for(sub, sid), access_for(sub, sid)
    await token_store.add_access(revoked, NOW)
    await token_store.add_access(kept, NOW)

    assert await token_store.remove_access(revoked.fingerprint, sub, sid) is True
    assert not await allowed(token_store, revoked)
    assert await allowed(token_store, kept)


async def test_remove_access_says_whether_it_was_present(token_store: TokenStore) -> None:
    record = access_for(new_user(), new_sid())
    assert await token_store.remove_access(record.fingerprint, record.sub, record.sid) is False
    await token_store.add_access(record, NOW)
    assert await token_store.remove_access(record.fingerprint, record.sub, record.sid) is True
    assert await token_store.remove_access(record.fingerprint, record.sub, record.sid) is False


async def test_adding_the_same_record_twice_keeps_one_record(token_store: TokenStore) -> None:
    record = access_for(new_user(), new_sid())
    await token_store.add_access(record, NOW)
    await token_store.add_access(record, NOW + 1)
    assert await allowed(token_store, record)
    assert await token_store.remove_access(record.fingerprint, record.sub, record.sid) is True
    assert not await allowed(token_store, record)


async def test_ping_answers(token_store: TokenStore) -> None:
    await token_store.ping()


# -- nothing stored is a raw token ---------------------------------------------------------


async def test_nothing_stored_is_a_raw_token(
    token_store: TokenStore, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """DESIGN: raw tokens never appear in any store. The store only ever receives
    fingerprints; dump everything the backend holds and look for the tokens themselves."""
    user_id, sid = new_user(), new_sid()
    refresh = new_refresh_token(sid, secrets.token_bytes)
    next_refresh = new_refresh_token(sid, secrets.token_bytes)
    access = "eyJhbGciOiJFZERTQSJ9." + secrets.token_urlsafe(48) + "." + secrets.token_urlsafe(64)
    record = AccessRecord(fingerprint(access), user_id, sid, "jti-raw-check", "web", int(NOW) + 300)
    session = Session(sid, user_id, "web", "read", NOW, NOW, NOW + 3600, NOW + 86400)
    await token_store.start_session(session, fingerprint(refresh), record, NOW)
    rotated = access_for(user_id, sid)
    await token_store.rotate_refresh(
        user_id, sid, fingerprint(refresh), fingerprint(next_refresh), rotated, NOW + 1, 3600
    )

    dump = await dump_backend(request, tmp_path)

    # The dump does see what was stored (so the check below can fail)...
    for fp in (fingerprint(access), fingerprint(refresh), fingerprint(next_refresh)):
        assert dump.find(fp) >= 0 or dump.find(fp.hex().encode()) >= 0
    # ...and no token is in it.
    for token in (access, refresh, next_refresh):
        assert token.encode() not in dump
        assert token.split(".")[-1].encode() not in dump  # not even the secret part


async def dump_backend(request: pytest.FixtureRequest, tmp_path: Path) -> bytes:
    backend = request.node.callspec.params["token_store"]
    if backend == "sqlite":
        return b"".join(path.read_bytes() for path in sorted(tmp_path.glob("store.db*")))
    if backend == "postgres":
        return await postgres_dump(request.getfixturevalue("fresh_postgres_url"))
    if backend == "redis":
        urls = [request.getfixturevalue("fresh_redis_url")]
    else:
        cluster_url: str = request.getfixturevalue("fresh_redis_cluster_url")
        nodes = cluster_url.removeprefix("redis+cluster://").split("/")[0].split(",")
        urls = [f"redis://{node}/0" for node in nodes]
    contents = redis_dump(urls)
    return b"\n".join([*contents, *(value for values in contents.values() for value in values)])
