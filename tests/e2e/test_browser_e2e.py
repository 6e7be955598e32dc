"""Browser sign-in end to end: a real headless Chromium (Debian's `chromium`, driven by
Playwright with `executable_path`) against a real `jwtkeep serve` over TLS, on PostgreSQL
(users, apps, authorization codes, login sessions) and Redis (the token store).

- The browser runs with `ignore_https_errors=True`: the server's certificate is the local
  one `jwtkeep init` made, which Chromium has no way to trust without an NSS database.
  Everything the test code itself sends (token exchange, the SDK, Authlib) verifies that
  certificate properly (`Server.cert`).
- The redirect URIs are loopback (`http://127.0.0.1/...`, any port, RFC 8252 §7.3),
  served by a tiny HTTP listener in the test that records every request (the code, the
  state, the `iss`) and serves the few attacker pages (framing, cross-site form post,
  cross-origin fetch).
- Deterministic: no sleeps, no timing. The browser waits for navigations and the listener
  for requests; every step asserts the page or the request it expects.
- Without Chromium or Playwright the tests are skipped loudly; with CI=true they fail.

Set JWTKEEP_DOCS_SCREENSHOT=docs/img/login.png to refresh the README's screenshot.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import shutil
import ssl
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwtkeep.sdk import JwksKeySource, JwtkeepMiddleware, Verifier
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisProcess
from tests.support.serve_process import (
    PASSWORD,
    Server,
    clean_environment,
    cli_ok,
    create_app,
    create_user,
    issuer_of,
    serving,
)
from tests.support.services import service_missing

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.postgres]

REDIS_DB = 8
SHOP_AUDIENCE = "https://api.shop.e2e"
USERNAME = "bea"


# -- the loopback listener -----------------------------------------------------------------


@dataclass
class Listener:
    """The client's side of the redirect: records what the browser brings back."""

    port: int
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    pages: dict[str, str] = field(default_factory=dict)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def last(self, path: str) -> dict[str, str]:
        found = [params for got, params in self.requests if got == path]
        assert found, f"nothing came back to {path}: {self.requests}"
        return found[-1]


def _handler(listener: Listener) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            with listener.arrived:
                listener.requests.append((parts.path, params))
                listener.arrived.notify_all()
            body = listener.pages.get(parts.path, "<!doctype html><title>ok</title>ok").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Listener(0)))
    found = Listener(server.server_address[1])
    server.RequestHandlerClass = _handler(found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


# -- the deployment ------------------------------------------------------------------------


@dataclass
class BrowserDeployment:
    server: Server
    issuer: str
    redis_url: str
    shop: str  # client ids
    portal: str
    user_id: str

    def http(self) -> httpx.AsyncClient:
        context = ssl.create_default_context(cafile=str(self.server.cert))
        return httpx.AsyncClient(base_url=self.server.url, verify=context, timeout=10)


@pytest.fixture(scope="module")
def browser_deployment(
    tmp_path_factory: pytest.TempPathFactory,
    postgres_server: PostgresServer,
    redis_server: RedisProcess,
) -> Iterator[BrowserDeployment]:
    redis_url = redis_server.empty_database(REDIS_DB)
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    env = clean_environment(data_dir)
    with postgres_server.borrow_database() as database_url:
        env.update(JWTKEEP_DATABASE_URL=database_url, JWTKEEP_TOKEN_STORE_URL=redis_url)
        cli_ok(env, "init")
        shop = create_app(env, "shop", SHOP_AUDIENCE, "--scope", "read",
                          "--redirect-uri", "http://127.0.0.1/callback")["client_id"]  # fmt: skip
        portal = create_app(env, "portal", "https://api.portal.e2e", "--first-party",
                            "--redirect-uri", "http://127.0.0.1/portal")["client_id"]  # fmt: skip
        user = create_user(env, USERNAME, PASSWORD + "\n")
        with serving(data_dir, env) as server:
            issuer = issuer_of(server, "openid-configuration")
            yield BrowserDeployment(server, issuer, redis_url, shop, portal, user)


# -- the browser ---------------------------------------------------------------------------


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        service_missing("chromium (apt-get install chromium)")
    return found


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    executable = chromium_path()
    try:
        from playwright.async_api import async_playwright  # noqa: PLC0415
    except ImportError:
        service_missing("playwright (pip install playwright; never `playwright install`)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Any) -> AsyncIterator[Any]:
    context = await browser.new_context(ignore_https_errors=True, locale="en-US")
    try:
        yield await context.new_page()
    finally:
        await context.close()


@dataclass
class Pkce:
    verifier: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    state: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(
    dep: BrowserDeployment,
    client_id: str,
    redirect_uri: str,
    pkce: Pkce,
    scope: str = "openid read",
) -> str:
    return f"{dep.server.url}/oauth/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": scope,
            "state": pkce.state,
            "nonce": pkce.nonce,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
    )


async def exchange(
    dep: BrowserDeployment, client_id: str, redirect_uri: str, code: str, pkce: Pkce
) -> dict[str, Any]:
    async with dep.http() as http:
        response = await http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": pkce.verifier,
            },
        )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


