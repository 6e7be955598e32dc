"""Redis Cluster: one user's keys share one hash slot, and users spread over the masters.

Every multi-key step of the store is one Lua script, which a Cluster only runs when all its
keys are in one slot (Redis Cluster spec, "Hash tags"). The three-master cluster is real
(tests/support/redis_server.py).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import pytest

from jwtkeep.adapters.redis import RedisTokenStore
from jwtkeep.adapters.redis.layout import details_key, map_key, session_key, user_key
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.ports import AccessRecord, RotationOutcome, Session
from tests.support.redis_server import CORRECTNESS_TIMEOUT, RedisCluster

NOW = 1_800_000_000.0


@pytest.fixture
async def store(fresh_redis_cluster_url: str) -> AsyncIterator[RedisTokenStore]:
    store = RedisTokenStore.from_url(fresh_redis_cluster_url, timeout=CORRECTNESS_TIMEOUT)
    yield store
    await store.close()


def _session(user: str, sid: str) -> Session:
    return Session(sid, user, "web", "read", NOW, NOW, NOW + 3600, NOW + 86400)


def _access(user: str, sid: str, name: str) -> AccessRecord:
    token = f"{user.encode().hex()}/{sid}/{name}"
    return AccessRecord(fingerprint(token), user, sid, name, "web", int(NOW) + 300)


async def _use(store: RedisTokenStore, user: str) -> list[str]:
    """Log in twice, rotate, add a token: every kind of key the user can have."""
    canonical = base64.urlsafe_b64encode(secrets.token_bytes(16)).rstrip(b"=").decode()
    sids = [uuid4().hex, canonical]  # a text sid and a jwtkeep-style one (layout.py)
    for sid in sids:
        await store.start_session(
            _session(user, sid), fingerprint(f"r/{sid}"), _access(user, sid, "a0"), NOW
        )
    rotated = await store.rotate_refresh(
        user,
        sids[0],
        fingerprint(f"r/{sids[0]}"),
        fingerprint("r1"),
        _access(user, sids[0], "a1"),
        NOW + 1,
        60,
    )
    assert rotated is RotationOutcome.ROTATED
    await store.add_access(_access(user, sids[1], "a2"), NOW)
    return sids


def _slot(cluster: RedisCluster, key: bytes) -> int:
    with cluster.nodes[0].client() as client:
        slot: int = client.execute_command("CLUSTER", "KEYSLOT", key)
        return slot


def _stored_keys(cluster: RedisCluster) -> dict[bytes, int]:
    """Every key in the cluster and the port of the master that holds it."""
    found: dict[bytes, int] = {}
    for node in cluster.nodes:
        with node.client() as client:
            found.update(dict.fromkeys(client.scan_iter(count=1000), node.port))
    return found


@pytest.mark.parametrize(
    "user",
    [str(uuid4()), "client-app-7", "we}ird{user\\id", "ünïcødé", str(uuid4()).upper()],
)
async def test_all_keys_of_one_user_are_in_one_slot(
    store: RedisTokenStore, redis_cluster: RedisCluster, user: str
) -> None:
    sids = await _use(store, user)

    expected = {user_key(user)}
    for sid in sids:
        expected |= {session_key(user, sid), details_key(user, sid)}
    stored = _stored_keys(redis_cluster)
    tagged = {key for key in stored if not key.startswith(b"~")}
    assert tagged == expected
    assert len({_slot(redis_cluster, key) for key in tagged}) == 1
    assert len({stored[key] for key in tagged}) == 1  # and so on one master
    # The sid -> user mappings are single keys, free to live anywhere.
    assert {key for key in stored if key.startswith(b"~")} == {map_key(sid) for sid in sids}


async def test_users_on_every_master_work_side_by_side(
    store: RedisTokenStore, redis_cluster: RedisCluster
) -> None:
    masters = {node.port for node in redis_cluster.nodes}
    users: dict[int, str] = {}
    for _ in range(200):
        user = str(uuid4())
        users.setdefault(_owner(redis_cluster, user_key(user)), user)
        if len(users) == len(masters):
            break
    assert set(users) == masters

    sessions = {user: await _use(store, user) for user in users.values()}
    victim, *others = users.values()
    assert len(await store.end_user_sessions(victim)) == 2

    assert not await store.is_allowed(
        _access(victim, sessions[victim][0], "a1").fingerprint, victim, sessions[victim][0], NOW
    )
    for user in others:
        first, second = sessions[user]
        assert await store.is_allowed(_access(user, first, "a1").fingerprint, user, first, NOW)
        assert await store.is_allowed(_access(user, second, "a2").fingerprint, user, second, NOW)
        assert {s.sid for s in await store.list_sessions(user, NOW + 2)} == {first, second}
        assert (await store.get_session(second, NOW)) == _session(user, second)


def _owner(cluster: RedisCluster, key: bytes) -> int:
    """The port of the master serving `key`'s slot."""
    slot = _slot(cluster, key)
    with cluster.nodes[0].client() as client:
        for first, last, (_, port, *_) in (
            tuple(r[:3]) for r in client.execute_command("CLUSTER", "SLOTS")
        ):
            if first <= slot <= last:
                return int(port)
    raise AssertionError("slot not covered")


async def test_a_moved_slot_is_followed(
    store: RedisTokenStore, redis_cluster: RedisCluster
) -> None:
    """The hot path routes with redis-py's slot map; a stale map (MOVED) still answers."""
    user, sid = str(uuid4()), uuid4().hex
    record = _access(user, sid, "moved")
    await store.add_access(record, NOW)
    key = user_key(user)
    slot, owner = _slot(redis_cluster, key), _owner(redis_cluster, key)
    target = next(node for node in redis_cluster.nodes if node.port != owner)
    source = next(node for node in redis_cluster.nodes if node.port == owner)
    assert await store.is_allowed(record.fingerprint, user, sid, NOW)  # map is now warm

    _move_slot(slot, source.client(), target.client())

    assert await store.is_allowed(record.fingerprint, user, sid, NOW)
    assert not await store.is_allowed(fingerprint("other"), user, sid, NOW)


def _move_slot(slot: int, source: Any, target: Any) -> None:
    """Redis Cluster spec, "Live reconfiguration": IMPORTING/MIGRATING, MIGRATE, NODE.
    (`Any`: redis-py leaves `execute_command` untyped.)"""
    with source, target:
        source_id = source.execute_command("CLUSTER", "MYID")
        target_id = target.execute_command("CLUSTER", "MYID")
        target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        port = target.connection_pool.connection_kwargs["port"]
        keys = source.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 1000)
        source.execute_command("MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", *keys)
        for client in (target, source):
            client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
