"""End-to-end flows over HTTP, in process: login, refresh, logout, sessions, password."""

from __future__ import annotations

import uuid

import httpx

from jwtkeep.ports import User
from jwtkeep.runtime import Runtime
from jwtkeep.usecases.registration import CreatedApp
from tests.server.conftest import (
    ACCOUNT_SCOPE,
    ISSUER,
    PASSWORD,
    PASSWORD_GRANTS,
    SERVICE_GRANTS,
    USERNAME,
    Login,
    basic,
    bearer,
)

TOKEN_HEADERS = {"cache-control": "no-store", "pragma": "no-cache"}


def assert_no_store(response: httpx.Response) -> None:
    for name, value in TOKEN_HEADERS.items():
        assert response.headers.get(name) == value, name


async def test_login_userinfo_logout(
    client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": USERNAME,
            "password": PASSWORD,
            "client_id": web_app.app.client_id,
            "scope": "read account",
        },
    )
    assert response.status_code == 200
    assert_no_store(response)
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "account read"
    assert 0 < tokens["expires_in"] <= 300
    assert tokens["refresh_token"].startswith("jkrt_")

    me = await client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert me.status_code == 200
    assert me.json() == {"sub": user.id, "preferred_username": USERNAME}
    assert uuid.UUID(me.json()["sub"])

    out = await client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    assert out.status_code == 204
    assert out.content == b""

    again = await client.get("/userinfo", headers=bearer(tokens["access_token"]))
    assert again.status_code == 401
    assert 'error="invalid_token"' in again.headers["www-authenticate"]
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["error"] == "invalid_token"
    refreshed = await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": web_app.app.client_id,
        },
    )
    assert refreshed.status_code == 400
    assert refreshed.json()["error"] == "invalid_grant"


async def _refresh(client: httpx.AsyncClient, app: CreatedApp, token: str) -> httpx.Response:
    return await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": app.app.client_id,
        },
    )


async def test_refresh_rotates_and_reuse_ends_the_session(
    client: httpx.AsyncClient, web_app: CreatedApp, login: Login
) -> None:
    first = await login(scope=ACCOUNT_SCOPE)
    rotated = await _refresh(client, web_app, first["refresh_token"])
    assert rotated.status_code == 200
    assert_no_store(rotated)
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert (
        await client.get("/userinfo", headers=bearer(second["access_token"]))
    ).status_code == 200

    reused = await _refresh(client, web_app, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    # RFC 9700 §4.14.2: reuse revokes the whole family, including the newest tokens.
    assert (await _refresh(client, web_app, second["refresh_token"])).status_code == 400
    assert (
        await client.get("/userinfo", headers=bearer(second["access_token"]))
    ).status_code == 401


async def test_refresh_narrows_scope_never_widens(
    client: httpx.AsyncClient, web_app: CreatedApp, login: Login
) -> None:
    tokens = await login(scope="read")
    wider = await client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": web_app.app.client_id,
            "scope": "read write",
        },
    )
    assert wider.status_code == 400
    assert wider.json()["error"] == "invalid_scope"


async def test_refresh_token_is_bound_to_its_client(
    client: httpx.AsyncClient, login: Login, service_app: CreatedApp
) -> None:
    tokens = await login()
    assert service_app.client_secret is not None
    stolen = await client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic(service_app.app.client_id, service_app.client_secret),
    )
    assert stolen.status_code == 400
    assert stolen.json()["error"] == "invalid_grant"


async def test_client_credentials_basic_and_post(
    client: httpx.AsyncClient, service_app: CreatedApp
) -> None:
    assert service_app.client_secret is not None
    client_id, secret = service_app.app.client_id, service_app.client_secret
    by_basic = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, headers=basic(client_id, secret)
    )
    by_post = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
        },
    )
    for response in (by_basic, by_post):
        assert response.status_code == 200, response.text
        assert_no_store(response)
        body = response.json()
        assert "refresh_token" not in body  # RFC 6749 §4.4.3
        assert body["scope"] == "read"


async def test_client_credentials_refused_for_public_clients(
    client: httpx.AsyncClient, web_app: CreatedApp
) -> None:
    response = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": web_app.app.client_id,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


async def test_wrong_client_secret_is_401_with_challenge(
    client: httpx.AsyncClient, service_app: CreatedApp
) -> None:
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(service_app.app.client_id, "jkcs_wrong"),
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert "jkcs_wrong" not in response.text


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, web_app: CreatedApp, user: User
) -> None:
    async def attempt(username: str, password: str) -> httpx.Response:
        return await client.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "username": username,
                "password": password,
                "client_id": web_app.app.client_id,
            },
        )

    wrong_password = await attempt(USERNAME, "not the password")
    unknown_user = await attempt("mallory", PASSWORD)
    assert wrong_password.status_code == unknown_user.status_code == 400
    assert wrong_password.json() == unknown_user.json()
    assert wrong_password.json()["error"] == "invalid_grant"
    assert wrong_password.headers.get("www-authenticate") == unknown_user.headers.get(
        "www-authenticate"
    )


