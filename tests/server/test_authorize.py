"""The authorization code flow with PKCE, OIDC and the hosted pages, in process.

Every rule of the browser sign-in with the test that would catch its absence: PKCE
required and S256 only, exact redirect URIs and no open redirector, single-use codes that
revoke on replay, the 60 s code life, CSRF on the forms, framing refused, consent
remembered, the login session (SSO, prompt, max_age), brute-force counters shared with the
token endpoint, RP-initiated logout, ID tokens never accepted as access tokens nor the
reverse, CORS for registered origins only. Time-dependent rules run on a FixedClock.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from jwtkeep.core.clock import FixedClock
from jwtkeep.core.compact import b64url_decode
from jwtkeep.core.fingerprint import fingerprint
from jwtkeep.errors import InvalidToken
from jwtkeep.ports import AuthorizationCode, User
from jwtkeep.runtime import Runtime
from jwtkeep.server.authorize import LOGIN_COOKIE
from jwtkeep.server.pages import CSRF_COOKIE
from jwtkeep.usecases.apps import disable_app
from jwtkeep.usecases.context import Operator, RequestInfo
from jwtkeep.usecases.password_grant import BAD_CREDENTIALS
from jwtkeep.usecases.registration import AppSpec, CreatedApp, create_app
from jwtkeep.usecases.sessions import change_password
from tests.server.browser import (
    REDIRECT_URI,
    Flow,
    code_for,
    consent,
    exchange,
    follow,
    hidden_fields,
    redirect_params,
    sign_in,
)
from tests.server.conftest import ISSUER, PASSWORD, USERNAME, bearer


@pytest.fixture
async def spa(runtime: Runtime) -> CreatedApp:
    spec = AppSpec(name="spa", audience="spa-api", scopes=("read",), account_access=True,
                   redirect_uris=(REDIRECT_URI, "http://127.0.0.1/cb"))  # fmt: skip
    return await create_app(runtime.context, spec)


@pytest.fixture
async def portal(runtime: Runtime) -> CreatedApp:
    spec = AppSpec(name="portal", audience="portal-api", scopes=("read",), first_party=True,
                   account_access=True, redirect_uris=("https://portal.example/cb",))  # fmt: skip
    return await create_app(runtime.context, spec)


@pytest.fixture
def clock(runtime: Runtime) -> FixedClock:
    """One clock for the whole server: the runtime's use cases read it."""
    fixed = FixedClock(now=float(int(time.time())))
    runtime.context.clock = fixed
    return fixed


