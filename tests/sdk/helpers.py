"""Test doubles of the PORTS (not of Redis): a JWKS endpoint behind httpx.MockTransport
built from real public JWKs, and an AllowlistCheck over a Python set of fingerprints."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from jwtkeep.core.access_token import issue_access_token
from jwtkeep.core.claims import AccessClaims
from jwtkeep.core.clock import FixedClock
from jwtkeep.core.fingerprint import Fingerprint, fingerprint
from jwtkeep.core.jose import JoseKey, generate_key
from jwtkeep.errors import StoreUnavailable

ISSUER = "https://auth.example.test"
AUDIENCE = "orders-api"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"


def new_jti() -> str:
    return secrets.token_urlsafe(16)  # 22 characters, 128 bits


@dataclass
class JwksEndpoint:
    """Serves the public JWKs of `keys`; counts requests; can fail or hold responses."""

    keys: list[JoseKey]
    cache_control: str | None = "max-age=300"
    status: int = 200
    raw_body: bytes | None = None
    extra_jwks: list[dict[str, Any]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    raise_error: bool = False
    requests: int = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        assert request.method == "GET"
        assert str(request.url) == JWKS_URL
        if self.gate is not None:
            await self.gate.wait()
        if self.raise_error:
            raise httpx.ConnectError("connection refused", request=request)
        headers = {"Cache-Control": self.cache_control} if self.cache_control else {}
        body = self.raw_body
        if body is None:
            jwks = [k.public_jwk() for k in self.keys] + self.extra_jwks
            body = json.dumps({"keys": jwks}).encode()
        headers["Content-Type"] = "application/json"
        return httpx.Response(self.status, content=body, headers=headers)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


class SetAllowlist:
    """AllowlistCheck over a set of fingerprints (a double of the port, not of a store)."""

    def __init__(self) -> None:
        self.fingerprints: set[Fingerprint] = set()
        self.unavailable = False
        self.calls = 0

    def add(self, token: str) -> None:
        self.fingerprints.add(fingerprint(token))

    def revoke(self, token: str) -> None:
        self.fingerprints.discard(fingerprint(token))

    async def allows(self, token: str, claims: AccessClaims, now: float) -> bool:
        self.calls += 1
        if self.unavailable:
            raise StoreUnavailable("test: store down")
        return fingerprint(token) in self.fingerprints


@dataclass
class Minter:
    """Issues real tokens with the core and (by default) allowlists them."""

    key: JoseKey
    clock: FixedClock
    allowlist: SetAllowlist
    issued: list[AccessClaims] = field(default_factory=list)

    def claims(self, scope: str = "orders:read", **overrides: Any) -> AccessClaims:
        now = int(self.clock())
        values: dict[str, Any] = {
            "iss": ISSUER, "sub": str(uuid.uuid4()), "aud": AUDIENCE, "exp": now + 300,
            "nbf": now, "iat": now, "jti": new_jti(), "client_id": "web-app",
            "scope": scope, "sid": new_jti(),
        }  # fmt: skip
        values.update(overrides)
        return AccessClaims(**values)

    def token(
        self,
        scope: str = "orders:read",
        *,
        key: JoseKey | None = None,
        allowlisted: bool = True,
        **overrides: Any,
    ) -> str:
        claims = self.claims(scope, **overrides)
        token = issue_access_token(claims, key or self.key)
        self.issued.append(claims)
        if allowlisted:
            self.allowlist.add(token)
        return token


def jti_of(minter: Minter, index: int = -1) -> str:
    return minter.issued[index].jti


def other_key(kid: str = "kid-1") -> JoseKey:
    """A key the issuer never published (e.g. an attacker's, reusing a real kid)."""
    return generate_key("EdDSA", kid)
