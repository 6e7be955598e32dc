"""Bad input never 500s, never shows a stack trace and never echoes a secret."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from jwtkeep.usecases.registration import CreatedApp
from tests.server.conftest import ACCOUNT_SCOPE, BASE_URL, PASSWORD, USERNAME, Login, bearer

SECRET_MARKER = "s3cr3t-marker-value"


def token_form(client_id: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "password",
        "username": USERNAME,
        "password": PASSWORD,
        "client_id": client_id,
        **extra,
    }


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error"] == error
    assert set(body) <= {"error", "error_description"}
    assert "Traceback" not in response.text


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, b"grant_type=password"),
        ("application/json", b'{"grant_type": "password"}'),
        ("multipart/form-data; boundary=x", b"--x--"),
        ("text/plain", b"grant_type=password"),
        ("application/x-www-form-urlencoded; charset=latin-1", b"grant_type=password"),
        ("application/x-www-form-urlencodedx", b"grant_type=password"),
        ("\x00garbage", b"grant_type=password"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=\xff\xfe"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=%ff%fe"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=%zz"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=%4"),
        ("application/x-www-form-urlencoded", b"grant_type=password&grant_type=password"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=a%0Ab"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=a%00b"),
        ("application/x-www-form-urlencoded", b"grant_type=pass%20word"),
        ("application/x-www-form-urlencoded", b"grant_type=password&scope=%22quoted%22"),
        ("application/x-www-form-urlencoded", b"grant_type=password&client_id=%C3%A9"),
        ("application/x-www-form-urlencoded", b"grant_type=password&username=" + b"u" * 5000),
        ("application/x-www-form-urlencoded", b"&".join(b"p%d=1" % i for i in range(40))),
        ("application/x-www-form-urlencoded", b""),
        ("application/x-www-form-urlencoded", b"username=alice"),
    ],
)
async def test_malformed_token_requests_are_400(
    client: httpx.AsyncClient, content_type: str | None, body: bytes
) -> None:
    headers = {"Content-Type": content_type} if content_type is not None else {}
    response = await client.post("/oauth/token", content=body, headers=headers)
    assert_oauth_error(response, 400, "invalid_request")


async def test_unknown_grant_type(client: httpx.AsyncClient, web_app: CreatedApp) -> None:
    response = await client.post(
        "/oauth/token", data={"grant_type": "implicit", "client_id": web_app.app.client_id}
    )
    assert_oauth_error(response, 400, "unsupported_grant_type")


async def test_a_grant_the_app_was_not_given_is_unauthorized_client(
    client: httpx.AsyncClient, web_app: CreatedApp
) -> None:
    """RFC 6749 §5.2: web_app has the password and refresh grants only."""
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "client_id": web_app.app.client_id,
              "code": "jkac_x", "code_verifier": "v" * 43},
    )  # fmt: skip
    assert_oauth_error(response, 400, "unauthorized_client")


async def test_repeated_parameter_is_refused_even_with_equal_values(
    client: httpx.AsyncClient, web_app: CreatedApp
) -> None:
    body = "&".join(f"{k}={v}" for k, v in token_form(web_app.app.client_id).items())
    response = await client.post(
        "/oauth/token",
        content=body + f"&username={USERNAME}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_oauth_error(response, 400, "invalid_request")


async def test_empty_value_counts_as_omitted(
    client: httpx.AsyncClient, web_app: CreatedApp
) -> None:
    response = await client.post(
        "/oauth/token", data=token_form(web_app.app.client_id, password="")
    )
    assert_oauth_error(response, 400, "invalid_request")
    assert "password" in response.json()["error_description"]


@pytest.mark.parametrize(
    "authorization",
    [
        "Basic !!!not-base64!!!",
        "Basic " + "bm9jb2xvbg==",  # "nocolon"
        "Basic " + "/w==",  # not UTF-8
        "Basic",
        "Bearer abc",
        "Digest username=x",
        "Basic " + "YSViYjpj",  # "a%bb:c": bad escape
    ],
)
async def test_malformed_client_authentication_is_401(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": authorization},
    )
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic ")


async def test_two_client_authentication_methods_are_refused(
    client: httpx.AsyncClient, service_app: CreatedApp
) -> None:
    assert service_app.client_secret is not None
    from tests.server.conftest import basic  # noqa: PLC0415

    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_secret": service_app.client_secret},
        headers=basic(service_app.app.client_id, service_app.client_secret),
    )
    assert_oauth_error(response, 400, "invalid_request")
    assert service_app.client_secret not in response.text


async def test_two_authorization_headers_on_token_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=[("Authorization", "Basic YTpi"), ("Authorization", "Basic YTpi")],
    )
    assert_oauth_error(response, 400, "invalid_request")


async def test_oversized_body_with_content_length_is_413(client: httpx.AsyncClient) -> None:
    body = b"grant_type=password&username=" + b"a" * 20_000
    response = await client.post(
        "/oauth/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert_oauth_error(response, 413, "invalid_request")


@pytest.mark.parametrize(
    ("path", "content_type", "media_type"),
    [
        ("/oauth/token", "application/x-www-form-urlencoded", "application/json"),
        ("/auth/password", "application/json", "application/problem+json"),
        ("/auth/logout", "application/x-www-form-urlencoded", "application/problem+json"),
    ],
)
async def test_oversized_streamed_body_is_413(
    client: httpx.AsyncClient, login: Login, path: str, content_type: str, media_type: str
) -> None:
    """No Content-Length: the cap is enforced while the body streams in."""
    token = (await login(scope=ACCOUNT_SCOPE))["access_token"]

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"a" * 1024

    response = await client.post(
        path, content=chunks(), headers={"Content-Type": content_type, **bearer(token)}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.headers["content-type"] == media_type
    assert (await client.get("/userinfo", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("value", "status"),
    [("abc", 400), ("-1", 400), ("1, 2", 400), ("١٢", 400), ("99999999999999999999999999", 413)],
)
async def test_garbage_content_length(app: FastAPI, value: str, status: int) -> None:
    response = await _raw_request(
        app, "POST", "/oauth/token", [(b"content-length", value.encode())], b""
    )
    assert response[0] == status


async def _raw_request(
    app: FastAPI,
    method: str,
    path: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    query: bytes = b"",
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Drive the ASGI app with raw header bytes (httpx would refuse some of them)."""
    sent: list[MutableMapping[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), content


@pytest.mark.parametrize(
    "headers",
    [
        [(b"host", b"[::1")],
        [(b"host", b"\xff\xfe")],
        [(b"host", b"")],
        [(b"authorization", b"Bearer \xff\xfe")],
        [(b"authorization", b"\xff")],
        [(b"user-agent", b"\x00\xff" * 100)],
        [(b"x-forwarded-for", b"\xff, ::1, not-an-ip")],
        [(b"content-type", b"\xff/\xfe")],
        [(b"if-none-match", b"\xff")],
    ],
)
@pytest.mark.parametrize(
    "path",
    ["/userinfo", "/healthz", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json"],
)
async def test_garbage_headers_never_500(
    app: FastAPI, headers: list[tuple[bytes, bytes]], path: str
) -> None:
    status, _, content = await _raw_request(app, "GET", path, headers, b"")
    assert status < 500
    assert b"Traceback" not in content


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Bearer a b", "Bearer a,b", 'Bearer "quoted"', "Bearer ä"],
)
async def test_malformed_bearer_credentials_are_400_with_challenge(
    client: httpx.AsyncClient, authorization: str
) -> None:
    response = await client.get("/userinfo", headers=[(b"Authorization", authorization.encode())])
    body = assert_problem(response, 400)
    assert body["error"] == "invalid_request"
    assert 'error="invalid_request"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("authorization", [None, "Basic YTpi", "Token abc"])
async def test_missing_bearer_gets_a_bare_challenge(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.get("/userinfo", headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer realm="jwtkeep"'


@pytest.mark.parametrize(
    "token",
    [
        "a" * 5000,
        "not.a.jwt",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
        "a.b.c.d.e",
        # a header nested past the JSON parser's depth (RFC 8259 §9 lets a parser limit it)
        base64.urlsafe_b64encode(b"[" * 2000).rstrip(b"=").decode() + ".e30.c2ln",
    ],
)
async def test_refused_bearer_tokens_are_401_invalid_token(
    client: httpx.AsyncClient, token: str
) -> None:
    response = await client.get("/userinfo", headers=bearer(token))
    body = assert_problem(response, 401)
    assert body["error"] == "invalid_token"
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert token not in response.text


async def test_bearer_scheme_is_case_insensitive(client: httpx.AsyncClient, login: Login) -> None:
    tokens = await login(scope=ACCOUNT_SCOPE)
    response = await client.get(
        "/userinfo", headers={"Authorization": f"bEaReR {tokens['access_token']}"}
    )
    assert response.status_code == 200


async def test_two_authorization_headers_on_a_bearer_route(
    client: httpx.AsyncClient, login: Login
) -> None:
    token = (await login(scope=ACCOUNT_SCOPE))["access_token"]
    response = await client.get("/userinfo", headers=[("Authorization", f"Bearer {token}")] * 2)
    assert_problem(response, 400)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/userinfo"),
        ("GET", "/auth/sessions"),
        ("POST", "/auth/logout"),
        ("GET", "/healthz"),
        ("GET", "/.well-known/jwks.json"),
    ],
)
@pytest.mark.parametrize("name", ["access_token", "refresh_token", "password", "client_secret"])
async def test_credentials_in_the_query_are_refused(
    client: httpx.AsyncClient, login: Login, method: str, path: str, name: str
) -> None:
    token = (await login(scope=ACCOUNT_SCOPE))["access_token"]
    response = await client.request(method, path, params={name: token}, headers=bearer(token))
    body = assert_problem(response, 400)
    assert body["error"] == "invalid_request"
    assert token not in response.text


@pytest.mark.parametrize("name", ["access_token", "password", "token"])
async def test_credentials_in_the_query_of_oauth_routes_are_refused(
    client: httpx.AsyncClient, web_app: CreatedApp, name: str
) -> None:
    response = await client.post(
        "/oauth/token", params={name: "x"}, data=token_form(web_app.app.client_id)
    )
    assert_oauth_error(response, 400, "invalid_request")


async def test_access_token_in_a_form_body_is_refused(
    client: httpx.AsyncClient, login: Login
) -> None:
    token = (await login(scope=ACCOUNT_SCOPE))["access_token"]
    response = await client.post("/auth/logout", data={"access_token": token})
    body = assert_problem(response, 400)
    assert body["error"] == "invalid_request"
    # and the session was not ended
    assert (await client.get("/userinfo", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b"{not json"),
        ("application/json", b'{"current_password": "\xff\xfe"}'),
        ("application/json", b'{"current_password": 1, "new_password": 2}'),
        ("application/json", b"[]"),
        ("application/json", b""),
        # RFC 8259 §9: a parser may limit nesting; Python's raises RecursionError past it
        ("application/json", b'{"current_password": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        ("text/plain", b'{"current_password": "a", "new_password": "bbbbbbbbbb"}'),
        (None, b'{"current_password": "a", "new_password": "bbbbbbbbbb"}'),
        ("application/json", b'{"current_password": "' + SECRET_MARKER.encode() + b'"}'),
    ],
)
async def test_malformed_json_is_400_and_never_echoed(
    client: httpx.AsyncClient, login: Login, content_type: str | None, body: bytes
) -> None:
    token = (await login(scope=ACCOUNT_SCOPE))["access_token"]
    headers = bearer(token) | ({"Content-Type": content_type} if content_type else {})
    response = await client.post("/auth/password", content=body, headers=headers)
    assert_problem(response, 400)
    assert SECRET_MARKER not in response.text


async def test_unknown_route_and_wrong_method(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nope"), 404)
    wrong = await client.get("/oauth/token")
    assert_oauth_error(wrong, 405, "invalid_request")
    assert "POST" in wrong.headers["allow"]
    assert_problem(await client.put("/userinfo"), 405)
    # no slash redirects (they would be built from the untrusted Host header)
    assert (await client.get("/userinfo/")).status_code == 404


async def test_unexpected_errors_are_a_generic_500(app: FastAPI) -> None:
    async def boom() -> None:
        raise RuntimeError(f"database said: {SECRET_MARKER}")

    app.add_api_route("/boom", boom)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as http:
        response = await http.get("/boom")
    body = assert_problem(response, 500)
    assert body == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "Internal Server Error",
    }
    assert SECRET_MARKER not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
