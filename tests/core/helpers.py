"""Token minting for core tests: honest tokens, and hand-crafted evil ones."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from typing import Any

from jwtkeep.core.claims import AccessClaims, ClaimRules
from jwtkeep.core.compact import b64url_encode
from jwtkeep.core.jose import JoseKey, generate_key
from jwtkeep.core.keyring import KeyRing, KeyStatus, RingKey

ISSUER = "https://auth.example.test"
AUDIENCE = "api.example.test"
NOW = 1_800_000_000
RULES = ClaimRules(issuer=ISSUER, audience=AUDIENCE, leeway=30, max_lifetime=3600)


def claims(**changes: Any) -> AccessClaims:
    base: dict[str, Any] = {
        "iss": ISSUER, "sub": str(uuid.UUID(int=42, version=4)), "aud": AUDIENCE,
        "exp": NOW + 300, "nbf": NOW, "iat": NOW, "jti": "j" * 22, "client_id": "client-1",
        "scope": "read write", "sid": "s" * 22,
    }  # fmt: skip
    base.update(changes)
    return AccessClaims(**base)


def payload(**changes: Any) -> dict[str, Any]:
    data = claims().to_payload()
    for name, value in changes.items():
        if value is ...:
            data.pop(name, None)
        else:
            data[name] = value
    return data


def ring_of(*keys: JoseKey, status: KeyStatus = KeyStatus.ACTIVE) -> KeyRing:
    return KeyRing(
        RingKey(kid=k.kid, alg=k.alg, status=status, created_at=i, key=k)
        for i, k in enumerate(keys)
    )


def new_key(alg: str = "EdDSA", kid: str = "key-1") -> JoseKey:
    secret = b"0123456789abcdef0123456789abcdef" if alg == "HS256" else None
    return generate_key(alg, kid, secret)


def segment(value: dict[str, Any] | bytes | str) -> str:
    if isinstance(value, dict):
        value = json.dumps(value, separators=(",", ":"))
    if isinstance(value, str):
        value = value.encode()
    return b64url_encode(value)


def sign_with(key: JoseKey, body: dict[str, Any] | bytes, **header: Any) -> str:
    """Honestly signed by `key`, with extra header members (possibly evil ones)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return key.sign({"typ": "at+jwt", **header}, raw)


def hmac_forge(secret: bytes, header: dict[str, Any], body: dict[str, Any]) -> str:
    """An HS256 token made by an attacker who picked the secret (key confusion)."""
    signing_input = f"{segment(header)}.{segment(body)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url_encode(mac)}"
