"""RFC 8414 metadata and the JWKS."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from authlib.oidc import rpinitiated as rp_initiated
from authlib.oidc.discovery import OpenIDProviderMetadata
from fastapi import FastAPI
from fastapi.routing import APIRoute

from jwtkeep.runtime import Runtime
from jwtkeep.usecases.registration import CreatedApp
from tests.server.conftest import ISSUER

PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}  # RFC 7518 §6.2.2, §6.3.2, §6.4
ENDPOINT_METHODS = {
    "authorization_endpoint": "GET",
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
        "authorization_code",
        "password",
        "refresh_token",
        "client_credentials",
    }
    # The code flow only, PKCE with S256 only, `iss` in the response (RFC 9700, RFC 9207).
    assert metadata["response_types_supported"] == ["code"]
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]


async def test_openid_configuration_beside_the_rfc_8414_metadata(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """OIDC Discovery 1.0 §3, checked by Authlib's own validators (RP-Initiated Logout's
    too); the same members as RFC 8414 plus the OIDC ones; end_session is a real route.

    One rule is not met on purpose: Discovery §3 wants RS256 among the ID token
    algorithms, and jwtkeep signs ID tokens with its one configured key algorithm (EdDSA
    by default; JWTKEEP_SIGNING_ALG=RS256 for a client that knows only RS256)."""
    oidc = (await client.get("/.well-known/openid-configuration")).json()
    rfc8414 = (await client.get("/.well-known/oauth-authorization-server")).json()
    checked = OpenIDProviderMetadata(oidc)
    for key in checked.REGISTRY_KEYS:
        if key != "id_token_signing_alg_values_supported":
            getattr(checked, f"validate_{key}")()
    rp_initiated.OpenIDProviderMetadata(oidc).validate_end_session_endpoint()
    assert {k: oidc[k] for k in rfc8414} == rfc8414
    assert oidc["id_token_signing_alg_values_supported"] == ["EdDSA"]
    assert oidc["subject_types_supported"] == ["public"]
    routes = {(r.path, method) for r in api_routes(app) for method in r.methods or ()}
    end_session = urlsplit(oidc["end_session_endpoint"])
    assert f"{end_session.scheme}://{end_session.netloc}" == ISSUER
    assert (end_session.path, "GET") in routes
    assert (end_session.path, "POST") in routes


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