async def test_app_without_refresh_gets_no_refresh_token(
    client: httpx.AsyncClient, runtime: Runtime, login: Login
) -> None:
    from jwtkeep.usecases.registration import AppSpec, create_app  # noqa: PLC0415

    no_refresh = await create_app(
        runtime.context,
        AppSpec(name="kiosk", audience="kiosk-api", refresh_enabled=False, grants=PASSWORD_GRANTS),
    )
    tokens = await login(app=no_refresh)
    assert "refresh_token" not in tokens


async def test_revoke_and_introspect(
    client: httpx.AsyncClient, web_app: CreatedApp, service_app: CreatedApp, login: Login
) -> None:
    assert service_app.client_secret is not None
    # The confidential app (the API behind audience "service-api") introspects its own
    # users' tokens with its own credentials.
    api_auth = (service_app.app.client_id, service_app.client_secret)
    tokens = await login(app=service_app, scope=ACCOUNT_SCOPE)
    client_id = service_app.app.client_id

    public = await client.post(
        "/oauth/introspect",
        data={"token": tokens["access_token"], "client_id": web_app.app.client_id},
    )
    assert public.status_code == 401  # RFC 7662 §2.1: a public client cannot introspect
    assert public.json()["error"] == "invalid_client"

    active = await client.post("/oauth/introspect", data={"token": tokens["access_token"]},
                               auth=api_auth)  # fmt: skip
    assert active.status_code == 200
    assert_no_store(active)
    claims = active.json()
    assert claims["active"] is True
    assert claims["client_id"] == client_id
    assert claims["token_type"] == "Bearer"
    assert claims["aud"] == ["service-api", ISSUER]

    web_tokens = await login()
    refresh_state = await client.post(
        "/oauth/introspect",
        data={"token": web_tokens["refresh_token"], "token_type_hint": "refresh_token"},
        auth=api_auth,
    )
    # A refresh token is only ever described to the client it was issued to.
    assert refresh_state.json() == {"active": False}

    revoked = await client.post(
        "/oauth/revoke",
        data={"token": tokens["access_token"], "token_type_hint": "access_token"},
        auth=api_auth,
    )
    assert revoked.status_code == 200
    assert revoked.content == b""

    inactive = await client.post("/oauth/introspect", data={"token": tokens["access_token"]},
                                 auth=api_auth)  # fmt: skip
    assert inactive.json() == {"active": False}
    assert (
        await client.get("/userinfo", headers=bearer(tokens["access_token"]))
    ).status_code == 401


async def test_revoking_a_refresh_token_ends_the_session(
    client: httpx.AsyncClient, web_app: CreatedApp, login: Login
) -> None:
    tokens = await login(scope=ACCOUNT_SCOPE)
    # A wrong hint is only a hint (RFC 7009 §2.1).
    revoked = await client.post(
        "/oauth/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "access_token",
            "client_id": web_app.app.client_id,
        },
    )
    assert revoked.status_code == 200
    assert (await _refresh(client, web_app, tokens["refresh_token"])).status_code == 400
    assert (
        await client.get("/userinfo", headers=bearer(tokens["access_token"]))
    ).status_code == 401


async def test_revoke_unknown_token_is_200_and_token_is_required(
    client: httpx.AsyncClient, web_app: CreatedApp
) -> None:
    client_id = web_app.app.client_id
    unknown = await client.post("/oauth/revoke", data={"token": "nonsense", "client_id": client_id})
    assert unknown.status_code == 200
    assert unknown.content == b""
    missing = await client.post("/oauth/revoke", data={"client_id": client_id})
    assert missing.status_code == 400
    assert missing.json()["error"] == "invalid_request"
    no_client = await client.post("/oauth/revoke", data={"token": "nonsense"})
    assert no_client.status_code == 401
    assert no_client.json()["error"] == "invalid_client"


async def test_introspection_of_another_clients_token_is_inactive(
    client: httpx.AsyncClient, runtime: Runtime, login: Login
) -> None:
    from jwtkeep.usecases.registration import AppSpec, create_app  # noqa: PLC0415

    spec = AppSpec(name="other", audience="other-api", confidential=True, grants=SERVICE_GRANTS)
    other = await create_app(runtime.context, spec)
    assert other.client_secret is not None
    tokens = await login()
    for token in (tokens["access_token"], tokens["refresh_token"]):
        answer = await client.post(
            "/oauth/introspect",
            data={"token": token},
            auth=(other.app.client_id, other.client_secret),
        )
        assert answer.json() == {"active": False}