def payload(token: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(b64url_decode(token.split(".")[1]))
    return value


def header(token: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(b64url_decode(token.split(".", maxsplit=1)[0]))
    return value


async def tokens_for(client: httpx.AsyncClient, flow: Flow) -> dict[str, Any]:
    response = await exchange(client, flow, await code_for(client, flow))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- the flow ------------------------------------------------------------------------------


async def test_sign_in_consent_code_and_tokens(
    client: httpx.AsyncClient, runtime: Runtime, spa: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id)
    page = await client.get(flow.url())
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="en">' in page.text
    assert '<label for="username">' in page.text
    assert '<label for="password">' in page.text
    consent_page = await follow(client, await sign_in(client, page))
    assert "spa" in consent_page.text
    assert "read" in consent_page.text
    answer = redirect_params(await follow(client, await consent(client, consent_page)))
    assert answer["state"] == flow.state
    assert answer["iss"] == ISSUER  # RFC 9207
    response = await exchange(client, flow, answer["code"])
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["scope"] == "openid read"
    assert body["refresh_token"].startswith("jkrt_")
    claims = await runtime.verifier.verify(body["access_token"])
    assert claims.sub == user.id
    assert claims.client_id == spa.app.client_id
    id_claims = payload(body["id_token"])
    assert header(body["id_token"])["typ"] == "JWT"
    assert id_claims["aud"] == spa.app.client_id
    assert id_claims["iss"] == ISSUER
    assert id_claims["nonce"] == flow.nonce
    assert id_claims["sid"] == claims.sid
    assert {"exp", "iat", "auth_time", "at_hash", "sub"} <= set(id_claims)
    sessions = await runtime.context.store.list_sessions(user.id, runtime.context.clock())
    assert [s.sid for s in sessions] == [claims.sid]  # a session like the password grant's
    userinfo = await client.get("/userinfo", headers=bearer(body["access_token"]))
    assert userinfo.json() == {"sub": user.id, "preferred_username": USERNAME}


async def test_refresh_rotation_and_reuse_detection_apply(
    client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id)
    tokens = await tokens_for(client, flow)
    form = {"grant_type": "refresh_token", "client_id": spa.app.client_id,
            "refresh_token": tokens["refresh_token"]}  # fmt: skip
    rotated = await client.post("/oauth/token", data=form)
    assert rotated.status_code == 200
    reused = await client.post("/oauth/token", data=form)
    assert reused.json()["error"] == "invalid_grant"
    after = await client.get("/userinfo", headers=bearer(rotated.json()["access_token"]))
    assert after.status_code == 401  # reuse ended the session (RFC 9700 §4.14.2)


async def test_a_second_app_signs_in_without_a_password(
    client: httpx.AsyncClient, spa: CreatedApp, portal: CreatedApp, user: User
) -> None:
    await code_for(client, Flow(spa.app.client_id))
    portal_flow = Flow(portal.app.client_id, redirect_uri="https://portal.example/cb")
    response = await client.get(portal_flow.url())  # first party: no consent page either
    assert redirect_params(response)["code"].startswith("jkac_")
    again = await client.get(Flow(spa.app.client_id).url())  # consent remembered
    assert "code" in redirect_params(again)


async def test_consent_is_per_scope_set_and_can_be_denied(
    client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    await code_for(client, Flow(spa.app.client_id, scope="read"))
    wider = await client.get(Flow(spa.app.client_id, scope="openid read").url())
    assert "Allow access" in wider.text  # another scope set: asked again
    denied = redirect_params(await consent(client, wider, decision="deny"))
    assert denied["error"] == "access_denied"
    assert denied["state"] == "state-123"


async def test_loopback_redirect_uri_may_use_any_port(
    client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id, redirect_uri="http://127.0.0.1:53117/cb")  # RFC 8252 §7.3
    response = await exchange(client, flow, await code_for(client, flow))
    assert response.status_code == 200, response.text


# -- PKCE ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"code_challenge": "", "code_challenge_method": ""}, "code_challenge is required"),
        ({"code_challenge_method": "plain"}, "must be S256"),
        ({"code_challenge_method": ""}, "must be S256"),
        ({"code_challenge": "short"}, "43 base64url"),
    ],
)
async def test_pkce_s256_is_required(
    client: httpx.AsyncClient, spa: CreatedApp, user: User, extra: dict[str, str], reason: str
) -> None:
    params = redirect_params(await client.get(Flow(spa.app.client_id, extra=extra).url()))
    assert params["error"] == "invalid_request"
    assert reason in params["error_description"]
    assert params["state"] == "state-123"
    assert params["iss"] == ISSUER


async def test_a_wrong_or_missing_verifier_is_refused_and_burns_the_code(
    client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id)
    code = await code_for(client, flow)
    wrong = await exchange(client, flow, code, code_verifier="w" * 43)
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    right = await exchange(client, flow, code)
    assert right.json()["error"] == "invalid_grant"  # single use, even after a failure
    missing = await exchange(client, flow, await code_for(client, flow), code_verifier="")
    assert missing.json()["error"] == "invalid_grant"


# -- redirect URIs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "uri",
    [
        REDIRECT_URI + "x",
        REDIRECT_URI[:-1],
        REDIRECT_URI.replace("https", "http"),
        REDIRECT_URI + "?next=https://evil.example",
        "https://evil.example/callback",
    ],
)
async def test_a_redirect_uri_that_differs_is_a_page_never_a_redirect(
    client: httpx.AsyncClient, spa: CreatedApp, user: User, uri: str
) -> None:
    response = await client.get(Flow(spa.app.client_id, redirect_uri=uri).url())
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "not registered" in response.text
    assert response.headers["x-frame-options"] == "DENY"


async def test_unknown_client_and_repeated_parameters_are_pages(
    client: httpx.AsyncClient, spa: CreatedApp
) -> None:
    unknown = await client.get(Flow("nobody").url())
    assert unknown.status_code == 400
    assert "location" not in unknown.headers
    url = Flow(spa.app.client_id).url() + "&redirect_uri=https%3A%2F%2Fevil.example%2F"
    repeated = await client.get(url)
    assert repeated.status_code == 400
    assert "location" not in repeated.headers


