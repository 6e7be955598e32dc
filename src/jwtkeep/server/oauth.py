"""The OAuth 2.0 endpoints: token (RFC 6749 §3.2), revocation (RFC 7009) and
introspection (RFC 7662). Each parses its form strictly (`jwtkeep.server.forms`),
authenticates the client and hands over to one use case.

- Grants: `authorization_code` (RFC 6749 §4.1.3 with PKCE, RFC 7636 §4.5), `refresh_token`,
  `password` and `client_credentials`; a client may use only the grants it was given
  (`jwtkeep app create --grant`): any other is `unauthorized_client` (RFC 6749 §5.2).

- Token responses and introspection answers carry `Cache-Control: no-store` and
  `Pragma: no-cache` (RFC 6749 §5.1; RFC 7662 §2.2 answers carry token data too).
- Errors are RFC 6749 §5.2 JSON; `invalid_client` is 401 with a Basic challenge (§5.2).
- The password grant is guarded against brute force (RFC 6749 §4.3.2): failures are
  counted per username and client address, refused or slowed down before any password
  is checked; a success counts nothing (`jwtkeep.server.ratelimit`).
- The token endpoint returns a token only after the use case stored its fingerprint; a
  store failure surfaces as 503 and no token (DESIGN.md token store contract).
- Revocation answers 200 with an empty body for any token, known or not (RFC 7009 §2.2);
  `token_type_hint` is only a hint (§2.1) and is not needed to find the token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from jwtkeep.errors import InvalidRequest, OAuthError, UnauthorizedClient, UnsupportedGrantType
from jwtkeep.ports import App
from jwtkeep.runtime import Runtime
from jwtkeep.server.client_ip import request_info
from jwtkeep.server.forms import FORM_MEDIA_TYPE, Form, client_credentials, parse_form
from jwtkeep.server.metrics import grant_label
from jwtkeep.server.schemas import IntrospectionBody, TokenResponseBody, oauth_errors
from jwtkeep.server.state import RuntimeDep, ServerState, StateDep
from jwtkeep.usecases.authorization_code import authorization_code_grant
from jwtkeep.usecases.client_credentials import client_credentials_grant
from jwtkeep.usecases.clients import authenticate_client
from jwtkeep.usecases.context import RequestInfo
from jwtkeep.usecases.introspection import introspect
from jwtkeep.usecases.password_grant import password_grant
from jwtkeep.usecases.refresh_grant import refresh_grant
from jwtkeep.usecases.revocation import revoke
from jwtkeep.usecases.token_response import TokenResponse

__all__ = [
    "GRANT_TYPES",
    "NO_STORE",
    "Grant",
    "introspect_token",
    "revoke_token",
    "router",
    "token",
]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1
router = APIRouter(tags=["oauth"])

Grant = Callable[[Runtime, ServerState, App, Form, RequestInfo], Awaitable[TokenResponse]]


def _form_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {"requestBody": {"required": True, "content": {FORM_MEDIA_TYPE: {"schema": schema}}}}


_STRING = {"type": "string"}
_CLIENT_FIELDS = {"client_id": _STRING, "client_secret": _STRING}
_TOKEN_FORM = _form_body(
    {
        "grant_type": {"type": "string", "enum": ["authorization_code", "password",
                                                  "refresh_token", "client_credentials"]},
        "code": _STRING, "redirect_uri": _STRING, "code_verifier": _STRING,
        "username": _STRING, "password": _STRING, "refresh_token": _STRING, "scope": _STRING,
        **_CLIENT_FIELDS,
    },
    ["grant_type"],
)  # fmt: skip
_TOKEN_FORM_WITH_HINT = _form_body(
    {"token": _STRING, "token_type_hint": _STRING, **_CLIENT_FIELDS}, ["token"]
)


async def _read_form(request: Request) -> Form:
    content_types = request.headers.getlist("content-type")
    if len(content_types) > 1:
        raise InvalidRequest("Send exactly one Content-Type header.")
    body = await request.body()
    return parse_form(body, content_types[0] if content_types else None)


async def _authenticate(request: Request, runtime: Runtime, form: Form) -> App:
    credentials = client_credentials(request.headers.getlist("authorization"), form)
    return await authenticate_client(
        runtime.context.apps, credentials.client_id, credentials.client_secret,
        runtime.context.clock(),
    )  # fmt: skip


async def _password(
    runtime: Runtime, state: ServerState, client: App, form: Form, info: RequestInfo
) -> TokenResponse:
    username, password = form.require("username"), form.require("password")
    async with state.limiter.password_check("login", account=username, ip=info.ip):
        return await password_grant(
            runtime.context, client, username, password, form.get("scope"), info
        )


async def _refresh(
    runtime: Runtime, state: ServerState, client: App, form: Form, info: RequestInfo
) -> TokenResponse:
    refresh_token = form.require("refresh_token")
    return await refresh_grant(runtime.context, client, refresh_token, form.get("scope"), info)


async def _client_credentials(
    runtime: Runtime, state: ServerState, client: App, form: Form, info: RequestInfo
) -> TokenResponse:
    return await client_credentials_grant(runtime.context, client, form.get("scope"), info)


async def _authorization_code(
    runtime: Runtime, state: ServerState, client: App, form: Form, info: RequestInfo
) -> TokenResponse:
    return await authorization_code_grant(
        runtime.sign_in, client, form.require("code"), form.get("redirect_uri"),
        form.get("code_verifier"), info,
    )  # fmt: skip


GRANT_TYPES: dict[str, Grant] = {
    "authorization_code": _authorization_code,
    "password": _password,
    "refresh_token": _refresh,
    "client_credentials": _client_credentials,
}


@router.post(
    "/oauth/token",
    summary="Issue tokens (RFC 6749 §4.1.3, §4.3, §4.4, §6)",
    response_model=TokenResponseBody,
    responses=oauth_errors(400, 401, 413, 429, 503),
    openapi_extra=_TOKEN_FORM,
)
async def token(request: Request, runtime: RuntimeDep, state: StateDep) -> JSONResponse:
    form = await _read_form(request)
    grant_type = form.require("grant_type")
    grant = GRANT_TYPES.get(grant_type)
    label = grant_label(grant_type)
    try:
        if grant is None:
            raise UnsupportedGrantType("This grant type is not supported.")
        client = await _authenticate(request, runtime, form)
        if not client.allows_grant(grant_type):
            raise UnauthorizedClient("This client may not use this grant type.")
        issued = await grant(runtime, state, client, form, request_info(request, state.proxies))
    except OAuthError as exc:
        state.metrics.token_errors.labels(label, exc.error).inc()
        raise
    state.metrics.tokens_issued.labels(label).inc()
    return JSONResponse(issued.body(), headers=NO_STORE)


@router.post(
    "/oauth/revoke",
    summary="Revoke a token (RFC 7009)",
    response_class=Response,
    responses={
        200: {"description": "revoked, or nothing to revoke (empty body)"},
        **oauth_errors(400, 401, 413, 503),
    },
    openapi_extra=_TOKEN_FORM_WITH_HINT,
)
async def revoke_token(request: Request, runtime: RuntimeDep, state: StateDep) -> Response:
    form = await _read_form(request)
    client = await _authenticate(request, runtime, form)
    await revoke(
        runtime.context, client, form.require("token"), request_info(request, state.proxies)
    )
    return Response(status_code=200)


@router.post(
    "/oauth/introspect",
    summary="Introspect a token (RFC 7662)",
    response_model=IntrospectionBody,
    responses=oauth_errors(400, 401, 413, 503),
    openapi_extra=_TOKEN_FORM_WITH_HINT,
)
async def introspect_token(request: Request, runtime: RuntimeDep) -> JSONResponse:
    form = await _read_form(request)
    client = await _authenticate(request, runtime, form)
    answer = await introspect(runtime.context, runtime.verifier, client, form.require("token"))
    return JSONResponse(answer, headers=NO_STORE)