async def sign_in_on_the_page(page: Any, screenshot: Path | None = None) -> None:
    assert await page.locator("html").get_attribute("lang") == "en"
    await page.get_by_label("Username").fill(USERNAME)
    await page.get_by_label("Password").fill(PASSWORD)
    if screenshot is not None:
        await page.screenshot(path=str(screenshot))
    await page.get_by_role("button", name="Sign in").click()


@dataclass
class Api:
    """An API of the shop's behind the SDK: JWKS from the server, allowlist in Redis."""

    http: httpx.AsyncClient

    async def status(self, token: str) -> int:
        response = await self.http.get("/orders", headers={"Authorization": f"Bearer {token}"})
        return response.status_code


@pytest.fixture
async def api(browser_deployment: BrowserDeployment) -> AsyncIterator[Api]:
    deployment = browser_deployment
    context = ssl.create_default_context(cafile=str(deployment.server.cert))
    async with httpx.AsyncClient(verify=context) as jwks_http:
        keys = JwksKeySource(
            jwks_url=f"{deployment.server.url}/.well-known/jwks.json", http_client=jwks_http
        )
        verifier = Verifier.with_redis(
            issuer=deployment.issuer,
            audience=SHOP_AUDIENCE,
            redis_url=deployment.redis_url,
            keys=keys,
        )

        async def orders(request: Request) -> JSONResponse:
            return JSONResponse({"orders": []})

        app = Starlette(routes=[Route("/orders", orders)])
        wrapped = JwtkeepMiddleware(app, verifier=verifier, routes=["GET /orders=read"])
        transport = httpx.ASGITransport(app=wrapped)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
                yield Api(http)
        finally:
            await verifier.aclose()


# -- the tests -----------------------------------------------------------------------------


async def test_sign_in_sso_and_rp_initiated_logout_in_a_real_browser(
    browser_deployment: BrowserDeployment,
    listener: Listener,
    page: Any,
    api: Api,
    tmp_path: Path,
) -> None:
    deployment = browser_deployment
    shop_uri, portal_uri = f"{listener.origin}/callback", f"{listener.origin}/portal"
    pkce = Pkce()
    await page.goto(authorize_url(deployment, deployment.shop, shop_uri, pkce))
    screenshot = Path(os.environ.get("JWTKEEP_DOCS_SCREENSHOT") or tmp_path / "login.png")
    await sign_in_on_the_page(page, screenshot)
    assert screenshot.stat().st_size > 0
    await page.get_by_role("button", name="Allow").click()  # shop is not first party
    await page.wait_for_url(f"{shop_uri}?*")
    answer = listener.last("/callback")
    assert answer["state"] == pkce.state
    assert answer["iss"] == deployment.issuer
    shop_tokens = await exchange(deployment, deployment.shop, shop_uri, answer["code"], pkce)
    assert await api.status(shop_tokens["access_token"]) == 200

    portal_pkce = Pkce()  # a second app: no password, no consent (first party)
    await page.goto(
        authorize_url(deployment, deployment.portal, portal_uri, portal_pkce, scope="openid")
    )
    await page.wait_for_url(f"{portal_uri}?*")
    portal_code = listener.last("/portal")["code"]
    portal_tokens = await exchange(
        deployment, deployment.portal, portal_uri, portal_code, portal_pkce
    )

    await page.goto(
        f"{deployment.server.url}/logout?"
        + urlencode(
            {
                "id_token_hint": shop_tokens["id_token"],
                "post_logout_redirect_uri": shop_uri,
                "state": "bye",
            }
        )
    )
    await page.wait_for_url(f"{shop_uri}?state=bye")
    assert await api.status(shop_tokens["access_token"]) == 401
    async with deployment.http() as http:
        for tokens, client_id in (
            (shop_tokens, deployment.shop),
            (portal_tokens, deployment.portal),
        ):
            refresh = await http.post(
                "/oauth/token",
                data={
                    "grant_type": "refresh_token",
                    "client_id": client_id,
                    "refresh_token": tokens["refresh_token"],
                },
            )
            assert refresh.json()["error"] == "invalid_grant"
            info = await http.get(
                "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
            )
            assert info.status_code == 401
    await page.goto(authorize_url(deployment, deployment.portal, portal_uri, Pkce(), "openid"))
    assert await page.get_by_label("Password").count() == 1  # signed out at the issuer too