async def test_a_disabled_app_gets_no_sign_in_page_and_no_tokens_for_its_codes(
    runtime: Runtime, client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    """`app disable` (main's operator work) covers the browser flow: the authorize
    request is an error page without a redirect, and a code issued before is refused."""
    flow = Flow(spa.app.client_id)
    code = await code_for(client, flow)
    await disable_app(runtime.context, spa.app, Operator(actor="cli:test"))
    page = await client.get(Flow(spa.app.client_id).url())
    assert page.status_code == 400
    assert "location" not in page.headers
    refused = await exchange(client, flow, code)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_client"


async def test_the_token_request_must_repeat_the_redirect_uri(
    client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id)
    code = await code_for(client, flow)
    other = await exchange(client, flow, code, redirect_uri="http://127.0.0.1/cb")
    assert other.json()["error"] == "invalid_grant"  # RFC 6749 §4.1.3


@pytest.mark.parametrize(
    ("extra", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "openid admin"}, "invalid_scope"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"request": "eyJ"}, "request_not_supported"),
    ],
)
async def test_other_errors_go_back_to_the_validated_redirect_uri(
    client: httpx.AsyncClient, spa: CreatedApp, extra: dict[str, str], error: str
) -> None:
    response = await client.get(Flow(spa.app.client_id, extra=extra).url())
    assert response.headers["location"].startswith(REDIRECT_URI + "?")
    assert redirect_params(response)["error"] == error


# -- codes ---------------------------------------------------------------------------------


async def test_a_replayed_code_revokes_every_token_it_gave(
    client: httpx.AsyncClient, runtime: Runtime, spa: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id)
    code = await code_for(client, flow)
    first = (await exchange(client, flow, code)).json()
    refreshed = await client.post("/oauth/token", data={
        "grant_type": "refresh_token", "client_id": spa.app.client_id,
        "refresh_token": first["refresh_token"],
    })  # fmt: skip
    replay = await exchange(client, flow, code)
    assert replay.json()["error"] == "invalid_grant"
    for token in (first["access_token"], refreshed.json()["access_token"]):
        with pytest.raises(InvalidToken) as refused:
            await runtime.verifier.verify(token)
        assert "not in the allowlist" in refused.value.reason
    again = await client.post("/oauth/token", data={
        "grant_type": "refresh_token", "client_id": spa.app.client_id,
        "refresh_token": refreshed.json()["refresh_token"],
    })  # fmt: skip
    assert again.json()["error"] == "invalid_grant"
    events = [e.event for e in await runtime.context.audit.query(user_id=user.id)]
    assert "code.replayed" in events


async def test_a_code_lives_60_seconds(
    client: httpx.AsyncClient, clock: FixedClock, spa: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id)
    code = await code_for(client, flow)
    clock.advance(61)
    assert (await exchange(client, flow, code)).json()["error"] == "invalid_grant"
    fresh = await code_for(client, flow)
    clock.advance(59)
    assert (await exchange(client, flow, fresh)).status_code == 200


async def test_a_code_is_bound_to_its_client(
    client: httpx.AsyncClient, spa: CreatedApp, portal: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id)
    code = await code_for(client, flow)
    stolen = await exchange(client, flow, code, client_id=portal.app.client_id)
    assert stolen.json()["error"] == "invalid_grant"


async def test_the_code_is_stored_only_as_a_fingerprint(
    client: httpx.AsyncClient, runtime: Runtime, spa: CreatedApp, user: User
) -> None:
    code = await code_for(client, Flow(spa.app.client_id))
    cookie = client.cookies[LOGIN_COOKIE]
    raw = (runtime.settings.data_dir / "jwtkeep.db").read_bytes()
    wal = runtime.settings.data_dir / "jwtkeep.db-wal"
    stored = raw + (wal.read_bytes() if wal.exists() else b"")
    assert code.encode() not in stored
    assert cookie.encode() not in stored
    assert code.removeprefix("jkac_").encode() not in stored


# -- the hosted pages ----------------------------------------------------------------------


