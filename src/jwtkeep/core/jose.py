"""The one module that talks to the JOSE library (joserfc).

Everything else in jwtkeep sees `JoseKey` and plain dicts, so the library can be swapped
without touching policy. Policy lives elsewhere (`compact.py`, `access_token.py`); this
module only signs, verifies a signature with a key chosen by the caller, and generates or
loads keys.

RFC 8725 §3.1: the algorithm used to verify is the key's own, passed to the library as the
only allowed algorithm, so a token header can never pick it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwa import JWSAlgModel
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from jwtkeep.core.hmac_secret import MIN_HMAC_SECRET_BYTES
from jwtkeep.errors import InvalidValue, TokenError, UnusableKey

__all__ = [
    "ASYMMETRIC_ALGS",
    "MIN_HMAC_SECRET_BYTES",
    "MIN_IMPORTED_RSA_BITS",
    "RSA_BITS",
    "JoseKey",
    "SignatureInvalid",
    "generate_key",
    "load_key",
    "load_private_pem",
]

ASYMMETRIC_ALGS = ("EdDSA", "ES256", "PS256", "RS256")
RSA_BITS = 3072  # NIST SP 800-57: 128-bit security
MIN_IMPORTED_RSA_BITS = 2048  # RFC 7518 §3.3 and §3.5: 2048 bits or larger

_AnyKey = OKPKey | ECKey | RSAKey | OctKey

# joserfc warns that "EdDSA" is deprecated by RFC 9864 in favour of "Ed25519". We emit
# EdDSA on purpose (DESIGN.md: the name every common verifier knows), so we silence that
# one warning around our own calls instead of globally.
_EDDSA_WARNING = ".*EdDSA.*"


class SignatureInvalid(TokenError):
    """The JOSE library refused the signature (or the serialization)."""


@dataclass(frozen=True)
class JoseKey:
    """A signing or verification key bound to exactly one algorithm."""

    kid: str
    alg: str
    _key: _AnyKey
    _registry: JWSRegistry
    _alg_model: JWSAlgModel  # resolved once: looking it up warns (and that is slow)

    @property
    def is_private(self) -> bool:
        return bool(self._key.is_private)

    def private_jwk(self) -> dict[str, Any]:
        """The private JWK, for sealing at rest only (never logged, never served)."""
        data: dict[str, Any] = dict(self._key.as_dict(private=True))
        return data

    def public_jwk(self) -> dict[str, Any]:
        """RFC 7517 public JWK with `kid`, `alg` and `use: sig`. Never for HMAC keys."""
        if self.alg == "HS256":
            raise InvalidValue("an HMAC key has no public form")
        data: dict[str, Any] = dict(self._key.as_dict(private=False))
        data.update({"kid": self.kid, "alg": self.alg, "use": "sig"})
        return data

    def sign(self, header: dict[str, Any], payload: bytes) -> str:
        protected = {**header, "alg": self.alg, "kid": self.kid}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_EDDSA_WARNING)
            return jws.serialize_compact(
                protected, payload, self._key, algorithms=[self.alg], registry=self._registry
            )

    def verify_signature(self, signing_input: bytes, signature: bytes) -> None:
        """Check a JWS signature (RFC 7515 §5.2 step 8) with this key's algorithm only.

        The hot path: the caller has already parsed and vetted the compact form, so this
        goes straight to joserfc's algorithm (which also converts ECDSA's raw r||s)."""
        try:
            ok = self._alg_model.verify(signing_input, signature, self._key)
        except (JoseError, ValueError, TypeError) as exc:
            raise SignatureInvalid(type(exc).__name__) from None
        if not ok:
            raise SignatureInvalid("BadSignatureError")

    def verify(self, token: str) -> bytes:
        """Verify the compact JWS with this key and its algorithm only; return the payload."""
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_EDDSA_WARNING)
                result = jws.deserialize_compact(
                    token, self._key, algorithms=[self.alg], registry=self._registry
                )
        except (JoseError, ValueError, TypeError) as exc:
            raise SignatureInvalid(type(exc).__name__) from None
        return bytes(result.payload)


def _bind(kid: str, alg: str, key: _AnyKey) -> JoseKey:
    # Only our own header names are "supported"; `crit` naming anything is refused by
    # joserfc (RFC 7515 §4.1.11) and by our own header policy before it.
    registry = JWSRegistry(algorithms=[alg], strict_check_header=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_EDDSA_WARNING)
        model = registry.get_alg(alg)
    return JoseKey(kid=kid, alg=alg, _key=key, _registry=registry, _alg_model=model)


def generate_key(alg: str, kid: str, hmac_secret: bytes | None = None) -> JoseKey:
    """A fresh private key for `alg` (Ed25519 for EdDSA, P-256, RSA-3072, or HMAC)."""
    key: _AnyKey
    if alg == "EdDSA":
        key = OKPKey.generate_key("Ed25519")
    elif alg == "ES256":
        key = ECKey.generate_key("P-256")
    elif alg in ("PS256", "RS256"):
        key = RSAKey.generate_key(RSA_BITS)
    elif alg == "HS256":
        if hmac_secret is None or len(hmac_secret) < MIN_HMAC_SECRET_BYTES:
            raise InvalidValue("HS256 needs a secret of at least 32 random bytes")
        key = OctKey.import_key(hmac_secret)
    else:
        raise InvalidValue(f"unsupported algorithm {alg!r}")
    return _bind(kid, alg, key)


def load_key(alg: str, kid: str, jwk: dict[str, Any]) -> JoseKey:
    """Load a private or public JWK, checking its type matches `alg`.

    Raises InvalidValue (a ValueError) for anything unusable (wrong type, curve, missing
    members), so callers that read keys from outside (a JWKS) have one error to handle."""
    material = {k: v for k, v in jwk.items() if k not in ("kid", "alg", "use", "key_ops")}
    if alg == "EdDSA" and material.get("crv") != "Ed25519":
        raise InvalidValue("EdDSA keys must be Ed25519")
    if alg == "ES256" and material.get("crv") != "P-256":
        raise InvalidValue("ES256 keys must be P-256")
    try:
        key = _import_key(alg, json.loads(json.dumps(material)))
    except (JoseError, KeyError, TypeError, ValueError) as exc:
        raise InvalidValue(f"unusable {alg} key: {type(exc).__name__}") from None
    return _bind(kid, alg, key)


def _import_key(alg: str, data: dict[str, Any]) -> _AnyKey:
    if alg == "EdDSA":
        return OKPKey.import_key(data)
    if alg == "ES256":
        return ECKey.import_key(data)
    if alg in ("PS256", "RS256"):
        return RSAKey.import_key(data)
    if alg == "HS256":
        return OctKey.import_key(data)
    raise InvalidValue(f"unsupported algorithm {alg!r}")


def load_private_pem(pem: bytes, alg: str, kid: str) -> JoseKey:
    """An unencrypted PEM private key brought from outside (a KMS, an HSM export), checked
    to be the key type `alg` needs (RFC 8725 §3.1: the algorithm belongs to the key):
    Ed25519 for EdDSA, P-256 for ES256 (RFC 7518 §3.4), RSA of at least 2048 bits for
    RS256/PS256 (RFC 7518 §3.3, §3.5). Anything else is `UnusableKey`, one line, which
    never quotes the key."""
    try:
        private = serialization.load_pem_private_key(pem, password=None)
    except (TypeError, ValueError):
        raise UnusableKey(
            "not an unencrypted PEM private key (PKCS#8 or traditional); "
            "a public key or an encrypted one cannot be imported"
        ) from None
    _check_type(private, alg)
    der = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )  # fmt: skip
    key: _AnyKey
    if alg == "EdDSA":
        key = OKPKey.import_key(der)
    elif alg == "ES256":
        key = ECKey.import_key(der)
    else:
        key = RSAKey.import_key(der)
    return _bind(kid, alg, key)


def _check_type(private: object, alg: str) -> None:
    if alg == "EdDSA" and isinstance(private, ed25519.Ed25519PrivateKey):
        return
    if alg == "ES256" and isinstance(private, ec.EllipticCurvePrivateKey):
        if isinstance(private.curve, ec.SECP256R1):
            return
        raise UnusableKey(f"ES256 needs a P-256 key, this one is on {private.curve.name}")
    if alg in ("PS256", "RS256") and isinstance(private, rsa.RSAPrivateKey):
        if private.key_size >= MIN_IMPORTED_RSA_BITS:
            return
        raise UnusableKey(
            f"RSA key of {private.key_size} bits is too weak: at least "
            f"{MIN_IMPORTED_RSA_BITS} bits (RFC 7518 §3.3)"
        )
    if alg == "HS256":
        raise UnusableKey("JWTKEEP_SIGNING_ALG is HS256: an HMAC key cannot be imported")
    raise UnusableKey(f"{_kind(private)} cannot sign {alg} (JWTKEEP_SIGNING_ALG)")


def _kind(private: object) -> str:
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return "an Ed25519 key"
    if isinstance(private, ec.EllipticCurvePrivateKey):
        return f"an EC {private.curve.name} key"
    if isinstance(private, rsa.RSAPrivateKey):
        return "an RSA key"
    return "this key type"
