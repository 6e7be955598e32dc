"""Key ring: which key signs, which verify, what the JWKS publishes (RFC 7517 §5)."""

from __future__ import annotations

import pytest

from jwtkeep.core.keyring import KeyRing, KeyStatus, RingKey, signing_kid
from jwtkeep.errors import NoSigningKey
from tests.core.helpers import new_key

NOW = 100.0


def ring_key(kid: str, status: KeyStatus, created: float, alg: str = "EdDSA") -> RingKey:
    return RingKey(kid=kid, alg=alg, status=status, created_at=created, key=new_key(alg, kid))


def test_newest_active_key_signs() -> None:
    ring = KeyRing([ring_key("new", KeyStatus.ACTIVE, 2), ring_key("old", KeyStatus.ACTIVE, 1)])
    assert ring.signer(NOW).kid == "new"


def test_no_active_key_means_no_signer() -> None:
    ring = KeyRing([ring_key("old", KeyStatus.RETIRING, 1)])
    with pytest.raises(NoSigningKey, match=r"no active signing key: run `jwtkeep keys rotate`"):
        ring.signer(NOW)


@pytest.mark.parametrize(
    ("status", "verifies"),
    [
        (KeyStatus.ACTIVE, True),
        (KeyStatus.RETIRING, True),
        (KeyStatus.RETIRED, False),
        (KeyStatus.COMPROMISED, False),
    ],
)
def test_verification_and_publication_follow_the_status(status: KeyStatus, verifies: bool) -> None:
    ring = KeyRing([ring_key("k", status, 1)])
    assert (ring.verifier("k") is not None) is verifies
    assert [k["kid"] for k in ring.jwks()["keys"]] == (["k"] if verifies else [])


def test_withdrawn_key_without_material_is_listed_but_never_used() -> None:
    ring = KeyRing([RingKey("gone", "EdDSA", KeyStatus.ACTIVE, 1, key=None)])
    assert ring.verifier("gone") is None
    assert [k.kid for k in ring.keys] == ["gone"]
    with pytest.raises(NoSigningKey, match="no active signing key"):
        ring.signer(NOW)


def test_jwks_never_publishes_hmac_keys() -> None:
    ring = KeyRing(
        [ring_key("h", KeyStatus.ACTIVE, 1, "HS256"), ring_key("e", KeyStatus.ACTIVE, 2)]
    )
    assert [k["kid"] for k in ring.jwks()["keys"]] == ["e"]
    assert ring.verifier("h") is not None


def test_the_next_key_is_published_and_verifies_before_it_signs() -> None:
    current = ring_key("current", KeyStatus.ACTIVE, 1)
    upcoming = RingKey("next", "EdDSA", KeyStatus.ACTIVE, 2, key=new_key("EdDSA", "next"),
                       activates_at=NOW + 300)  # fmt: skip
    ring = KeyRing([current, upcoming])
    assert ring.signer(NOW).kid == "current"
    assert ring.signer(NOW + 299.5).kid == "current"
    assert ring.signer(NOW + 300).kid == "next"  # every replica, same clock, same answer
    assert {k["kid"] for k in ring.jwks()["keys"]} == {"current", "next"}
    assert ring.verifier("next") is not None


def test_a_promoted_key_signs_over_an_older_one_activated_at_the_same_instant() -> None:
    old = RingKey("old", "EdDSA", KeyStatus.ACTIVE, 1, key=new_key("EdDSA", "old"),
                  activates_at=NOW)  # fmt: skip
    new = RingKey("new", "EdDSA", KeyStatus.ACTIVE, 2, key=new_key("EdDSA", "new"),
                  activates_at=NOW)  # fmt: skip
    assert KeyRing([new, old]).signer(NOW).kid == "new"
    assert signing_kid([new, old], NOW - 1) is None
