"""The browser sign-in: `GET /oauth/authorize` (RFC 6749 §4.1.1-4.1.2, RFC 7636, RFC 9207,
OIDC Core §3.1.2), the hosted login and consent forms, and RP-initiated logout (OpenID
Connect RP-Initiated Logout 1.0) at `/logout`, the `end_session_endpoint`.

- The authorization request's query is parsed strictly (a repeated parameter is refused,
  RFC 6749 §3.1). Until the client and redirect URI are validated, an error is a page
  (400), never a redirect (RFC 6749 §4.1.2.1, RFC 9700 §4.11: no open redirector).
  After that, errors go to the redirect URI with `state` and `iss` (RFC 9207 §2).
- The login form posts to `/login`, the consent form to `/consent`; both carry the
  authorization request's query unchanged and a CSRF token (`server.pages`), and both
  end with a 303 back to `/oauth/authorize`, which decides once more from the query and
  the cookies: one decision path.
- The login form checks the password under the same brute-force protection as the token
  endpoint (`LoginLimiter.password_check("login", ...)`, RFC 6749 §4.3.2): the same
  counters for the same username, whichever door it is tried through. A wrong password
  and an unknown user get the same page.
- The login session cookie: `__Host-jwtkeep-session` (RFC 6265bis §4.1.3.2: Secure,
  Path=/, no Domain), HttpOnly, SameSite=Lax (sent on the top-level navigation from the
  client to /oauth/authorize, never on cross-site subrequests), Max-Age the login
  session's bounded age.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from jwtkeep.errors import InvalidGrant, InvalidRequest, OAuthError
from jwtkeep.runtime import Runtime
from jwtkeep.server.client_ip import request_info
from jwtkeep.server.forms import FORM_MEDIA_TYPE, parse_form
from jwtkeep.server.pages import form_is_genuine, page, stylesheet
from jwtkeep.server.ratelimit import TooManyAttempts
from jwtkeep.server.schemas import problems
from jwtkeep.server.state import RuntimeDep, ServerState, StateDep
from jwtkeep.usecases.authorization_code import (
    AuthorizationRefused,
    AuthorizationRequest,
    issue_code,
    parse_authorization_request,
)
from jwtkeep.usecases.login_session import (
    current_login,
    give_consent,
    needs_consent,
    rp_initiated_logout,
    sign_in,
)
from jwtkeep.usecases.password_grant import BAD_CREDENTIALS

__all__ = [
    "LOGIN_COOKIE",
    "authorize",
    "consent_form",
    "end_session",
    "end_session_post",
    "login_form",
    "router",
    "stylesheet_route",
]

LOGIN_COOKIE = "__Host-jwtkeep-session"
router = APIRouter(tags=["browser sign-in"], include_in_schema=True)
_HTML: dict[str, Any] = {"content": {"text/html": {}}}


def _params(raw: bytes | str) -> dict[str, str]:
    data = raw.encode("latin-1") if isinstance(raw, str) else raw
    return dict(parse_form(data, FORM_MEDIA_TYPE).values)


def _redirect(uri: str, params: Mapping[str, str | None], status: int = 302) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(f"{uri}{'&' if '?' in uri else '?'}{query}", status_code=status)


def _refused(runtime: Runtime, exc: AuthorizationRefused, status: int = 302) -> Response:
    """RFC 6749 §4.1.2.1 error response, with `iss` (RFC 9207 §2)."""
    return _redirect(
        exc.redirect_uri,
        {
            "error": exc.error,
            "error_description": exc.description,
            "state": exc.state,
            "iss": runtime.settings.effective_issuer,
        },
        status,
    )


def _message(
    runtime: Runtime,
    request: Request,
    status: int,
    title: str,
    text: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return page(
        runtime,
        request,
        "message.html",
        {"title": title, "message": text},
        status=status,
        headers=headers,
    )


def _bad_request(runtime: Runtime, request: Request, exc: OAuthError) -> Response:
    return _message(runtime, request, 400, "This sign-in link is not valid", exc.description)


def _continue(query: str, *drop: str) -> Response:
    """303 back to /oauth/authorize with the request's query (minus what was just done)."""
    params = {k: v for k, v in _params(query).items() if k not in drop}
    return RedirectResponse(f"/oauth/authorize?{urlencode(params)}", status_code=303)


