"""The JOSE wrapper against RFC test vectors (kept as data files) and its key rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jwtkeep.core.jose import SignatureInvalid, generate_key, load_key

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