async def test_authlib_as_the_client_with_its_own_id_token_validation(
    browser_deployment: BrowserDeployment, listener: Listener, page: Any
) -> None:
    """A third-party OIDC client instead of test code: Authlib makes the PKCE pair, the
    URL and the exchange, and validates the ID token (signature from the JWKS, iss, aud,
    nonce, at_hash) with its own `CodeIDToken` rules."""
    deployment = browser_deployment
    from authlib.integrations.httpx_client import AsyncOAuth2Client  # noqa: PLC0415
    from authlib.jose import JsonWebKey, JsonWebToken  # noqa: PLC0415
    from authlib.oidc.core import CodeIDToken  # noqa: PLC0415

    context = ssl.create_default_context(cafile=str(deployment.server.cert))
    redirect_uri = f"{listener.origin}/callback"
    async with httpx.AsyncClient(verify=context) as plain:
        discovery = (
            await plain.get(f"{deployment.server.url}/.well-known/openid-configuration")
        ).json()
        jwks = (
            await plain.get(discovery["jwks_uri"].replace(deployment.issuer, deployment.server.url))
        ).json()
    endpoint = discovery["authorization_endpoint"].replace(deployment.issuer, deployment.server.url)
    nonce, verifier = secrets.token_urlsafe(16), secrets.token_urlsafe(48)
    async with AsyncOAuth2Client(
        client_id=deployment.shop,
        redirect_uri=redirect_uri,
        scope="openid read",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
        verify=context,
    ) as client:
        url, state = client.create_authorization_url(endpoint, code_verifier=verifier, nonce=nonce)
        await page.goto(url)
        async with page.expect_navigation():
            await sign_in_on_the_page(page)
        if not page.url.startswith(redirect_uri):
            async with page.expect_navigation(url=f"{redirect_uri}?*"):
                await page.get_by_role("button", name="Allow").click()
        callback = page.url
        assert parse_qs(urlsplit(callback).query)["state"] == [state]
        token = await client.fetch_token(
            f"{deployment.server.url}/oauth/token",
            authorization_response=callback,
            code_verifier=verifier,
        )
    claims = JsonWebToken(["EdDSA"]).decode(
        token["id_token"],
        JsonWebKey.import_key_set(jwks),
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": deployment.issuer}},
        claims_params={
            "nonce": nonce,
            "client_id": deployment.shop,
            "access_token": token["access_token"],
        },
    )
    claims.validate()
    assert claims["sub"] == deployment.user_id
    assert claims["aud"] == deployment.shop
    # Another token: its first character changed (an Ed25519 signature often ends "AA").
    other_first = "B" if token["access_token"][0] == "A" else "A"
    forged = dict(token, access_token=other_first + token["access_token"][1:])
    wrong = JsonWebToken(["EdDSA"]).decode(
        token["id_token"],
        JsonWebKey.import_key_set(jwks),
        claims_cls=CodeIDToken,
        claims_params={
            "nonce": nonce,
            "client_id": deployment.shop,
            "access_token": forged["access_token"],
        },
    )
    with pytest.raises(Exception, match="at_hash"):  # Authlib's own InvalidClaimError
        wrong.validate()


async def test_the_login_page_refuses_to_be_framed_in_a_real_browser(
    browser_deployment: BrowserDeployment, listener: Listener, page: Any
) -> None:
    deployment = browser_deployment
    target = authorize_url(deployment, deployment.shop, f"{listener.origin}/callback", Pkce())
    listener.pages["/frame"] = f'<!doctype html><title>x</title><iframe src="{target}"></iframe>'
    await page.goto(f"{listener.origin}/frame")
    frame = page.frames[1]
    await frame.wait_for_load_state()
    assert await frame.locator("input[name=password]").count() == 0  # blocked: never rendered


async def test_a_cross_site_form_post_without_the_csrf_token_is_refused(
    browser_deployment: BrowserDeployment, listener: Listener, page: Any
) -> None:
    deployment = browser_deployment
    await page.goto(
        authorize_url(deployment, deployment.shop, f"{listener.origin}/callback", Pkce())
    )
    listener.pages["/attack"] = (
        f'<!doctype html><title>win a prize</title><form method="post" '
        f'action="{deployment.server.url}/login"><input name="username" value="{USERNAME}">'
        f'<input name="password" value="{PASSWORD}"><button>go</button></form>'
    )
    await page.goto(f"{listener.origin}/attack")
    async with page.expect_navigation():
        await page.get_by_role("button", name="go").click()
    assert "This form has expired" in await page.content()
    cookies = {c["name"] for c in await page.context.cookies(deployment.server.url)}
    assert "__Host-jwtkeep-session" not in cookies


async def test_cors_from_an_unregistered_origin_is_refused_by_the_browser(
    browser_deployment: BrowserDeployment, listener: Listener, page: Any
) -> None:
    deployment = browser_deployment
    fetch = (
        "async url => { try { const r = await fetch(url); return r.status; } "
        "catch (e) { return 'blocked'; } }"
    )
    jwks = f"{deployment.server.url}/.well-known/jwks.json"
    await page.goto(f"{listener.origin}/blank")  # a registered origin (a redirect URI's)
    assert await page.evaluate(fetch, jwks) == 200
    await page.goto(f"http://localhost:{listener.port}/blank")  # not registered
    assert await page.evaluate(fetch, jwks) == "blocked"
