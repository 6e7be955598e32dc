"""RFC 8414 metadata and the JWKS."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from fastapi import FastAPI
from fastapi.routing import APIRoute

from jwtkeep.runtime import Runtime
from jwtkeep.usecases.registration import CreatedApp
from tests.server.conftest import ISSUER

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}  # RFC 7518 §6.2.2, §6.3.2, §6.4
ENDPOINT_METHODS = {
    "token_endpoint": "POST",
    "revocation_endpoint": "POST",
    "introspection_endpoint": "POST",
    "jwks_uri": "GET",
    "userinfo_endpoint": "GET",
}


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every APIRoute, through FastAPI's included-router wrappers (no prefixes here)."""
    found: list[APIRoute] = []
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            pending.extend(route.original_router.routes)
    return found


async def test_metadata_matches_the_routes(client: httpx.AsyncClient, app: FastAPI) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    metadata = response.json()
    assert metadata["issuer"] == ISSUER
    routes = {(r.path, method) for r in api_routes(app) for method in r.methods or ()}
    assert len(routes) >= 13  # /metrics moved to the metrics listener
    for field, method in ENDPOINT_METHODS.items():
        url = urlsplit(metadata[field])
        assert f"{url.scheme}://{url.netloc}" == ISSUER, field
        assert (url.path, method) in routes, field
    assert set(metadata["grant_types_supported"]) == {
        "password",
        "refresh_token",
        "client_credentials",
    }
    # No authorization endpoint yet: the one true response type (see server/metadata.py).
    assert metadata["response_types_supported"] == ["none"]
    assert "authorization_endpoint" not in metadata
    assert "code_challenge_methods_supported" not in metadata  # no PKCE without it
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]


async def test_metadata_passes_authlibs_rfc_8414_validator(client: httpx.AsyncClient) -> None:
    metadata = (await client.get("/.well-known/oauth-authorization-server")).json()
    AuthorizationServerMetadata(metadata).validate()  # raises ValueError naming the member
    # RFC 8414 §3.2: "Claims with zero elements MUST be omitted from the response."
    assert all(value != [] for value in metadata.values())
    # Public clients authenticate with `none` at the token and revocation endpoints, never
    # at introspection (RFC 7662 §2.1).
    assert metadata["revocation_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "client_secret_post",
        "none",
    ]
    assert "none" not in metadata["introspection_endpoint_auth_methods_supported"]
    # Only the server's own scopes are published (no inventory of every app's scopes).
    assert metadata["scopes_supported"] == ["account", "openid"]


async def test_metadata_does_not_show_the_apps_scopes(
    client: httpx.AsyncClient, web_app: CreatedApp
) -> None:
    assert set(web_app.app.scopes) == {"read", "write"}
    text = (await client.get("/.well-known/oauth-authorization-server")).text
    assert '"read"' not in text
    assert '"write"' not in text


async def test_metadata_ignores_the_host_header(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/.well-known/oauth-authorization-server",
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    assert "evil" not in response.text
    assert response.json()["token_endpoint"] == f"{ISSUER}/oauth/token"


async def test_jwks_has_public_keys_only(client: httpx.AsyncClient, runtime: Runtime) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    keys = response.json()["keys"]
    ring = await runtime.context.keys.ring()
    assert {k["kid"] for k in keys} == {k.kid for k in ring.keys if k.verifies}
    for key in keys:
        assert not PRIVATE_JWK_MEMBERS & set(key), key["kid"]
        assert key["kty"] == "OKP"
        assert key["alg"] == "EdDSA"


async def test_jwks_etag_and_conditional_get(client: httpx.AsyncClient, runtime: Runtime) -> None:
    first = await client.get("/.well-known/jwks.json")
    etag = first.headers["etag"]
    cached = await client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == etag
    assert cached.headers["cache-control"] == "public, max-age=300"
    weak = await client.get("/.well-known/jwks.json", headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304

    await runtime.context.keys.rotate()
    rotated = await client.get("/.well-known/jwks.json", headers={"If-None-Match": etag})
    assert rotated.status_code == 200
    assert rotated.headers["etag"] != etag
    assert len(rotated.json()["keys"]) == 2


async def test_compromised_key_leaves_the_jwks(client: httpx.AsyncClient, runtime: Runtime) -> None:
    kid = (await client.get("/.well-known/jwks.json")).json()["keys"][0]["kid"]
    await runtime.context.keys.compromised(kid)
    kids = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}
    assert kid not in kids
    assert len(kids) == 1


async def test_openapi_documents_every_route(client: httpx.AsyncClient, app: FastAPI) -> None:
    schema = (await client.get("/openapi.json")).json()
    routes = api_routes(app)
    assert len(routes) >= 13  # /metrics moved to the metrics listener
    for route in routes:
        if not route.include_in_schema:  # HEAD twins of GET routes (RFC 9110 §9.3.2)
            assert route.methods == {"HEAD"}
            continue
        for method in route.methods or ():
            operation = schema["paths"][route.path][method.lower()]
            assert "422" not in operation["responses"]
            assert {"400"} <= set(operation["responses"])
    assert (await client.get("/docs")).status_code == 404


@pytest.mark.parametrize(
    "path", ["/healthz", "/readyz", "/.well-known/oauth-authorization-server",
             "/.well-known/jwks.json"],
)  # fmt: skip
async def test_head_works_wherever_get_does(client: httpx.AsyncClient, path: str) -> None:
    """RFC 9110 §9.3.2: HEAD is GET without the body (load balancers and monitors probe
    with it); the same status and headers."""
    get, head = await client.get(path), await client.head(path)
    assert get.status_code == 200
    assert head.status_code == 200
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers.get("cache-control") == get.headers.get("cache-control")
