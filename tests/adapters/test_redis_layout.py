"""The key encoding (jwtkeep/adapters/redis/layout.py) is injective and keeps the hash tag
intact, for any user id and session id (property-based: hypothesis)."""

from __future__ import annotations

import base64
import uuid

from hypothesis import given
from hypothesis import strategies as st

from jwtkeep.adapters.redis.layout import (
    access_exp,
    access_value,
    kid_tag,
    number,
    session_key,
    sid_code,
    sid_from_code,
    ttl_ms,
    user_key,
    user_tag,
)

ids = st.one_of(
    st.text(max_size=40),
    st.uuids().map(str),
    st.uuids().map(lambda u: str(u).upper()),
    st.binary(min_size=16, max_size=16).map(
        lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    ),
    st.sampled_from(["}", "{", "\\", "\\~", "\\]", "{}", "}{", ""]),
)


def _tag_of(key: bytes) -> bytes:
    """What Redis Cluster hashes (Cluster spec, "Hash tags")."""
    start = key.find(b"{")
    end = key.find(b"}", start + 1)
    if start < 0 or end < 0 or end == start + 1:
        return key
    return key[start + 1 : end]


@given(ids, ids)
def test_every_key_of_a_user_hashes_on_the_whole_user_tag(user: str, sid: str) -> None:
    tag = user_tag(user)
    assert tag
    assert b"}" not in tag
    for key in (user_key(user), session_key(user, sid)):
        assert _tag_of(key) == tag


@given(ids, ids)
def test_different_users_get_different_tags(first: str, second: str) -> None:
    assert (user_tag(first) == user_tag(second)) == (first == second)


@given(ids, ids, ids, ids)
def test_different_sessions_get_different_keys(u1: str, s1: str, u2: str, s2: str) -> None:
    same = (u1, s1) == (u2, s2)
    assert (session_key(u1, s1) == session_key(u2, s2)) == same
    assert session_key(u1, s1) != user_key(u2)


@given(st.integers(min_value=-(2**40), max_value=2**39), ids)
def test_access_values_read_back(exp: int, sid: str) -> None:
    value = access_value(exp, sid_code(sid), "kid-1")
    assert access_exp(value) == max(0, exp)
    assert value[5:9] == kid_tag("kid-1")  # the signing key's tag (the key-leak drill)
    assert value[9:] == sid_code(sid)


@given(ids)
def test_sid_codes_read_back(sid: str) -> None:
    assert sid_from_code(sid_code(sid)) == sid


def test_canonical_ids_are_stored_as_raw_bytes() -> None:
    user = uuid.uuid4()
    sid_bytes = b"0123456789abcdef"
    sid = base64.urlsafe_b64encode(sid_bytes).rstrip(b"=").decode()
    assert sid_code(sid) == b"r" + sid_bytes
    tag = user_tag(str(user))
    assert tag.replace(b"\\\\", b"\\").replace(b"\\]", b"}") == user.bytes
    assert user_tag(str(user).upper()) != tag  # not canonical: kept as text, still distinct


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_numbers_read_back_exactly(value: float) -> None:
    assert float(number(value)) == value


def test_ttls_round_up_and_never_go_below_one_second() -> None:
    assert ttl_ms(100.0, 40.0) == 60_000
    assert ttl_ms(100.0, 99.9995) == 1000
    assert ttl_ms(100.0, 100.0) == 1000
    assert ttl_ms(100.0, 200.0) == 1000
    assert ttl_ms(100.0005, 40.0) == 60_001
