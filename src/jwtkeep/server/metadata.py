"""Discovery: RFC 8414 authorization server metadata, OpenID Connect Discovery 1.0 §3
(`/.well-known/openid-configuration`, the same members plus the OIDC ones) and the
RFC 7517 JWK Set.

- Every URL in the metadata is built from the configured issuer, never from the `Host`
  header (RFC 8414 §3.3: the issuer must match; a Host-derived URL could be poisoned).
- The JWKS publishes only public keys that verify (active and retiring; never HMAC, never
  a private member, `jwtkeep.core.keyring.KeyRing.jwks`). It is cacheable for five
  minutes with an ETag (conditional requests get 304): short enough that a key withdrawn
  by `jwtkeep keys compromised` leaves every cache quickly. The next signing key is in
  it (an active key whose time has not come) well before it signs, so a verifier that
  honours `max-age` never meets an unknown `kid` (`jwtkeep.usecases.key_schedule`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from jwtkeep.core.keyring import JWKS_MAX_AGE
from jwtkeep.core.scopes import ACCOUNT_SCOPES
from jwtkeep.server.schemas import JwksBody, problems
from jwtkeep.server.state import RuntimeDep
from jwtkeep.settings import Settings

__all__ = [
    "AUTH_METHODS",
    "CODE_CHALLENGE_METHODS",
    "GRANT_TYPES",
    "INTROSPECTION_AUTH_METHODS",
    "JWKS_CACHE_CONTROL",
    "METADATA_CACHE_CONTROL",
    "RESPONSE_TYPES",
    "SERVER_SCOPES",
    "build_metadata",
    "build_openid_configuration",
    "jwks",
    "metadata",
    "openid_configuration",
    "router",
]

JWKS_CACHE_CONTROL = f"public, max-age={JWKS_MAX_AGE}"  # the key schedule counts on it
METADATA_CACHE_CONTROL = "public, max-age=3600"
# RFC 6749 §2.3.1 (Basic or the form) for confidential clients; `none` (RFC 7591 §2) for
# public clients, which send only their client_id.
AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
# RFC 7662 §2.1: introspection needs real client authentication; public clients have none.
INTROSPECTION_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
GRANT_TYPES = ["authorization_code", "refresh_token", "password", "client_credentials"]
# The code flow only (RFC 9700 §2.1.1: no implicit grant), PKCE with S256 only (§2.1.1).
RESPONSE_TYPES = ["code"]
CODE_CHALLENGE_METHODS = ["S256"]
# The scopes the server itself defines. Every other scope belongs to one app (`jwtkeep app
# create --scope`); publishing their union would show anyone the scope names of every app
# on the server, and RFC 8414 §2 lets a server "choose not to advertise some supported
# scope values". So only the server's own scopes are listed: `account` and `openid`, for
# its account API (DESIGN.md "Contract: tokens").
SERVER_SCOPES: list[str] = sorted(ACCOUNT_SCOPES)
router = APIRouter(tags=["discovery"])


def build_metadata(settings: Settings) -> dict[str, Any]:
    """RFC 8414 §2 metadata: only what the server implements; `iss` in every
    authorization response (RFC 9207 §3)."""
    issuer = settings.effective_issuer
    members: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/oauth/authorize",
        "token_endpoint": f"{issuer}/oauth/token",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "revocation_endpoint": f"{issuer}/oauth/revoke",
        "introspection_endpoint": f"{issuer}/oauth/introspect",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "scopes_supported": SERVER_SCOPES,
        "response_types_supported": RESPONSE_TYPES,
        "response_modes_supported": ["query"],
        "grant_types_supported": GRANT_TYPES,
        "code_challenge_methods_supported": CODE_CHALLENGE_METHODS,
        "authorization_response_iss_parameter_supported": True,
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": INTROSPECTION_AUTH_METHODS,
    }
    # RFC 8414 §3.2: "Claims with zero elements MUST be omitted from the response."
    return {name: value for name, value in members.items() if value != []}


def build_openid_configuration(settings: Settings) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §3: the RFC 8414 members plus the OIDC ones."""
    issuer = settings.effective_issuer
    return {
        **build_metadata(settings),
        "end_session_endpoint": f"{issuer}/logout",  # OIDC RP-Initiated Logout 1.0 §2.1
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [settings.signing_alg],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid",
                             "at_hash", "preferred_username"],
        "prompt_values_supported": ["none", "login", "consent"],
    }  # fmt: skip


@router.get(
    "/.well-known/openid-configuration",
    summary="OpenID Connect discovery (OIDC Discovery 1.0 §4)",
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        **problems(400, 503),
    },
)
async def openid_configuration(runtime: RuntimeDep) -> JSONResponse:
    body = build_openid_configuration(runtime.settings)
    return JSONResponse(body, headers={"Cache-Control": METADATA_CACHE_CONTROL})


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="Authorization server metadata (RFC 8414)",
    responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}}},
        **problems(400, 503),
    },
)
async def metadata(runtime: RuntimeDep) -> JSONResponse:
    body = build_metadata(runtime.settings)
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


# RFC 9110 §9.3.2: HEAD wherever GET (caches and monitors probe with it); the same
# handler, left out of the OpenAPI document (it would repeat the GET operation).
for _path, _handler in (
    ("/.well-known/oauth-authorization-server", metadata),
    ("/.well-known/jwks.json", jwks),
):
    router.add_api_route(_path, _handler, methods=["HEAD"], include_in_schema=False)