async def test_the_pages_refuse_to_be_framed_and_run_no_inline_script(
    client: httpx.AsyncClient, spa: CreatedApp
) -> None:
    page = await client.get(Flow(spa.app.client_id).url())
    csp = page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert "script-src" not in csp
    assert "form-action 'self' https://app.example" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    assert "style=" not in page.text
    sheet = await client.get("/assets/jwtkeep.css")
    assert sheet.status_code == 200
    assert sheet.headers["content-type"].startswith("text/css")


async def test_the_login_cookie_is_host_prefixed_secure_httponly_lax_and_bounded(
    client: httpx.AsyncClient, runtime: Runtime, spa: CreatedApp, user: User
) -> None:
    page = await client.get(Flow(spa.app.client_id).url())
    response = await sign_in(client, page)
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith(LOGIN_COOKIE))  # fmt: skip
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "max-age", "samesite"} <= attributes
    assert "domain" not in attributes  # RFC 6265bis §4.1.3.2 (__Host-)
    assert "samesite=lax" in cookie.lower()
    assert "path=/" in cookie.lower()
    assert f"max-age={runtime.settings.login_session_ttl}" in cookie.lower()


async def test_a_form_post_without_the_csrf_token_is_refused_with_a_page(
    client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    page = await client.get(Flow(spa.app.client_id).url())
    fields = hidden_fields(page.text)
    forged = {"request": fields["request"], "username": USERNAME, "password": PASSWORD}
    response = await client.post("/login", data=forged)
    assert response.status_code == 403
    assert "location" not in response.headers
    other_browser = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with other_browser:
        await other_browser.get(Flow(spa.app.client_id).url())  # a CSRF cookie of its own
        stolen = await other_browser.post("/login", data={**fields, "username": USERNAME,
                                                          "password": PASSWORD})  # fmt: skip
        assert stolen.status_code == 403
        assert LOGIN_COOKIE not in other_browser.cookies
    consent_forged = await client.post("/consent", data={"request": fields["request"],
                                                         "decision": "allow"})  # fmt: skip
    assert consent_forged.status_code == 403
    assert "location" not in consent_forged.headers
    assert CSRF_COOKIE in client.cookies


async def test_wrong_password_and_unknown_user_get_the_same_page(
    client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    page = await client.get(Flow(spa.app.client_id).url())
    wrong = await sign_in(client, page, password="not the password")
    unknown = await sign_in(client, page, username="mallory")
    for response in (wrong, unknown):
        assert response.status_code == 400
        assert BAD_CREDENTIALS in response.text
        assert LOGIN_COOKIE not in response.headers.get("set-cookie", "")
    assert wrong.text.replace(USERNAME, "mallory") == unknown.text


@pytest.mark.parametrize("settings_overrides", [{"login_failures_per_address": 2}])
async def test_the_login_page_shares_the_token_endpoints_brute_force_counters(
    client: httpx.AsyncClient, spa: CreatedApp, web_app: CreatedApp, user: User
) -> None:
    page = await client.get(Flow(spa.app.client_id).url())
    for _ in range(2):
        assert (await sign_in(client, page, password="guess")).status_code == 400
    throttled = await sign_in(client, page)  # even the right password: the pair is blocked
    assert throttled.status_code == 429
    assert "retry-after" in throttled.headers
    grant = await client.post("/oauth/token", data={
        "grant_type": "password", "client_id": web_app.app.client_id, "username": USERNAME,
        "password": PASSWORD,
    })  # fmt: skip
    assert grant.status_code == 429  # the same counters, whichever door


# -- the login session ---------------------------------------------------------------------


async def test_prompt_none_answers_login_required(client: httpx.AsyncClient, spa: CreatedApp
                                                  ) -> None:  # fmt: skip
    response = await client.get(Flow(spa.app.client_id, extra={"prompt": "none"}).url())
    assert redirect_params(response)["error"] == "login_required"


async def test_prompt_login_and_max_age_ask_for_the_password_again(
    client: httpx.AsyncClient, clock: FixedClock, spa: CreatedApp, user: User
) -> None:
    await code_for(client, Flow(spa.app.client_id))
    forced = await client.get(Flow(spa.app.client_id, extra={"prompt": "login"}).url())
    assert 'name="password"' in forced.text
    clock.advance(100)
    stale = await client.get(Flow(spa.app.client_id, extra={"max_age": "60"}).url())
    assert 'name="password"' in stale.text
    recent = await client.get(Flow(spa.app.client_id, extra={"max_age": "600"}).url())
    assert "code" in redirect_params(recent)
    auth_time = clock.now
    code = await code_for(client, Flow(spa.app.client_id, extra={"prompt": "login"}))
    tokens = (await exchange(client, Flow(spa.app.client_id), code)).json()
    assert payload(tokens["id_token"])["auth_time"] == int(auth_time)


async def test_the_login_session_ends_with_a_password_change_and_its_age(
    client: httpx.AsyncClient, runtime: Runtime, clock: FixedClock, spa: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id, scope="openid account read")
    tokens = await tokens_for(client, flow)
    claims = await runtime.account_verifier.verify(tokens["access_token"])
    clock.advance(5)
    await change_password(runtime.context, claims, PASSWORD, PASSWORD + " v2", RequestInfo())
    page = await client.get(flow.url())
    assert 'name="password"' in page.text  # the old sign-in is over
    again = await follow(client, await sign_in(client, page, password=PASSWORD + " v2"))
    assert "code" in redirect_params(again)
    clock.advance(runtime.settings.login_session_ttl + 1)
    assert 'name="password"' in (await client.get(flow.url())).text


# -- tokens of two kinds -------------------------------------------------------------------


async def test_an_id_token_is_never_an_access_token_nor_the_reverse(
    client: httpx.AsyncClient, runtime: Runtime, spa: CreatedApp, user: User
) -> None:
    tokens = await tokens_for(client, Flow(spa.app.client_id))
    with pytest.raises(InvalidToken):
        await runtime.verifier.verify(tokens["id_token"])
    assert (await client.get("/userinfo", headers=bearer(tokens["id_token"]))).status_code == 401
    hint = await client.get("/logout", params={"id_token_hint": tokens["access_token"]})
    assert hint.status_code == 400  # an access token is no ID token hint (RFC 8725 §3.12)


# -- RP-initiated logout -------------------------------------------------------------------


async def test_rp_initiated_logout_ends_the_session_and_the_login_session(
    client: httpx.AsyncClient, runtime: Runtime, spa: CreatedApp, portal: CreatedApp,
    user: User,
) -> None:  # fmt: skip
    tokens = await tokens_for(client, Flow(spa.app.client_id))
    portal_flow = Flow(portal.app.client_id, redirect_uri="https://portal.example/cb")
    portal_tokens = await tokens_for(client, portal_flow)
    response = await client.get("/logout", params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": REDIRECT_URI,
        "state": "bye",
    })  # fmt: skip
    assert response.status_code == 302
    assert response.headers["location"] == f"{REDIRECT_URI}?state=bye"
    for token in (tokens["access_token"], portal_tokens["access_token"]):
        with pytest.raises(InvalidToken):
            await runtime.verifier.verify(token)
    refresh = await client.post("/oauth/token", data={
        "grant_type": "refresh_token", "client_id": spa.app.client_id,
        "refresh_token": tokens["refresh_token"],
    })  # fmt: skip
    assert refresh.json()["error"] == "invalid_grant"
    assert LOGIN_COOKIE not in client.cookies
    assert 'name="password"' in (await client.get(Flow(spa.app.client_id).url())).text


async def test_rp_initiated_logout_needs_a_registered_post_logout_uri(
    client: httpx.AsyncClient, runtime: Runtime, spa: CreatedApp, user: User
) -> None:
    tokens = await tokens_for(client, Flow(spa.app.client_id))
    response = await client.get("/logout", params={
        "id_token_hint": tokens["id_token"], "post_logout_redirect_uri": REDIRECT_URI + "x",
    })  # fmt: skip
    assert response.status_code == 400
    assert "location" not in response.headers
    assert (await runtime.verifier.verify(tokens["access_token"])).sub == user.id  # not ended
    assert (await client.get("/logout")).status_code == 400  # no hint: nothing to end


# -- grants --------------------------------------------------------------------------------


async def test_the_password_grant_is_refused_to_apps_without_it(
    client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    response = await client.post("/oauth/token", data={
        "grant_type": "password", "client_id": spa.app.client_id, "username": USERNAME,
        "password": PASSWORD,
    })  # fmt: skip
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_an_app_without_the_code_grant_gets_no_code(
    client: httpx.AsyncClient, runtime: Runtime, user: User
) -> None:
    spec = AppSpec(name="cli", audience="cli-api", grants=("password",),
                   redirect_uris=(REDIRECT_URI,))  # fmt: skip
    cli = await create_app(runtime.context, spec)
    response = await client.get(Flow(cli.app.client_id, scope="").url())
    assert redirect_params(response)["error"] == "unauthorized_client"


# -- CORS ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/oauth/token", "/oauth/revoke", "/.well-known/jwks.json", "/userinfo",
     "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"],
)  # fmt: skip
async def test_cors_preflight_for_registered_origins_only(
    client: httpx.AsyncClient, spa: CreatedApp, path: str
) -> None:
    ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers":
           "content-type"}  # fmt: skip
    allowed = await client.options(path, headers={"Origin": "https://app.example", **ask})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-credentials" not in allowed.headers
    loopback = await client.options(path, headers={"Origin": "http://127.0.0.1", **ask})
    assert loopback.headers["access-control-allow-origin"] == "http://127.0.0.1"
    refused = await client.options(path, headers={"Origin": "https://evil.example", **ask})
    assert "access-control-allow-origin" not in refused.headers


