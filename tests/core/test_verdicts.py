"""The verdict cache (jwtkeep.core.verdicts): liveness, exactness, bounds, races."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.revocation_events import EVERYTHING, RevocationEvent, decode_event
from jwtkeep.core.verdicts import VerdictCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def claims(sub: str = "u1", sid: str = "s1", exp: int = 2_000, nbf: int = 0) -> AccessClaims:
    jti = secrets.token_hex(8)
    return AccessClaims(iss="https://i", sub=sub, aud="api", exp=exp, nbf=nbf, iat=0, jti=jti,
                        client_id="web", scope="read", sid=sid)  # fmt: skip


def live_cache(clock: Clock, **options: int) -> VerdictCache:
    cache = VerdictCache(monotonic=clock, **options)
    cache.restart()
    return cache


def test_a_verdict_is_kept_only_while_the_subscription_beats() -> None:
    clock = Clock()
    cache = live_cache(clock)
    fp = secrets.token_bytes(32)
    cache.put(fp, claims(), "k1", cache.generation)
    assert cache.get(fp, 1_000) is not None
    clock.now += 0.9
    cache.beat()
    clock.now += 0.9
    assert cache.get(fp, 1_000) is not None
    clock.now += 0.2  # 1.1 s since the last beat: silence
    assert cache.get(fp, 1_000) is None
    assert len(cache) == 0
    cache.beat()
    assert cache.get(fp, 1_000) is None  # emptied, not hidden


def test_nothing_is_kept_while_not_live_and_a_loss_empties_it() -> None:
    clock = Clock()
    cache = VerdictCache(monotonic=clock)
    fp = secrets.token_bytes(32)
    cache.put(fp, claims(), "k1", cache.generation)
    assert len(cache) == 0
    cache.restart()
    cache.put(fp, claims(), "k1", cache.generation)
    cache.lost()
    assert cache.get(fp, 1_000) is None


def test_a_verdict_made_while_an_event_came_in_is_not_kept() -> None:
    cache = live_cache(Clock())
    fp = secrets.token_bytes(32)
    generation = cache.generation
    cache.apply(RevocationEvent.token(fp))  # revoked while the full check ran
    cache.put(fp, claims(), "k1", generation)
    assert cache.get(fp, 1_000) is None


def test_exp_is_checked_on_every_hit() -> None:
    cache = live_cache(Clock())
    fp = secrets.token_bytes(32)
    cache.put(fp, claims(exp=1_000), "k1", cache.generation)
    assert cache.get(fp, 999.9) is not None
    assert cache.get(fp, 1_000) is None


def test_nbf_is_checked_on_every_hit_with_the_leeway() -> None:
    """RFC 7519 §4.1.5: a wall clock stepped back must not run a verdict before its nbf."""
    cache = live_cache(Clock())
    fp = secrets.token_bytes(32)
    cache.put(fp, claims(nbf=500), "k1", cache.generation, leeway=30)
    assert cache.get(fp, 600) is not None
    assert cache.get(fp, 470) is not None  # within the leeway
    assert cache.get(fp, 469.9) is None
    assert len(cache) == 1  # kept: once the clock is past nbf again, it hits
    assert cache.get(fp, 600) is not None


@pytest.mark.parametrize(
    ("event", "dropped"),
    [
        (RevocationEvent.session("s1", "u1"), {"a", "b"}),
        (RevocationEvent.user("u2"), {"c"}),
        (RevocationEvent.signed_by("k2"), {"d"}),
        (EVERYTHING, {"a", "b", "c", "d"}),
    ],
)
def test_an_event_drops_exactly_what_it_names(event: RevocationEvent, dropped: set[str]) -> None:
    cache = live_cache(Clock())
    entries = {
        "a": (claims("u1", "s1"), "k1"),
        "b": (claims("u1", "s1"), "k1"),
        "c": (claims("u2", "s2"), "k1"),
        "d": (claims("u3", "s3"), "k2"),
    }
    fps = {name: secrets.token_bytes(32) for name in entries}
    for name, (c, kid) in entries.items():
        cache.put(fps[name], c, kid, cache.generation)
    cache.apply(event)
    gone = {name for name in entries if cache.get(fps[name], 1_000) is None}
    assert gone == dropped


_names = st.sampled_from(["a", "b", "c"])
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("put"), st.integers(0, 7), _names, _names, _names),
        st.tuples(st.just("token"), st.integers(0, 7)),
        st.tuples(st.sampled_from(["session", "user", "kid"]), _names),
    ),
    max_size=40,
)


@given(ops=_ops)
def test_events_drop_exactly_what_a_plain_model_says(ops: list[tuple[Any, ...]]) -> None:
    """Index bookkeeping (one fingerprint, or a set of them, per session/user/kid) against
    a model that scans every entry, with evictions (max_entries=5) in between."""
    cache = live_cache(Clock(), max_entries=5)
    fps = [bytes([n]) * 32 for n in range(8)]
    model: dict[bytes, tuple[str, str, str]] = {}  # fp -> (sid, sub, kid), in LRU order
    for op in ops:
        if op[0] == "put":
            _, n, sid, sub, kid = op
            fp = fps[int(n)]
            cache.put(fp, claims(sub=str(sub), sid=str(sid)), str(kid), cache.generation)
            if fp not in model:
                model[fp] = (str(sid), str(sub), str(kid))
                while len(model) > 5:
                    del model[next(iter(model))]
        elif op[0] == "token":
            fp = fps[int(op[1])]
            cache.apply(RevocationEvent.token(fp))
            model.pop(fp, None)
        else:
            kind, name = op[0], str(op[1])
            event = {"session": RevocationEvent.session(name, "nobody"),
                     "user": RevocationEvent.user(name),
                     "kid": RevocationEvent.signed_by(name)}[kind]  # fmt: skip
            position = {"session": 0, "user": 1, "kid": 2}[kind]
            model = {fp: k for fp, k in model.items() if k[position] != name}
            cache.apply(event)
        assert set(cache._entries) == set(model)  # read only: `get` would reorder the LRU
    assert len(cache) == len(model)


def test_bounded_by_entries_least_recently_used_first() -> None:
    cache = live_cache(Clock(), max_entries=2)
    a, b, c = (secrets.token_bytes(32) for _ in range(3))
    cache.put(a, claims(), "k", cache.generation)
    cache.put(b, claims(), "k", cache.generation)
    assert cache.get(a, 1_000) is not None  # a is now the most recent
    cache.put(c, claims(), "k", cache.generation)
    assert [cache.get(x, 1_000) is not None for x in (a, b, c)] == [True, False, True]


def test_bounded_by_memory() -> None:
    cache = live_cache(Clock(), max_bytes=5_000)
    for _ in range(100):
        cache.put(secrets.token_bytes(32), claims(), "k", cache.generation)
    assert cache.estimated_bytes <= 5_000
    assert 0 < len(cache) < 10


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"v":2,"type":"token","fp":"00"}', b'{"v":1,"type":"party"}',
     b'{"v":1,"type":"session","sid":"s"}', b'{"v":1,"type":"user","sub":7}', b"x" * 5000],
)  # fmt: skip
def test_an_unreadable_event_means_everything(raw: bytes) -> None:
    assert decode_event(raw) == EVERYTHING


def test_events_read_back() -> None:
    events = [RevocationEvent.token(b"\x01" * 32), RevocationEvent.session("s", "u"),
              RevocationEvent.user("u"), RevocationEvent.signed_by("k"), EVERYTHING]  # fmt: skip
    for event in events:
        assert decode_event(event.encode()) == event


def test_events_read_back_with_the_apps_they_name() -> None:
    events = [RevocationEvent.token(b"\x02" * 32, "web"),
              RevocationEvent.session("s", "u", ["web"]),
              RevocationEvent.user("u", ["web", "blog", "web"])]  # fmt: skip
    for event in events:
        assert decode_event(event.encode()) == event
    assert events[2].clients == ("blog", "web")  # distinct, sorted
    assert b'"clients":["blog","web"]' in events[2].encode()


@pytest.mark.parametrize("clients", [None, [], [None], ["web", None], ["web", ""]], ids=repr)
def test_an_app_not_known_names_no_apps(clients: list[str | None] | None) -> None:
    """Any app not known, and the event names none (the HTTPS stream's "everyone")."""
    event = RevocationEvent.user("u", clients)
    assert event.clients is None
    assert b"clients" not in event.encode()


@pytest.mark.parametrize("listed", ['"web"', "[7]", '["web",""]', "{}", "null"], ids=repr)
def test_malformed_apps_read_as_not_known_and_drop_the_same(listed: str) -> None:
    raw = '{"v":1,"type":"session","sid":"s","sub":"u","clients":' + listed + "}"
    assert decode_event(raw) == RevocationEvent.session("s", "u")


def test_too_many_apps_go_out_without_them() -> None:
    """An event never outgrows MAX_EVENT_BYTES (readers would take it for `all`)."""
    many = [f"client-{i:04d}-{'x' * 30}" for i in range(40)]
    raw = RevocationEvent.user("u", many).encode()
    assert decode_event(raw) == RevocationEvent.user("u")


def test_kid_and_all_events_name_no_apps() -> None:
    raw = '{"v":1,"type":"kid","kid":"k","clients":["web"]}'
    assert decode_event(raw) == RevocationEvent.signed_by("k")
