"""Private keys sealed at rest with AES-256-GCM, bound to their kid."""

from __future__ import annotations

import base64

import pytest

from jwtkeep.core.sealing import Sealer, SealError, parse_master_key

MASTER = bytes(range(32))


def test_round_trip() -> None:
    sealer = Sealer(MASTER)
    assert sealer.unseal(sealer.seal(b"private jwk", "kid-1"), "kid-1") == b"private jwk"


def test_sealed_blob_does_not_contain_the_plaintext() -> None:
    assert b"private jwk" not in Sealer(MASTER).seal(b"private jwk", "kid-1")


def test_nonces_differ_between_seals() -> None:
    sealer = Sealer(MASTER)
    assert sealer.seal(b"x", "k") != sealer.seal(b"x", "k")


def test_wrong_master_key_fails() -> None:
    blob = Sealer(MASTER).seal(b"secret", "kid-1")
    with pytest.raises(SealError):
        Sealer(bytes(32)).unseal(blob, "kid-1")


def test_blob_moved_to_another_kid_fails() -> None:
    blob = Sealer(MASTER).seal(b"secret", "kid-1")
    with pytest.raises(SealError):
        Sealer(MASTER).unseal(blob, "kid-2")


def test_tampering_fails() -> None:
    blob = bytearray(Sealer(MASTER).seal(b"secret", "kid-1"))
    blob[-1] ^= 1
    with pytest.raises(SealError):
        Sealer(MASTER).unseal(bytes(blob), "kid-1")
    with pytest.raises(SealError, match="format"):
        Sealer(MASTER).unseal(b"xx" + bytes(blob), "kid-1")


def test_master_key_parsing() -> None:
    text = base64.urlsafe_b64encode(MASTER).decode().rstrip("=")
    assert parse_master_key(text) == MASTER
    assert parse_master_key(text + "\n") == MASTER
    with pytest.raises(ValueError, match="32 bytes"):
        parse_master_key(base64.urlsafe_b64encode(b"short").decode())
    with pytest.raises(ValueError, match="base64url"):
        parse_master_key("!!!not base64!!!")
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer(b"short")


NEW = bytes(range(32, 64))


def test_a_previous_master_key_unseals_but_never_seals() -> None:
    old_blob = Sealer(MASTER).seal(b"secret", "kid-1")
    switching = Sealer(NEW, previous=(MASTER,))
    assert switching.unseal(old_blob, "kid-1") == b"secret"
    new_blob = switching.seal(b"secret", "kid-1")
    with pytest.raises(SealError):
        Sealer(MASTER).unseal(new_blob, "kid-1")  # sealed under the new key only
    assert Sealer(NEW).unseal(new_blob, "kid-1") == b"secret"


def test_reseal_rewrites_under_the_current_key_once() -> None:
    old_blob = Sealer(MASTER).seal(b"secret", "kid-1")
    switching = Sealer(NEW, previous=(MASTER,))
    resealed = switching.reseal(old_blob, "kid-1")
    assert resealed is not None
    assert Sealer(NEW).unseal(resealed, "kid-1") == b"secret"
    assert switching.reseal(resealed, "kid-1") is None  # already under the current key
    with pytest.raises(SealError):
        switching.reseal(old_blob, "kid-2")  # the kid binding holds for the old key too


def test_neither_master_key_fails() -> None:
    blob = Sealer(bytes(32)).seal(b"secret", "kid-1")
    with pytest.raises(SealError, match="wrong master key"):
        Sealer(NEW, previous=(MASTER,)).unseal(blob, "kid-1")