async def test_logout_all_ends_every_session(
    client: httpx.AsyncClient, web_app: CreatedApp, login: Login
) -> None:
    phone, laptop = await login(scope=ACCOUNT_SCOPE), await login(scope=ACCOUNT_SCOPE)
    response = await client.post("/auth/logout-all", headers=bearer(phone["access_token"]))
    assert response.status_code == 204
    for tokens in (phone, laptop):
        assert (
            await client.get("/userinfo", headers=bearer(tokens["access_token"]))
        ).status_code == 401
        assert (await _refresh(client, web_app, tokens["refresh_token"])).status_code == 400


async def test_sessions_list_and_delete(
    client: httpx.AsyncClient, runtime: Runtime, web_app: CreatedApp, login: Login
) -> None:
    phone = await login(scope=ACCOUNT_SCOPE, headers={"User-Agent": "phone/1.0"})
    laptop = await login(scope=ACCOUNT_SCOPE, headers={"User-Agent": "laptop/2.0"})
    listed = await client.get("/auth/sessions", headers=bearer(phone["access_token"]))
    assert listed.status_code == 200
    sessions = listed.json()
    assert len(sessions) == 2
    expected_keys = {
        "sid",
        "client_id",
        "created_at",
        "last_used_at",
        "expires_at",
        "user_agent",
        "current",
    }
    for session in sessions:
        assert set(session) == expected_keys  # no token material, no IP
        assert session["client_id"] == web_app.app.client_id
        assert session["expires_at"] > session["created_at"]
    text = listed.text
    for secret in (phone["access_token"], phone["refresh_token"], laptop["refresh_token"]):
        assert secret not in text
    current = [s for s in sessions if s["current"]]
    assert len(current) == 1
    assert current[0]["user_agent"] == "phone/1.0"
    other = next(s for s in sessions if not s["current"])
    assert other["user_agent"] == "laptop/2.0"

    deleted = await client.delete(
        f"/auth/sessions/{other['sid']}", headers=bearer(phone["access_token"])
    )
    assert deleted.status_code == 204
    assert (
        await client.get("/userinfo", headers=bearer(laptop["access_token"]))
    ).status_code == 401
    assert (await client.get("/userinfo", headers=bearer(phone["access_token"]))).status_code == 200

    gone = await client.delete(
        f"/auth/sessions/{other['sid']}", headers=bearer(phone["access_token"])
    )
    assert gone.status_code == 404
    assert gone.headers["content-type"] == "application/problem+json"
    assert gone.json()["status"] == 404


async def test_cannot_end_another_users_session(
    client: httpx.AsyncClient, runtime: Runtime, web_app: CreatedApp, login: Login
) -> None:
    from jwtkeep.usecases.registration import create_user  # noqa: PLC0415

    await create_user(runtime.context, "bob", PASSWORD)
    alice = await login(scope=ACCOUNT_SCOPE)
    bob = await login(username="bob", scope=ACCOUNT_SCOPE)
    bob_sid = (await client.get("/auth/sessions", headers=bearer(bob["access_token"]))).json()[0]
    attempt = await client.delete(
        f"/auth/sessions/{bob_sid['sid']}", headers=bearer(alice["access_token"])
    )
    assert attempt.status_code == 404
    assert (await client.get("/userinfo", headers=bearer(bob["access_token"]))).status_code == 200


async def test_password_change_ends_other_sessions(
    client: httpx.AsyncClient, web_app: CreatedApp, login: Login
) -> None:
    this, other = await login(scope=ACCOUNT_SCOPE), await login(scope=ACCOUNT_SCOPE)
    new_password = "an even better passphrase"
    changed = await client.post(
        "/auth/password",
        headers=bearer(this["access_token"]),
        json={"current_password": PASSWORD, "new_password": new_password},
    )
    assert changed.status_code == 204
    assert (await client.get("/userinfo", headers=bearer(this["access_token"]))).status_code == 200
    assert (await client.get("/userinfo", headers=bearer(other["access_token"]))).status_code == 401
    old = await client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "username": USERNAME,
            "password": PASSWORD,
            "client_id": web_app.app.client_id,
        },
    )
    assert old.status_code == 400
    assert (await login(password=new_password))["access_token"]


async def test_password_change_checks_the_current_password(
    client: httpx.AsyncClient, login: Login
) -> None:
    tokens = await login(scope=ACCOUNT_SCOPE)
    wrong = await client.post(
        "/auth/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": "wrong password", "new_password": "an even better passphrase"},
    )
    assert wrong.status_code == 400
    assert wrong.headers["content-type"] == "application/problem+json"
    assert wrong.json()["error"] == "invalid_grant"
    weak = await client.post(
        "/auth/password",
        headers=bearer(tokens["access_token"]),
        json={"current_password": PASSWORD, "new_password": "Zq9!x"},
    )
    assert weak.status_code == 400
    assert "Zq9!x" not in weak.text  # the input is never echoed