def _login_page(
    runtime: Runtime,
    request: Request,
    auth: AuthorizationRequest,
    query: str,
    *,
    error: str | None = None,
    username: str = "",
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    values = {"app_name": auth.client.name, "request": query, "error": error, "username": username}
    return page(
        runtime,
        request,
        "login.html",
        values,
        status=status,
        redirect_uri=auth.redirect_uri,
        headers=headers,
    )


async def _decide(
    runtime: Runtime, state: ServerState, request: Request, auth: AuthorizationRequest, query: str
) -> Response:
    ctx = runtime.sign_in
    login = await current_login(ctx, request.cookies.get(LOGIN_COOKIE))
    fresh_enough = (
        login is not None
        and "login" not in auth.prompt
        and (auth.max_age is None or ctx.auth.clock() - login.auth_time <= auth.max_age)
    )
    if login is None or not fresh_enough:
        if "none" in auth.prompt:  # OIDC Core §3.1.2.6
            raise auth.refuse("login_required", "The user is not signed in.")
        return _login_page(runtime, request, auth, query)
    if "consent" in auth.prompt or await needs_consent(ctx, auth.client, login.user_id, auth.scope):
        if "none" in auth.prompt:
            raise auth.refuse("consent_required", "The user has not consented.")
        user = await ctx.auth.users.get_user(login.user_id)
        values = {
            "app_name": auth.client.name,
            "request": query,
            "username": user.username if user else "",
            "scopes": auth.scope.split(),
        }
        return page(runtime, request, "consent.html", values, redirect_uri=auth.redirect_uri)
    code = await issue_code(ctx, auth, login, request_info(request, state.proxies))
    return _redirect(
        auth.redirect_uri,
        {"code": code, "state": auth.state, "iss": runtime.settings.effective_issuer},
    )


@router.get(
    "/oauth/authorize",
    summary="Authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2)",
    response_class=Response,
    responses={200: _HTML, 302: {"description": "to the client"}, 400: _HTML},
)
async def authorize(request: Request, runtime: RuntimeDep, state: StateDep) -> Response:
    query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        auth = await parse_authorization_request(runtime.sign_in, _params(query))
        return await _decide(runtime, state, request, auth, query)
    except AuthorizationRefused as exc:
        return _refused(runtime, exc)
    except InvalidRequest as exc:  # an UnsafeRedirect, or a query that does not parse
        return _bad_request(runtime, request, exc)


async def _posted(request: Request, runtime: Runtime) -> dict[str, str] | None:
    """The form's fields, or None if it is not a genuine form of ours (CSRF)."""
    body = await request.body()
    try:
        fields = dict(parse_form(body, request.headers.get("content-type")).values)
    except InvalidRequest:
        return None
    return fields if form_is_genuine(runtime, request, fields.get("csrf")) else None


def _forged(runtime: Runtime, request: Request) -> Response:
    return _message(
        runtime,
        request,
        403,
        "This form has expired",
        "Go back to the application and sign in again.",
    )


async def _posted_request(
    request: Request, runtime: Runtime
) -> tuple[dict[str, str], str, AuthorizationRequest] | Response:
    """A genuine form of ours, the authorization request it carries (its query string,
    and that query parsed again: the form may have been edited), or the page that
    refuses it."""
    fields = await _posted(request, runtime)
    if fields is None:
        return _forged(runtime, request)
    query = fields.get("request", "")
    try:
        auth = await parse_authorization_request(runtime.sign_in, _params(query))
    except AuthorizationRefused as exc:
        return _refused(runtime, exc, 303)
    except InvalidRequest as exc:
        return _bad_request(runtime, request, exc)
    return fields, query, auth


@router.post(
    "/login",
    summary="The hosted login form",
    response_class=Response,
    responses={
        303: {"description": "back to /oauth/authorize"},
        400: _HTML,
        403: _HTML,
        429: _HTML,
    },
)
async def login_form(request: Request, runtime: RuntimeDep, state: StateDep) -> Response:
    posted = await _posted_request(request, runtime)
    if isinstance(posted, Response):
        return posted
    fields, query, auth = posted
    username, password = fields.get("username", ""), fields.get("password", "")
    info = request_info(request, state.proxies)
    try:
        async with state.limiter.password_check("login", account=username, ip=info.ip):
            _, cookie = await sign_in(
                runtime.sign_in, auth.client.client_id, username, password, info
            )
    except TooManyAttempts as exc:
        return _login_page(
            runtime,
            request,
            auth,
            query,
            username=username,
            status=429,
            error="Too many attempts; wait a while and try again.",
            headers=exc.headers(),
        )
    except InvalidGrant:
        return _login_page(
            runtime, request, auth, query, username=username, status=400, error=BAD_CREDENTIALS
        )
    response = _continue(query, "prompt", "max_age")
    response.set_cookie(
        LOGIN_COOKIE,
        cookie,
        secure=True,
        httponly=True,
        samesite="lax",
        path="/",
        max_age=runtime.sign_in.login_ttl,
    )
    return response


@router.post(
    "/consent",
    summary="The hosted consent form",
    response_class=Response,
    responses={
        303: {"description": "back to /oauth/authorize or the client"},
        400: _HTML,
        403: _HTML,
    },
)
async def consent_form(request: Request, runtime: RuntimeDep, state: StateDep) -> Response:
    posted = await _posted_request(request, runtime)
    if isinstance(posted, Response):
        return posted
    fields, query, auth = posted
    ctx = runtime.sign_in
    try:
        login = await current_login(ctx, request.cookies.get(LOGIN_COOKIE))
        if login is None:
            return _continue(query)  # signed out meanwhile: the login page again
        if fields.get("decision") != "allow":
            raise auth.refuse("access_denied", "The user denied access.")
        await give_consent(
            ctx, auth.client, login.user_id, auth.scope, request_info(request, state.proxies)
        )
    except AuthorizationRefused as exc:
        return _refused(runtime, exc, 303)
    except InvalidRequest as exc:
        return _bad_request(runtime, request, exc)
    return _continue(query, "prompt")


async def _end_session(
    request: Request, runtime: Runtime, state: ServerState, params: Mapping[str, str]
) -> Response:
    ctx = runtime.sign_in
    login = await current_login(ctx, request.cookies.get(LOGIN_COOKIE))
    try:
        done = await rp_initiated_logout(
            ctx,
            params.get("id_token_hint"),
            params.get("post_logout_redirect_uri"),
            login,
            request_info(request, state.proxies),
        )
    except InvalidRequest as exc:
        return _message(runtime, request, 400, "This sign-out link is not valid", exc.description)
    if done.redirect_uri is not None:
        response = _redirect(
            done.redirect_uri,
            {"state": params.get("state")},
            303 if request.method == "POST" else 302,
        )
    else:
        response = _message(runtime, request, 200, "Signed out", "You are signed out.")
    if login is not None and params.get("id_token_hint"):
        response.delete_cookie(LOGIN_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


@router.get(
    "/logout",
    summary="RP-initiated logout (OIDC RP-Initiated Logout 1.0)",
    response_class=Response,
    responses={200: _HTML, 302: {"description": "to the client"}, 400: _HTML},
)
async def end_session(request: Request, runtime: RuntimeDep, state: StateDep) -> Response:
    try:
        params = _params(request.scope.get("query_string", b""))
    except InvalidRequest as exc:
        return _message(runtime, request, 400, "This sign-out link is not valid", exc.description)
    return await _end_session(request, runtime, state, params)


@router.post(
    "/logout",
    summary="RP-initiated logout, form post",
    response_class=Response,
    responses={200: _HTML, 303: {"description": "to the client"}, 400: _HTML},
)
async def end_session_post(request: Request, runtime: RuntimeDep, state: StateDep) -> Response:
    try:
        params = _params(await request.body())
    except InvalidRequest as exc:
        return _message(runtime, request, 400, "This sign-out link is not valid", exc.description)
    return await _end_session(request, runtime, state, params)


@router.get(
    "/assets/jwtkeep.css",
    summary="The hosted pages' style sheet",
    response_class=Response,
    responses={200: {"content": {"text/css": {}}}, **problems(400)},
)
async def stylesheet_route() -> Response:
    return stylesheet()
