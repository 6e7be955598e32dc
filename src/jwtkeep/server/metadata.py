"""Discovery: RFC 8414 authorization server metadata and the RFC 7517 JWK Set.

- Every URL in the metadata is built from the configured issuer, never from the `Host`
  header (RFC 8414 §3.3: the issuer must match; a Host-derived URL could be poisoned).
- The JWKS publishes only public keys that verify (active and retiring; never HMAC, never
  a private member, `jwtkeep.core.keyring.KeyRing.jwks`). It is cacheable for five
  minutes with an ETag (conditional requests get 304): short enough that a key withdrawn
  by `jwtkeep keys compromised` leaves every cache quickly.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from jwtkeep.server.schemas import JwksBody, problems
from jwtkeep.server.state import RuntimeDep, StateDep
from jwtkeep.settings import Settings

__all__ = [
    "AUTH_METHODS",
    "INTROSPECTION_AUTH_METHODS",
    "JWKS_CACHE_CONTROL",
    "METADATA_CACHE_CONTROL",
    "build_metadata",
    "jwks",
    "metadata",
    "router",
]

JWKS_CACHE_CONTROL = "public, max-age=300"
METADATA_CACHE_CONTROL = "public, max-age=3600"
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
# RFC 7662 §2.1: introspection needs real client authentication; public clients have none.
INTROSPECTION_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
router = APIRouter(tags=["discovery"])


def build_metadata(settings: Settings) -> dict[str, Any]:
    """RFC 8414 §2 metadata. `response_types_supported` is required by §2 and is empty:
    there is no authorization endpoint (no redirect-based flows)."""
    issuer = settings.effective_issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "grant_types_supported": ["password", "refresh_token", "client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": INTROSPECTION_AUTH_METHODS,
    }


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        **problems(400),
    },
)
async def metadata(state: StateDep) -> JSONResponse:
    body = build_metadata(state.settings)
    return JSONResponse(body, headers={"Cache-Control": METADATA_CACHE_CONTROL})


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison; `*` matches any current representation."""
    if not if_none_match:
        return False
    candidates = [c.strip().removeprefix("W/") for c in if_none_match.split(",")]
    return "*" in candidates or etag in candidates


@router.get(
    "/.well-known/jwks.json",
    summary="The public signing keys (RFC 7517 JWK Set)",
    response_model=JwksBody,
    responses={304: {"description": "not modified (If-None-Match)"}, **problems(400, 503)},
)
async def jwks(request: Request, runtime: RuntimeDep) -> Response:
    keys = (await runtime.context.keys.ring()).jwks()
    body = json.dumps(keys, sort_keys=True, separators=(",", ":")).encode()
    etag = _etag(body)
    headers = {"Cache-Control": JWKS_CACHE_CONTROL, "ETag": etag}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
