"""What the Redis token store leaves in Redis: no raw token, a TTL on every key, compact
encodings, and nothing that grows without bound (the key layout is in
jwtkeep/adapters/redis/layout.py).

Each test runs on a standalone server and on the three-master cluster; Redis is inspected
with the synchronous client, key by key (SCAN, TYPE, and the read command for the type).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest
import redis

from jwtkeep.adapters.redis import RedisTokenStore
from jwtkeep.adapters.redis.layout import details_key, session_key, user_key
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.core.refresh_token import new_refresh_token
from jwtkeep.ports import AccessRecord, RotationOutcome, Session
from tests.support.at_rest import redis_dump
from tests.support.redis_server import CORRECTNESS_TIMEOUT

NOW = 1_800_000_000.0


@dataclass
class Backend:
    store: RedisTokenStore
    node_urls: list[str]

    def clients(self) -> Iterator[redis.Redis]:
        for url in self.node_urls:
            with redis.Redis.from_url(url) as client:
                yield client

    def dump(self) -> dict[bytes, list[bytes]]:
        """Every key and everything in it, across all nodes."""
        return redis_dump(self.node_urls)

    def ttls(self) -> dict[bytes, int]:
        return {key: c.pttl(key) for c in self.clients() for key in c.scan_iter(count=1000)}

    def on_node(self, key: bytes, command: str, *args: object) -> Any:
        """Run one command on the node that holds `key` (`Any`: redis-py leaves
        `execute_command` untyped)."""
        node: Any
        for node in self.clients():
            client = node
            try:
                if client.exists(key):
                    return client.execute_command(command, key, *args)
            except redis.exceptions.MovedError:
                pass  # a cluster node that does not serve this key's slot
        raise AssertionError("no node holds the key")


@pytest.fixture(params=["redis", "redis-cluster"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    if request.param == "redis":
        url: str = request.getfixturevalue("fresh_redis_url")
        nodes = [url]
    else:
        url = request.getfixturevalue("fresh_redis_cluster_url")
        hosts = url.removeprefix("redis+cluster://").split(",")
        nodes = [f"redis://{host}/0" for host in hosts]
    store = RedisTokenStore.from_url(url, timeout=CORRECTNESS_TIMEOUT)
    yield Backend(store, nodes)
    await store.close()


def _session(user: str, sid: str, *, idle: float = 3600) -> Session:
    return Session(sid, user, "web", "read", NOW, NOW, NOW + idle, NOW + 86400, "agent/1", "::1")


def _raw_access_token() -> str:
    return (
        "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9."
        + secrets.token_urlsafe(90)
        + "."
        + (secrets.token_urlsafe(64))
    )


def _forms(token: str) -> list[bytes]:
    """The token and every encoding of it a careless store might write."""
    raw = token.encode()
    secret = token.rsplit(".", maxsplit=1)[-1].encode()
    return [
        raw,
        secret,
        raw.hex().encode(),
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
        base64.urlsafe_b64decode(secret + b"=" * (-len(secret) % 4)),
    ]


async def _login_rotate_and_more(store: RedisTokenStore, user: str, sid: str) -> list[str]:
    """A login, three rotations, a loose token, a second login: the raw tokens issued."""
    refresh, access = new_refresh_token(sid, secrets.token_bytes), _raw_access_token()
    tokens = [refresh, access]
    record = AccessRecord(fingerprint(access), user, sid, "jti-1", "web", int(NOW) + 300)
    await store.start_session(_session(user, sid), fingerprint(refresh), record, NOW)
    for step in range(3):
        next_refresh, next_access = new_refresh_token(sid, secrets.token_bytes), _raw_access_token()
        tokens += [next_refresh, next_access]
        rotated = AccessRecord(
            fingerprint(next_access), user, sid, f"j{step}", "web", int(NOW) + 400
        )
        outcome = await store.rotate_refresh(
            user, sid, fingerprint(refresh), fingerprint(next_refresh), rotated, NOW + step, 3600
        )
        assert outcome is RotationOutcome.ROTATED
        refresh = next_refresh
    spare = _raw_access_token()
    await store.add_access(
        AccessRecord(fingerprint(spare), user, sid, "j", "web", int(NOW) + 60), NOW
    )
    other_sid, other = OTHER_SID, _raw_access_token()
    other_record = AccessRecord(fingerprint(other), user, other_sid, "j", "web", int(NOW) + 60)
    await store.start_session(_session(user, other_sid), None, other_record, NOW)
    return [*tokens, spare, other]


OTHER_SID = "a-second-session"


async def test_no_raw_token_in_redis_after_login_rotate_revoke_and_logout(
    backend: Backend,
) -> None:
    store, user, sid = backend.store, str(uuid4()), uuid4().hex
    tokens = await _login_rotate_and_more(store, user, sid)

    during = backend.dump()
    everything = b"\n".join([*during, *(v for values in during.values() for v in values)])
    # The dump does hold what was stored (so the check below can fail)...
    assert all(everything.find(fingerprint(token)) >= 0 for token in tokens)
    # ...and no token, in any encoding.
    for token in tokens:
        for form in _forms(token):
            assert form not in everything

    assert await store.remove_access(fingerprint(tokens[-2]), user, sid)
    assert await store.end_session(user, sid)
    assert await store.end_user_sessions(user) == [OTHER_SID]
    # All that is left are the immutable sid -> user mappings, which expire on their own.
    left = {b"~t" + sid.encode(): [user.encode()], b"~t" + OTHER_SID.encode(): [user.encode()]}
    assert backend.dump() == left


async def test_every_key_has_a_ttl_after_every_operation(backend: Backend) -> None:
    store, user = backend.store, str(uuid4())

    def check() -> None:
        ttls = backend.ttls()
        assert ttls, "nothing was stored"
        assert all(ttl > 0 for ttl in ttls.values()), ttls

    sid = uuid4().hex
    first = AccessRecord(fingerprint(f"a-{sid}"), user, sid, "j", "web", int(NOW) + 300)
    await store.start_session(_session(user, sid), fingerprint("r0"), first, NOW)
    check()
    second = AccessRecord(fingerprint("a2"), user, sid, "j", "web", int(NOW) + 320)
    outcome = await store.rotate_refresh(
        user, sid, fingerprint("r0"), fingerprint("r1"), second, NOW + 20, 60
    )
    assert outcome is RotationOutcome.ROTATED
    check()
    loose = AccessRecord(fingerprint("cc"), str(uuid4()), uuid4().hex, "j", "web", int(NOW) + 30)
    await store.add_access(loose, NOW)
    check()
    await store.remove_access(second.fingerprint, user, sid)
    check()
    reuse = await store.rotate_refresh(
        user, sid, fingerprint("r0"), fingerprint("r9"), second, NOW + 30, 60
    )
    assert reuse is RotationOutcome.REUSED
    check()
    await store.end_user_sessions(loose.sub)
    check()


async def test_ttls_follow_the_records(backend: Backend) -> None:
    store, user, sid = backend.store, str(uuid4()), uuid4().hex
    access = AccessRecord(fingerprint("ttl"), user, sid, "j", "web", int(NOW) + 300)
    await store.start_session(_session(user, sid, idle=600), fingerprint("r"), access, NOW)

    ttls = backend.ttls()

    # PTTL counts down in real time; a few seconds of slack is plenty.
    def near(key: bytes, seconds: int) -> bool:
        return (seconds - 5) * 1000 < ttls[key] <= seconds * 1000

    assert near(session_key(user, sid), 600)  # min(idle, absolute) - now
    assert near(details_key(user, sid), 600)  # the same
    assert near(user_key(user), 600)  # its latest entry: the session's index entry
    assert near(b"~t" + sid.encode(), 86400)  # the absolute lifetime
    loose = AccessRecord(fingerprint("loose"), str(uuid4()), uuid4().hex, "j", "web", int(NOW) + 90)
    await store.add_access(loose, NOW)
    ttls = backend.ttls()
    assert near(user_key(loose.sub), 90)  # a token alone: exp - now


async def test_an_access_token_added_at_its_exp_still_gets_a_ttl(backend: Backend) -> None:
    record = AccessRecord(fingerprint("late"), str(uuid4()), uuid4().hex, "j", "web", int(NOW))
    await backend.store.add_access(record, NOW)
    ttls = backend.ttls()
    assert ttls
    assert all(ttl > 0 for ttl in ttls.values())
    assert not await backend.store.is_allowed(record.fingerprint, record.sub, record.sid, NOW)


async def test_dead_entries_are_pruned_when_written_so_nothing_grows(backend: Backend) -> None:
    store, user, sid = backend.store, str(uuid4()), uuid4().hex
    ukey = user_key(user)
    for index in range(10):
        record = AccessRecord(fingerprint(f"short-{index}"), user, sid, "j", "web", int(NOW) + 10)
        await store.add_access(record, NOW)
    assert backend.on_node(ukey, "HLEN") == 10

    fresh = AccessRecord(fingerprint("fresh"), user, sid, "j", "web", int(NOW) + 400)
    await store.add_access(fresh, NOW + 11)
    assert backend.on_node(ukey, "HLEN") == 1  # a small hash is pruned whole

    for index in range(5):
        await store.start_session(
            _session(user, f"s{index}", idle=5),
            None,
            AccessRecord(fingerprint(f"x{index}"), user, f"s{index}", "j", "web", int(NOW) + 5),
            NOW,
        )
    assert backend.on_node(ukey, "HLEN") == 11  # five sessions, each an entry and a token
    await store.start_session(
        _session(user, "late", idle=600),
        None,
        AccessRecord(fingerprint("late"), user, "late", "j", "web", int(NOW) + 600),
        NOW + 100,
    )
    fields = backend.on_node(ukey, "HKEYS")
    assert sorted(fields) == sorted(
        [b"a" + fingerprint("fresh"), b"a" + fingerprint("late"), b"stlate"]
    )


async def test_a_big_user_hash_is_pruned_by_samples(backend: Backend) -> None:
    """Many live tokens of one user (an app's client_credentials tokens): each write
    checks 16 random entries instead of all of them, and the dead still go."""
    store, user, sid = backend.store, str(uuid4()), uuid4().hex
    ukey = user_key(user)
    for index in range(100):
        record = AccessRecord(fingerprint(f"short-{index}"), user, sid, "j", "web", int(NOW) + 10)
        await store.add_access(record, NOW)
    assert backend.on_node(ukey, "HLEN") == 100

    for index in range(10):
        record = AccessRecord(fingerprint(f"new-{index}"), user, sid, "j", "web", int(NOW) + 400)
        await store.add_access(record, NOW + 11)

    # Each write drops at least 16 - (live entries) dead ones until 16 or fewer are left,
    # then the whole hash is checked: after ten writes only the ten live tokens remain.
    assert backend.on_node(ukey, "HLEN") == 10


BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    'Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0 — ünïcødé, "quotes", \x00 and all'
)


async def test_hashes_keep_their_compact_encoding_even_with_a_long_user_agent(
    backend: Backend,
) -> None:
    """Redis keeps a hash compact (listpack) only while every value is 64 bytes or less; a
    real browser's User-Agent is longer, so it lives in the session's details string."""
    store, user, sid = backend.store, str(uuid4()), uuid4().hex
    session = Session(
        sid, user, "web", "read write", NOW, NOW, NOW + 600, NOW + 900, BROWSER, "2001:db8::1"
    )
    first = AccessRecord(fingerprint("e0"), user, sid, "j", "web", int(NOW) + 300)
    await store.start_session(session, fingerprint("r0"), first, NOW)
    for index in range(1, 10):
        record = AccessRecord(fingerprint(f"e{index}"), user, sid, "j", "web", int(NOW) + 300)
        outcome = await store.rotate_refresh(
            user,
            sid,
            fingerprint(f"r{index - 1}"),
            fingerprint(f"r{index}"),
            record,
            NOW + index,
            600,
        )
        assert outcome is RotationOutcome.ROTATED

    compact = {b"ziplist", b"listpack"}
    for key in (session_key(user, sid), user_key(user)):
        assert backend.on_node(key, "OBJECT ENCODING") in compact
    moved = Session(
        sid, user, "web", "read write", NOW, NOW + 9, NOW + 609, NOW + 900, BROWSER, "2001:db8::1"
    )
    assert await store.get_session(sid, NOW + 9) == moved
    assert await store.list_sessions(user, NOW + 9) == [moved]


async def test_canonical_ids_make_short_binary_keys(backend: Backend) -> None:
    """A UUID user and a jwtkeep sid (22-char base64url) are stored as their raw bytes: an
    18-byte user hash key, a 35-byte session key, 26-byte token values (layout.py): exp, the
    4-byte tag of the signing key's kid (the key-leak drill), the session."""
    user = str(uuid4())
    raw_sid = secrets.token_bytes(16)
    sid = base64.urlsafe_b64encode(raw_sid).rstrip(b"=").decode()
    ukey, skey = user_key(user), session_key(user, sid)
    assert len(ukey) <= 20  # 18, plus at most two escapes of '}' or '\\' in the UUID bytes
    assert len(skey) <= 37
    record = AccessRecord(fingerprint("k"), user, sid, "j", "web", int(NOW) + 300, kid="kid-1")
    await backend.store.start_session(_session(user, sid), None, record, NOW)
    value = backend.on_node(ukey, "HGET", b"a" + fingerprint("k"))
    tag = hashlib.sha256(b"kid-1").digest()[:4]
    assert value == (int(NOW) + 300).to_bytes(5, "big") + tag + b"r" + raw_sid
    assert await backend.store.get_session(sid, NOW) == _session(user, sid)
    assert [s.sid for s in await backend.store.list_sessions(user, NOW)] == [sid]
    assert await backend.store.end_user_sessions(user) == [sid]


async def test_a_long_lived_session_keeps_only_its_newest_used_refresh_tokens(
    backend: Backend,
) -> None:
    """A session refreshed every few minutes for weeks must not grow without bound: only
    the newest 32 used-up fingerprints are kept. Reuse of one of those still ends the
    session; an older one is merely unknown (refused, session untouched)."""
    store, user, sid = backend.store, str(uuid4()), "long-lived-session"
    tokens = [new_refresh_token(sid, secrets.token_bytes)]
    access = AccessRecord(fingerprint(_raw_access_token()), user, sid, "j0", "web", int(NOW) + 300)
    await store.start_session(_session(user, sid), fingerprint(tokens[0]), access, NOW)
    for step in range(1, 41):
        tokens.append(new_refresh_token(sid, secrets.token_bytes))
        record = AccessRecord(
            fingerprint(_raw_access_token()), user, sid, f"j{step}", "web", int(NOW) + 300
        )
        outcome = await store.rotate_refresh(
            user, sid, fingerprint(tokens[-2]), fingerprint(tokens[-1]), record, NOW + step, 3600
        )
        assert outcome is RotationOutcome.ROTATED
    fields = backend.on_node(session_key(user, sid), "HLEN")
    assert fields == 3 + 1 + 32  # clock fields, the current token, the newest 32 used
    oldest = await store.rotate_refresh(
        user, sid, fingerprint(tokens[0]), fingerprint(tokens[0]), access, NOW + 50, 3600
    )
    assert oldest is RotationOutcome.UNKNOWN
    assert await store.get_session(sid, NOW + 50) is not None
    recent = await store.rotate_refresh(
        user, sid, fingerprint(tokens[-5]), fingerprint(tokens[0]), access, NOW + 51, 3600
    )
    assert recent is RotationOutcome.REUSED
    assert await store.get_session(sid, NOW + 51) is None
