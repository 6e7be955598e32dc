"""The JOSE wrapper against RFC test vectors (kept as data files) and its key rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from jwtkeep.core.jose import SignatureInvalid, generate_key, load_key, load_private_pem
from jwtkeep.errors import UnusableKey

VECTORS = json.loads((Path(__file__).parent / "vectors" / "rfc_jws_vectors.json").read_text())


@pytest.mark.parametrize("vector", VECTORS, ids=[v["source"] for v in VECTORS])
def test_rfc_vectors_verify(vector: dict[str, Any]) -> None:
    key = load_key(vector["alg"], "rfc", vector["jwk"])
    assert key.verify(vector["jws"]).decode() == vector["payload"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["source"] for v in VECTORS])
def test_rfc_vectors_fail_with_one_changed_payload_byte(vector: dict[str, Any]) -> None:
    key = load_key(vector["alg"], "rfc", vector["jwk"])
    head, body, sig = vector["jws"].split(".")
    tampered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(SignatureInvalid):
        key.verify(f"{head}.{tampered}.{sig}")


def test_an_rfc_vector_does_not_verify_under_another_algorithm() -> None:
    ed = next(v for v in VECTORS if v["alg"] == "EdDSA")
    es = next(v for v in VECTORS if v["alg"] == "ES256")
    with pytest.raises(SignatureInvalid):
        load_key("ES256", "x", es["jwk"]).verify(ed["jws"])


def test_public_jwk_has_no_private_members() -> None:
    for alg in ("EdDSA", "ES256", "RS256"):
        public = generate_key(alg, "k").public_jwk()
        assert {"d", "p", "q", "dp", "dq", "qi", "k"}.isdisjoint(public)
        assert (public["kid"], public["alg"], public["use"]) == ("k", alg, "sig")


def test_hmac_key_has_no_public_form_and_needs_32_bytes() -> None:
    with pytest.raises(ValueError, match="32"):
        generate_key("HS256", "h", b"short")
    key = generate_key("HS256", "h", b"x" * 32)
    with pytest.raises(ValueError, match="public"):
        key.public_jwk()


def test_private_jwk_round_trips_through_load_key() -> None:
    key = generate_key("EdDSA", "k")
    again = load_key("EdDSA", "k", key.private_jwk())
    assert again.is_private
    assert key.verify(again.sign({"typ": "at+jwt"}, b"{}")) == b"{}"


@pytest.mark.parametrize(
    ("alg", "jwk", "reason"),
    [
        (
            "EdDSA",
            {"kty": "OKP", "crv": "X25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            "EdDSA keys must be Ed25519",
        ),
        (
            "ES256",
            {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            "ES256 keys must be P-256",
        ),
        ("XS999", {"kty": "oct", "k": "AA"}, "unusable XS999 key"),
    ],
)
def test_load_key_refuses_a_key_of_the_wrong_type(
    alg: str, jwk: dict[str, str], reason: str
) -> None:
    # load_key's contract: ValueError (one error for callers reading a JWKS), with the reason.
    with pytest.raises(ValueError, match=reason):
        load_key(alg, "k", jwk)


def _pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL
        if isinstance(key, rsa.RSAPrivateKey) else serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("alg", "key"),
    [
        ("EdDSA", ed25519.Ed25519PrivateKey.generate()),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
        ("PS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ],
)
def test_an_imported_pem_key_signs_and_its_public_jwk_verifies(
    alg: str, key: PrivateKeyTypes
) -> None:
    imported = load_private_pem(_pem(key), alg, "kms-1")
    assert imported.is_private
    token = imported.sign({"typ": "at+jwt"}, b"{}")
    public = load_key(alg, "kms-1", imported.public_jwk())
    assert public.verify(token) == b"{}"


def test_an_encrypted_pem_is_refused_without_quoting_it() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    encrypted = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )  # fmt: skip
    with pytest.raises(UnusableKey, match="not an unencrypted PEM private key") as refused:
        load_private_pem(encrypted, "EdDSA", "k")
    assert "BEGIN" not in str(refused.value)


def test_hs256_never_imports_a_pem() -> None:
    with pytest.raises(UnusableKey, match="an HMAC key cannot be imported"):
        load_private_pem(_pem(ed25519.Ed25519PrivateKey.generate()), "HS256", "k")