async def test_cors_on_answers_but_never_on_the_pages(
    client: httpx.AsyncClient, spa: CreatedApp
) -> None:
    origin = {"Origin": "https://app.example"}
    jwks = await client.get("/.well-known/jwks.json", headers=origin)
    assert jwks.headers["access-control-allow-origin"] == "https://app.example"
    assert "Origin" in jwks.headers["vary"]
    evil = await client.get("/.well-known/jwks.json", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
    for path in (Flow(spa.app.client_id).url(), "/logout"):
        page = await client.get(path, headers=origin)
        assert "access-control-allow-origin" not in page.headers
    preflight = await client.options("/login", headers={**origin,
                                     "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert "access-control-allow-origin" not in preflight.headers


async def test_logout_all_ends_the_login_session_too(
    client: httpx.AsyncClient, spa: CreatedApp, user: User
) -> None:
    flow = Flow(spa.app.client_id, scope="openid account read")
    tokens = await tokens_for(client, flow)
    assert "code" in redirect_params(await client.get(flow.url()))  # SSO: no password
    done = await client.post("/auth/logout-all", headers=bearer(tokens["access_token"]))
    assert done.status_code == 204
    assert 'name="password"' in (await client.get(flow.url())).text


async def test_a_verifier_for_a_code_without_a_challenge_is_refused(
    client: httpx.AsyncClient, runtime: Runtime, spa: CreatedApp, user: User
) -> None:
    """RFC 9700 §4.8.2 (PKCE downgrade): /oauth/authorize never issues such a code; if one
    were stored anyway (an older row, a bug), a code_verifier must not redeem it."""
    now = runtime.context.clock()
    code = "jkac_" + "c" * 43
    await runtime.sign_in.codes.add_code(AuthorizationCode(
        fingerprint=fingerprint(code), client_id=spa.app.client_id, user_id=user.id,
        redirect_uri=REDIRECT_URI, scope="read", code_challenge="", nonce=None,
        login_id="none", auth_time=now, expires_at=now + 60,
    ), now)  # fmt: skip
    response = await exchange(client, Flow(spa.app.client_id), code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert await runtime.context.store.list_sessions(user.id, now) == []


async def test_a_code_issued_before_logout_all_starts_no_session(
    client: httpx.AsyncClient, runtime: Runtime, spa: CreatedApp, user: User
) -> None:
    """Before: a code the login session issued before `/auth/logout-all` was still
    redeemable for its 60 s, and started a session that outlived the logout."""
    flow = Flow(spa.app.client_id, scope="openid account read")
    tokens = await tokens_for(client, flow)
    pending = redirect_params(await client.get(flow.url()))["code"]  # SSO: a new code
    done = await client.post("/auth/logout-all", headers=bearer(tokens["access_token"]))
    assert done.status_code == 204
    response = await exchange(client, flow, pending)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert await runtime.context.store.list_sessions(user.id, runtime.context.clock()) == []
